// discover candidates: the NetworkService and the endpoints its matches select, with label
// templates and the fixes of nsmgr.md §13 (nsmgr.md §6.2-6.3, api.md §8.1).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/context.h"
#include "core/typed_key.h"
#include "google/protobuf/map.h"
#include "registry.pb.h"

namespace nsm::discover {

using Labels = google::protobuf::Map<std::string, std::string>;

// What discover found, for roundrobin (or any other selector) later in the chain.
struct Candidates {
  ::registry::NetworkService network_service;
  // Registration order; an endpoint appears once per route it satisfies.
  std::vector<::registry::NetworkServiceEndpoint> endpoints;
};

inline const TypedKey<Candidates> kCandidatesKey{"discover.candidates"};

// The candidates of the current Request; null when discover did not run or a URL was pinned.
inline std::shared_ptr<Candidates> CandidatesFromContext(const Context& ctx) {
  return ctx.Value(kCandidatesKey);
}

// The outcome of matching, with a sentence saying why nothing was selected.
struct MatchResult {
  std::vector<::registry::NetworkServiceEndpoint> endpoints;
  std::string why_none;  // empty when endpoints is not empty
};

// True when the endpoint has no expiration_time or it is after `now`.
bool Alive(const ::registry::NetworkServiceEndpoint& nse, absl::Time now);

// Selects the endpoints for a connection with `labels` among `nses` (registration order):
// 1. expired endpoints are dropped;
// 2. an NS without matches selects every live endpoint;
// 3. otherwise the first match whose source_selector is a subset of the labels applies: its
//    candidates are, route by route, every live endpoint whose labels for this service contain the
//    route's destination_selector (values may be "{{.key}}" templates of the connection labels);
//    a `fallthrough` match with no candidate passes on to the next match; a match with metadata
//    and no routes selects every live endpoint (v1.2.0 #1194);
// 4. when the NS has matches but none applies, nothing is selected (v1.11.0 #1516).
// The selected endpoints come out of `nses` (moved where each can be chosen once, else copied).
MatchResult MatchEndpoints(const Labels& labels, const ::registry::NetworkService& ns,
                           std::vector<::registry::NetworkServiceEndpoint> nses, absl::Time now);

}  // namespace nsm::discover

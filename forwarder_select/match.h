// forwarder_select matching: which registered forwarders a connection may use, chosen by the
// metadata labels of the NetworkService's matches (nsmgr.md §5 step 3, §6.3).
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/map.h"
#include "registry.pb.h"

namespace nsm::forwarder_select {

using Labels = google::protobuf::Map<std::string, std::string>;

// The labels a match wants from forwarders when its metadata has none.
inline constexpr char kDefaultLabelKey[] = "p2p";
inline constexpr char kDefaultLabelValue[] = "true";

struct MatchResult {
  // Qualifying forwarders in the order given (registration order).
  std::vector<::registry::NetworkServiceEndpoint> forwarders;
  // When none qualifies: the labels that were wanted and every forwarder with its labels.
  std::string why_none;
};

// Selects among `forwarders` (endpoints of `forwarder_service`) for a connection with `labels`:
// 1. expired forwarders are dropped;
// 2. an NS without matches accepts every live forwarder;
// 3. otherwise, for each match in order whose source_selector is a subset of the connection
//    labels: want = match.metadata.labels, or {p2p: true} when absent or empty; every live
//    forwarder whose labels for `forwarder_service` exist and contain `want` ("{{.key}}" values
//    render with the connection labels) is appended; a `fallthrough` match that collected nothing
//    passes on to the next match, any other applicable match ends the search;
// 4. no applicable match: none.
// The qualifying forwarders move out of `forwarders` into the result.
MatchResult MatchForwarders(const Labels& labels, const ::registry::NetworkService& ns,
                            std::vector<::registry::NetworkServiceEndpoint> forwarders,
                            const std::string& forwarder_service, absl::Time now);

// "{k1=v1, k2=v2}", keys sorted.
std::string DescribeLabels(const Labels& labels);

}  // namespace nsm::forwarder_select

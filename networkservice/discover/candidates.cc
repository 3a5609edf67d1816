#include "networkservice/discover/candidates.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/labels.h"
#include "api/path.h"

namespace nsm::discover {
namespace {

const Labels& EmptyLabels() {
  static const Labels* empty = new Labels();
  return *empty;
}

const Labels& LabelsFor(const ::registry::NetworkServiceEndpoint& nse, const std::string& service) {
  auto it = nse.network_service_labels().find(service);
  return it == nse.network_service_labels().end() ? EmptyLabels() : it->second.labels();
}

std::string Describe(const Labels& labels) {
  std::vector<std::string> sorted;
  for (const auto& [k, v] : labels) sorted.push_back(absl::StrCat(k, "=", v));
  std::sort(sorted.begin(), sorted.end());
  return absl::StrCat("{", absl::StrJoin(sorted, ", "), "}");
}

}  // namespace

bool Alive(const ::registry::NetworkServiceEndpoint& nse, absl::Time now) {
  return !nse.has_expiration_time() || api::FromProtoTimestamp(nse.expiration_time()) > now;
}

MatchResult MatchEndpoints(const Labels& labels, const ::registry::NetworkService& ns,
                           std::vector<::registry::NetworkServiceEndpoint> nses, absl::Time now) {
  MatchResult out;
  std::vector<::registry::NetworkServiceEndpoint*> valid;
  for (auto& nse : nses) {
    if (Alive(nse, now)) valid.push_back(&nse);
  }
  // Every live endpoint, moved out: the caller returns right after.
  auto all_valid = [&] {
    for (auto* nse : valid) out.endpoints.push_back(std::move(*nse));
  };
  // Only when nothing is selected (nses is still whole then).
  auto census = [&] {
    return absl::StrCat(nses.size(), " endpoint(s) registered, ", nses.size() - valid.size(),
                        " expired");
  };

  if (ns.matches().empty()) {
    all_valid();
    if (out.endpoints.empty()) out.why_none = census();
    return out;
  }
  for (int m = 0; m < ns.matches_size(); ++m) {
    const auto& match = ns.matches(m);
    if (!api::IsSubset(labels, match.source_selector(), labels)) continue;
    for (const auto& route : match.routes()) {
      for (const auto* nse : valid) {
        if (api::IsSubset(LabelsFor(*nse, ns.name()), route.destination_selector(), labels)) {
          out.endpoints.push_back(*nse);
        }
      }
    }
    if (!out.endpoints.empty()) return out;
    if (match.fallthrough()) continue;
    if (match.has_metadata() && match.routes().empty()) {
      all_valid();
      if (out.endpoints.empty()) out.why_none = census();
      return out;
    }
    out.why_none = absl::StrCat("match #", m + 1, " applies to labels ", Describe(labels),
                                " but none of its routes selects an endpoint (", census(), ")");
    return out;
  }
  out.why_none = absl::StrCat("no match applies to labels ", Describe(labels), " (", census(), ")");
  return out;
}

}  // namespace nsm::discover

#include "forwarder_select/match.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/labels.h"
#include "networkservice/discover/candidates.h"

namespace nsm::forwarder_select {
namespace {

std::string DescribeForwarders(const std::vector<::registry::NetworkServiceEndpoint>& forwarders,
                               const std::string& service, absl::Time now) {
  if (forwarders.empty()) return "no forwarder is registered";
  std::vector<std::string> parts;
  for (const auto& f : forwarders) {
    auto it = f.network_service_labels().find(service);
    std::string part = absl::StrCat(f.name(), " ",
                                    it == f.network_service_labels().end()
                                        ? absl::StrCat("(no labels for service ", service, ")")
                                        : DescribeLabels(it->second.labels()));
    if (!discover::Alive(f, now)) absl::StrAppend(&part, " (expired)");
    parts.push_back(std::move(part));
  }
  return absl::StrCat("forwarders: ", absl::StrJoin(parts, ", "));
}

}  // namespace

std::string DescribeLabels(const Labels& labels) {
  std::vector<std::string> sorted;
  for (const auto& [k, v] : labels) sorted.push_back(absl::StrCat(k, "=", v));
  std::sort(sorted.begin(), sorted.end());
  return absl::StrCat("{", absl::StrJoin(sorted, ", "), "}");
}

MatchResult MatchForwarders(const Labels& labels, const ::registry::NetworkService& ns,
                            std::vector<::registry::NetworkServiceEndpoint> forwarders,
                            const std::string& forwarder_service, absl::Time now) {
  MatchResult out;
  std::vector<::registry::NetworkServiceEndpoint*> alive;
  for (auto& f : forwarders) {
    if (discover::Alive(f, now)) alive.push_back(&f);
  }
  // Only read when nothing qualifies, so before any forwarder moved out.
  auto describe = [&] { return DescribeForwarders(forwarders, forwarder_service, now); };

  if (ns.matches().empty()) {
    for (auto* f : alive) out.forwarders.push_back(std::move(*f));
    if (out.forwarders.empty()) out.why_none = describe();
    return out;
  }
  static const Labels* const default_want = [] {
    auto* want = new Labels;
    (*want)[kDefaultLabelKey] = kDefaultLabelValue;
    return want;
  }();
  // The matches that applied and what each wanted, described only if none qualifies.
  std::vector<std::pair<int, const Labels*>> wanted;
  for (int m = 0; m < ns.matches_size(); ++m) {
    const auto& match = ns.matches(m);
    if (!api::IsSubset(labels, match.source_selector(), labels)) continue;
    const Labels& want =
        match.metadata().labels().empty() ? *default_want : match.metadata().labels();
    for (auto* f : alive) {
      auto it = f->network_service_labels().find(forwarder_service);
      if (it == f->network_service_labels().end()) continue;
      // Each forwarder moves out at most once: a match that collected any ends the search.
      if (api::IsSubset(it->second.labels(), want, labels)) out.forwarders.push_back(std::move(*f));
    }
    wanted.emplace_back(m, &want);
    if (match.fallthrough() && out.forwarders.empty()) continue;
    break;
  }
  if (!out.forwarders.empty()) return out;
  std::vector<std::string> described;
  for (const auto& [m, want] : wanted) {
    described.push_back(absl::StrCat("match #", m + 1, " wants labels ", DescribeLabels(*want)));
  }
  out.why_none = described.empty()
                     ? absl::StrCat("no match applies to connection labels ",
                                    DescribeLabels(labels), "; ", describe())
                     : absl::StrCat(absl::StrJoin(described, ", then "), "; ", describe());
  return out;
}

}  // namespace nsm::forwarder_select

#include "registry/matchutils/match.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "google/protobuf/util/message_differencer.h"

namespace nsm::reg::match {
namespace {

bool NameMatches(const std::string& q, const std::string& s, const Options& options) {
  if (q.empty()) return true;
  return options.substring_names ? absl::StrContains(s, q) : q == s;
}

}  // namespace

bool Matches(const ::registry::NetworkService& q, const ::registry::NetworkService& s,
             const Options& options) {
  if (!NameMatches(q.name(), s.name(), options)) return false;
  if (!q.payload().empty() && q.payload() != s.payload()) return false;
  if (q.matches_size() > 0) {
    if (q.matches_size() != s.matches_size()) return false;
    for (int i = 0; i < q.matches_size(); ++i) {
      if (!google::protobuf::util::MessageDifferencer::Equals(q.matches(i), s.matches(i))) {
        return false;
      }
    }
  }
  return true;
}

bool Matches(const ::registry::NetworkServiceEndpoint& q,
             const ::registry::NetworkServiceEndpoint& s, const Options& options) {
  if (!NameMatches(q.name(), s.name(), options)) return false;
  for (const auto& [service, labels] : q.network_service_labels()) {
    auto it = s.network_service_labels().find(service);
    if (it == s.network_service_labels().end()) return false;
    for (const auto& [key, value] : labels.labels()) {
      auto l = it->second.labels().find(key);
      if (l == it->second.labels().end() || l->second != value) return false;
    }
  }
  if (q.has_expiration_time() && q.expiration_time().seconds() != s.expiration_time().seconds()) {
    return false;
  }
  for (const auto& name : q.network_service_names()) {
    if (std::find(s.network_service_names().begin(), s.network_service_names().end(), name) ==
        s.network_service_names().end()) {
      return false;
    }
  }
  if (!q.url().empty() && !absl::StrContains(s.url(), q.url())) return false;
  return true;
}

}  // namespace nsm::reg::match

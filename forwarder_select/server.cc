#include "forwarder_select/server.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/nsm_url.h"
#include "api/path.h"
#include "core/typed_key.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/discover/candidates.h"
#include "networkservice/discover/server.h"

namespace nsm::forwarder_select {
namespace {

using ::registry::NetworkServiceEndpoint;

// The connection's selection. An empty `forwarder` means one was selected and then dropped; the
// path is then not trusted to name a good forwarder.
struct Selection {
  std::string forwarder;
  std::unique_ptr<Lease> lease;
};

const TypedKey<Selection> kSelectionKey{"forwarder_select.selection"};

}  // namespace

std::string SelectedForwarder(const metadata::MetaData& md) {
  auto selection = md.server.Load(kSelectionKey);
  return selection ? selection->forwarder : "";
}

Server::Server(std::shared_ptr<NSRegistryClient> ns_registry,
               std::shared_ptr<NSERegistryClient> forwarder_registry, Options options)
    : ns_registry_(std::move(ns_registry)),
      forwarder_registry_(std::move(forwarder_registry)),
      options_(std::move(options)) {
  if (!options_.policy) options_.policy = NewRegistrationOrder();
}

absl::StatusOr<std::optional<NetworkServiceEndpoint>> Server::FindForwarder(
    const Context& ctx, const std::string& name) {
  ::registry::NetworkServiceEndpointQuery query;
  query.mutable_network_service_endpoint()->set_name(name);
  query.mutable_network_service_endpoint()->add_network_service_names(
      options_.forwarder_service_name);
  auto found = discover::FindAll<NSETraits>(*forwarder_registry_, ctx, query);
  if (!found.ok()) {
    return Annotated(found.status(), absl::StrCat("forwarder_select: find forwarder ", name));
  }
  for (auto& nse : *found) {
    if (nse.name() == name) return std::move(nse);
  }
  return std::nullopt;
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  if (request.connection().network_service().empty()) {
    return absl::InvalidArgumentError("forwarder_select: connection.network_service is empty");
  }
  auto md = metadata::FromContext(ctx);
  if (!md) {
    return absl::FailedPreconditionError(
        "forwarder_select: no connection metadata in the context (metadata must run before "
        "forwarder_select)");
  }
  auto selection = md->server.Load(kSelectionKey);
  if (!selection || selection->forwarder.empty()) {
    return Select(ctx, request, next, *md, /*prefer_path=*/!selection);
  }

  const std::string name = selection->forwarder;
  auto found = FindForwarder(ctx, name);
  if (!found.ok()) return found.status();  // the registry failed, not the forwarder: keep it
  std::optional<api::NsmUrl> url;
  if (*found && discover::Alive(**found, ctx.clock().Now())) {
    if (auto parsed = api::ParseNsmUrl((*found)->url()); parsed.ok()) url = *std::move(parsed);
  }
  if (!url) {
    // Gone, expired or unusable: select again rather than fail the refresh.
    md->server.Put(kSelectionKey, std::make_shared<Selection>());
    return Select(ctx, request, next, *md, /*prefer_path=*/false);
  }
  const std::string url_text = url->ToString();
  auto result = next.Request(clienturl::WithClientUrl(ctx, *std::move(url), name), request);
  if (!result.ok()) {
    MarkUnreachable(name, result.status(), ctx.clock().Now());
    md->server.Put(kSelectionKey, std::make_shared<Selection>());  // §13.1: select again next time
    return Annotated(result.status(),
                     absl::StrCat("forwarder ", name, " (", url_text,
                                  ") failed; the next request selects a forwarder again"));
  }
  return result;
}

absl::StatusOr<Connection> Server::Select(const Context& ctx, NetworkServiceRequest& request,
                                          const ServerNext& next, metadata::MetaData& md,
                                          bool prefer_path) {
  const Connection& conn = request.connection();
  const std::string& service = conn.network_service();
  ::registry::NetworkServiceQuery ns_query;
  ns_query.mutable_network_service()->set_name(service);
  ns_query.mutable_network_service()->set_payload(conn.payload());
  auto services = discover::FindAll<NSTraits>(*ns_registry_, ctx, ns_query);
  if (!services.ok()) {
    return Annotated(services.status(),
                     absl::StrCat("forwarder_select: find network service ", service));
  }
  auto ns = std::find_if(services->begin(), services->end(),
                         [&](const auto& s) { return s.name() == service; });
  if (ns == services->end()) {
    return absl::NotFoundError(absl::StrCat("network service ", service, " is not found"));
  }

  const std::string& fwd_service = options_.forwarder_service_name;
  ::registry::NetworkServiceEndpointQuery query;
  query.mutable_network_service_endpoint()->add_network_service_names(fwd_service);
  auto registered = discover::FindAll<NSETraits>(*forwarder_registry_, ctx, query);
  if (!registered.ok()) {
    return Annotated(registered.status(),
                     absl::StrCat("forwarder_select: find forwarders (service ", fwd_service, ")"));
  }
  std::erase_if(*registered, [&](const auto& nse) {
    const auto& names = nse.network_service_names();
    return std::find(names.begin(), names.end(), fwd_service) == names.end();
  });
  MatchResult match =
      MatchForwarders(conn.labels(), *ns, *std::move(registered), fwd_service, ctx.clock().Now());
  if (match.forwarders.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no forwarder qualifies for network service ", service, ": ", match.why_none));
  }

  std::vector<NetworkServiceEndpoint> order = options_.policy->Order(std::move(match.forwarders));
  if (const auto* segment = api::NextSegment(conn); prefer_path && segment != nullptr) {
    auto it = std::find_if(order.begin(), order.end(),
                           [&](const auto& f) { return f.name() == segment->name(); });
    if (it != order.end()) std::rotate(order.begin(), it, it + 1);
  }
  const absl::Time now = ctx.clock().Now();
  std::stable_partition(order.begin(), order.end(),
                        [&](const auto& f) { return !RecentlyUnreachable(f.name(), now); });

  std::vector<std::string> failures;
  absl::StatusCode code = absl::StatusCode::kOk;
  auto fail = [&](const NetworkServiceEndpoint& f, const absl::Status& s) {
    failures.push_back(absl::StrCat(f.name(), " (", f.url(),
                                    "): ", absl::StatusCodeToString(s.code()), ": ", s.message()));
    code = code == absl::StatusCode::kOk || code == s.code() ? s.code()
                                                             : absl::StatusCode::kUnavailable;
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& forwarder = order[i];
    if (ctx.cancelled()) {
      absl::Status err = ctx.Err();
      return absl::Status(
          err.code(),
          absl::StrCat("gave up selecting a forwarder for network service ", service, " after ", i,
                       " of ", order.size(), ": ", err.message(),
                       failures.empty() ? "" : "; tried: ", absl::StrJoin(failures, "; ")));
    }
    auto url = api::ParseNsmUrl(forwarder.url());
    if (!url.ok()) {
      fail(forwarder,
           absl::FailedPreconditionError(absl::StrCat("unusable url: ", url.status().message())));
      continue;
    }
    auto lease = options_.policy->Acquire(forwarder.name());
    // Each attempt gets the request as it came: a copy, but the last attempt takes the request.
    std::optional<NetworkServiceRequest> copy;
    if (i + 1 < order.size()) copy = request;
    auto result = next.Request(clienturl::WithClientUrl(ctx, *std::move(url), forwarder.name()),
                               copy ? *copy : request);
    if (result.ok()) {
      {
        absl::MutexLock lock(&mu_);
        unreachable_.erase(forwarder.name());
      }
      md.server.Put(kSelectionKey,
                    std::make_shared<Selection>(Selection{forwarder.name(), std::move(lease)}));
      return result;
    }
    fail(forwarder, result.status());
    MarkUnreachable(forwarder.name(), result.status(), ctx.clock().Now());
  }
  return absl::Status(
      code, absl::StrCat("all ", order.size(), " forwarders failed for network service ", service,
                         ": ", absl::StrJoin(failures, "; ")));
}

void Server::MarkUnreachable(const std::string& name, const absl::Status& s, absl::Time now) {
  if (options_.unreachable_last_for <= absl::ZeroDuration()) return;
  // Only a forwarder that could not be reached: an UNAVAILABLE it answered with may be its next
  // hop's (an NSE gone), and demoting a working forwarder for that would send the next requests
  // to worse ones. A DEADLINE_EXCEEDED (a forwarder that accepts but does not answer) counts.
  if (!IsNextHopUnreachable(s) && s.code() != absl::StatusCode::kDeadlineExceeded) return;
  absl::MutexLock lock(&mu_);
  if (unreachable_.size() >= kMaxUnreachable && !unreachable_.contains(name)) {
    auto oldest =
        std::min_element(unreachable_.begin(), unreachable_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    unreachable_.erase(oldest);
  }
  unreachable_[name] = now;
}

bool Server::RecentlyUnreachable(const std::string& name, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = unreachable_.find(name);
  return it != unreachable_.end() && now - it->second < options_.unreachable_last_for;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  auto md = metadata::FromContext(ctx);
  std::string name = md ? SelectedForwarder(*md) : "";
  if (name.empty()) {
    if (const auto* segment = api::NextSegment(conn)) name = segment->name();
  }
  // Best effort: a forwarder that cannot be found must not keep the rest of the chain from
  // releasing its state (nsmgr.md §13.2).
  Context next_ctx = ctx;
  if (!name.empty()) {
    if (auto found = FindForwarder(ctx, name); found.ok() && *found) {
      if (auto url = api::ParseNsmUrl((*found)->url()); url.ok()) {
        next_ctx = clienturl::WithClientUrl(ctx, *std::move(url), name);
      }
    }
  }
  absl::Status s = next.Close(next_ctx, conn);
  if (md) md->server.Delete(kSelectionKey);
  return s;
}

}  // namespace nsm::forwarder_select

#include "networkservice/roundrobin/server.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/nsm_url.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/discover/candidates.h"

namespace nsm::roundrobin {

uint64_t Server::Take(const std::string& service) {
  absl::MutexLock lock(&mu_);
  if (counters_.size() >= kMaxServices && !counters_.contains(service)) counters_.clear();
  return counters_[service]++;
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  if (clienturl::FromContext(ctx)) return next.Request(ctx, request);
  auto candidates = discover::CandidatesFromContext(ctx);
  if (!candidates) {
    return absl::FailedPreconditionError(
        "roundrobin: no candidates in the context (discover must run before roundrobin)");
  }
  const std::string& service = candidates->network_service.name();
  const auto& endpoints = candidates->endpoints;
  if (endpoints.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "roundrobin: no network service endpoint candidates for network service ", service));
  }

  std::vector<std::string> failures;
  absl::StatusCode code = absl::StatusCode::kOk;
  auto fail = [&](const ::registry::NetworkServiceEndpoint& nse, const absl::Status& s) {
    failures.push_back(absl::StrCat(nse.name(), " (", nse.url(),
                                    "): ", absl::StatusCodeToString(s.code()), ": ", s.message()));
    code = code == absl::StatusCode::kOk || code == s.code() ? s.code()
                                                             : absl::StatusCode::kUnavailable;
  };
  // The turn taken first decides the order of this request's candidates: concurrent requests
  // taking turns meanwhile must not make it try one candidate twice and skip another.
  uint64_t first = 0;
  for (size_t attempt = 0; attempt < endpoints.size(); ++attempt) {
    if (ctx.cancelled()) {
      absl::Status err = ctx.Err();
      return absl::Status(
          err.code(),
          absl::StrCat("gave up on network service ", service, " after ", attempt, " of ",
                       endpoints.size(), " candidates: ", err.message(),
                       failures.empty() ? "" : "; tried: ", absl::StrJoin(failures, "; ")));
    }
    const uint64_t turn = Take(service);  // every candidate tried moves the counter on
    if (attempt == 0) first = turn;
    const auto& nse = endpoints[(first + attempt) % endpoints.size()];
    auto url = api::ParseNsmUrl(nse.url());
    if (!url.ok()) {
      fail(nse,
           absl::FailedPreconditionError(absl::StrCat("unusable url: ", url.status().message())));
      continue;
    }
    // Each attempt gets the request as it came: a copy, but the last attempt takes the request
    // itself, and if it fails the caller gets back its own endpoint name (none: no pin).
    const bool last = attempt + 1 == endpoints.size();
    std::optional<NetworkServiceRequest> copy;
    if (!last) copy = request;
    NetworkServiceRequest& req = copy ? *copy : request;
    const std::string asked = last ? req.connection().network_service_endpoint_name() : "";
    req.mutable_connection()->set_network_service_endpoint_name(nse.name());
    auto result = next.Request(clienturl::WithClientUrl(ctx, *std::move(url), nse.name()), req);
    if (result.ok()) return result;
    if (last) request.mutable_connection()->set_network_service_endpoint_name(asked);
    fail(nse, result.status());
  }
  return absl::Status(
      code, absl::StrCat("all ", endpoints.size(), " candidates failed for network service ",
                         service, ": ", absl::StrJoin(failures, "; ")));
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

}  // namespace nsm::roundrobin

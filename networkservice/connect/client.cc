#include "networkservice/connect/client.h"

#include "absl/strings/str_cat.h"
#include "networkservice/clienturl/clienturl.h"

namespace nsm::connect {
namespace {

absl::Status NoConnection(const Context& ctx) {
  if (auto url = clienturl::FromContext(ctx)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connect: no dialled connection to ", url->ToString(), " (dial missing or failed)"));
  }
  return absl::FailedPreconditionError(
      "connect: no next hop: no client URL in the context (clienturl, discover/roundrobin or "
      "discoverforwarder must choose one)");
}

// gRPC's own transport errors ("Broken pipe", "Socket closed") do not say which hop failed; add
// the URL. Errors that the next hop returned keep their code.
absl::Status NameTheHop(absl::Status s, const ClientConn& cc) {
  if (s.code() != absl::StatusCode::kUnavailable) return s;
  return Annotated(s, absl::StrCat("connect: next hop ", cc.url().ToString()));
}

}  // namespace

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  auto cc = ClientConnFromContext(ctx);
  if (!cc) return NoConnection(ctx);
  auto conn = cc->network_service().Request(ctx, request, next, opts);
  if (!conn.ok()) return NameTheHop(conn.status(), *cc);
  return conn;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  auto cc = ClientConnFromContext(ctx);
  if (!cc) return NoConnection(ctx);
  return NameTheHop(cc->network_service().Close(ctx, conn, next, opts), *cc);
}

}  // namespace nsm::connect

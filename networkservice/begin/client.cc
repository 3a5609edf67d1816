#include "networkservice/begin/client.h"

namespace nsm::begin {
namespace {

internal::Downstream Through(const ClientNext& next, const CallOptions& opts) {
  return internal::Downstream{
      [next, opts](const Context& ctx, NetworkServiceRequest& req) {
        return next.Request(ctx, req, opts);
      },
      [next, opts](const Context& ctx, Connection& conn) { return next.Close(ctx, conn, opts); }};
}

}  // namespace

Connection MergeConnection(const Connection& returned, const Connection& requested,
                           const Connection& stored) {
  Connection merged = stored;
  if (requested.network_service_endpoint_name() != returned.network_service_endpoint_name()) {
    merged.set_network_service_endpoint_name(requested.network_service_endpoint_name());
  }
  const auto& mine = returned.context().extra_context();
  const auto& theirs = requested.context().extra_context();
  auto* out = merged.mutable_context()->mutable_extra_context();
  for (const auto& [key, value] : mine) {
    auto it = theirs.find(key);
    if (it == theirs.end()) {
      out->erase(key);
    } else if (it->second != value) {
      (*out)[key] = it->second;
    }
  }
  return merged;
}

Client::Client(std::shared_ptr<ThreadPool> pool)
    : table_(std::make_shared<internal::FactoryTable>(std::move(pool))) {}

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  return table_->Request(ctx, request, Through(next, opts),
                         [](const internal::Factory& f, NetworkServiceRequest& req) {
                           const NetworkServiceRequest last = f.request->Unpack();
                           const Connection& stored = last.connection();
                           *req.mutable_connection() =
                               MergeConnection(f.returned ? f.returned->Unpack() : stored,
                                               req.connection(), stored);
                           // A refresh with the connection alone keeps the mechanisms offered
                           // before: heal replays this request, and a reselect (no mechanism
                           // chosen) needs something to negotiate.
                           if (req.mechanism_preferences().empty()) {
                             *req.mutable_mechanism_preferences() = last.mechanism_preferences();
                           }
                         });
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return table_->Close(ctx, conn, Through(next, opts));
}

}  // namespace nsm::begin

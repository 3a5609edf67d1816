#include "networkservice/mechanismtranslation/client.h"

#include "networkservice/metadata/metadata.h"

namespace nsm::mechanismtranslation {
namespace {

// The next hop's mechanism of this connection, in its client metadata.
const TypedKey<connection::Mechanism> kDownstreamKey{"mechanismtranslation.downstream"};
// The caller's mechanism, for the elements after this one.
const TypedKey<connection::Mechanism> kUpstreamKey{"mechanismtranslation.upstream"};

Context WithUpstream(const Context& ctx, const Connection& upstream) {
  if (!upstream.has_mechanism()) return ctx;
  return ctx.WithValue(kUpstreamKey, std::make_shared<connection::Mechanism>(upstream.mechanism()));
}

}  // namespace

std::shared_ptr<const connection::Mechanism> UpstreamMechanism(const Context& ctx) {
  return ctx.Value(kUpstreamKey);
}

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  auto md = metadata::FromContext(ctx);
  NetworkServiceRequest downstream = request;
  downstream.clear_mechanism_preferences();
  std::shared_ptr<connection::Mechanism> remembered =
      md ? md->client.Load(kDownstreamKey) : nullptr;
  if (remembered) {
    *downstream.mutable_connection()->mutable_mechanism() = *remembered;
  } else {
    downstream.mutable_connection()->clear_mechanism();
  }

  auto result = next.Request(WithUpstream(ctx, request.connection()), downstream, opts);
  if (!result.ok()) return result;

  if (md) {
    if (result->has_mechanism()) {
      md->client.Put(kDownstreamKey, std::make_shared<connection::Mechanism>(result->mechanism()));
    } else {
      md->client.Delete(kDownstreamKey);
    }
  }
  if (request.connection().has_mechanism()) {
    *result->mutable_mechanism() = request.connection().mechanism();
  } else {
    result->clear_mechanism();
  }
  return result;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  auto md = metadata::FromContext(ctx);
  Connection downstream = conn;
  std::shared_ptr<connection::Mechanism> remembered =
      md ? md->client.LoadAndDelete(kDownstreamKey) : nullptr;
  if (remembered) {
    *downstream.mutable_mechanism() = *remembered;
  } else {
    downstream.clear_mechanism();
  }
  return next.Close(WithUpstream(ctx, conn), downstream, opts);
}

}  // namespace nsm::mechanismtranslation

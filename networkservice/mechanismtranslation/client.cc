#include "networkservice/mechanismtranslation/client.h"

#include "core/arena.h"
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
  const Context next_ctx = WithUpstream(ctx, request.connection());
  // The caller's mechanism and preferences step aside for the call (swapped out, not copied: the
  // scratches share the request's arena) and come back after it, over whatever the rest of the
  // chain put there.
  ScratchLike<NetworkServiceRequest> preferences(request);
  preferences->mutable_mechanism_preferences()->Swap(request.mutable_mechanism_preferences());
  ScratchLike<connection::Mechanism> upstream(request);
  const bool had_mechanism = request.connection().has_mechanism();
  if (had_mechanism) upstream->Swap(request.mutable_connection()->mutable_mechanism());
  std::shared_ptr<connection::Mechanism> remembered =
      md ? md->client.Load(kDownstreamKey) : nullptr;
  if (remembered) {
    *request.mutable_connection()->mutable_mechanism() = *remembered;
  } else {
    request.mutable_connection()->clear_mechanism();
  }

  auto result = next.Request(next_ctx, request, opts);

  request.mutable_mechanism_preferences()->Swap(preferences->mutable_mechanism_preferences());
  if (had_mechanism) {
    request.mutable_connection()->mutable_mechanism()->Swap(upstream.get());
  } else {
    request.mutable_connection()->clear_mechanism();
  }
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
  const Context next_ctx = WithUpstream(ctx, conn);
  // As in Request: the caller's mechanism steps aside for the call and comes back after it.
  ScratchLike<connection::Mechanism> upstream(conn);
  const bool had_mechanism = conn.has_mechanism();
  if (had_mechanism) upstream->Swap(conn.mutable_mechanism());
  std::shared_ptr<connection::Mechanism> remembered =
      md ? md->client.LoadAndDelete(kDownstreamKey) : nullptr;
  if (remembered) {
    *conn.mutable_mechanism() = *remembered;
  } else {
    conn.clear_mechanism();
  }
  absl::Status s = next.Close(next_ctx, conn, opts);
  if (had_mechanism) {
    conn.mutable_mechanism()->Swap(upstream.get());
  } else {
    conn.clear_mechanism();
  }
  return s;
}

}  // namespace nsm::mechanismtranslation

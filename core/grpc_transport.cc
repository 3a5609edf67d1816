#include "core/grpc_transport.h"

#include <chrono>
#include <string>

#include "nsmcpp_status.pb.h"

namespace nsm {
namespace {

// Longer error messages are sent without details (gRPC's default metadata limit is 8 KiB).
constexpr size_t kMaxDetailedMessage = 2048;

void ApplyDeadline(const Context& ctx, grpc::ClientContext& cc) {
  if (auto remaining = ctx.remaining()) {
    cc.set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(std::max(*remaining, absl::ZeroDuration())));
  }
}

}  // namespace

std::pair<Context, Context::CancelFunc> ContextFromServerContext(
    grpc::CallbackServerContext* sc, const std::shared_ptr<Clock>& clock) {
  Metadata md;
  for (const auto& [k, v] : sc->client_metadata()) {
    md.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  }
  Context base =
      Context::Background(clock).WithPeer(Peer{sc->peer(), {}}).WithIncomingMetadata(std::move(md));
  auto deadline = sc->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return base.WithCancel();
  absl::Duration remaining = absl::FromChrono(deadline - std::chrono::system_clock::now());
  return base.WithTimeout(remaining);
}

const char* ConnectivityStateName(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(s.code());
  std::string message(s.message());
  const std::string hop = UnreachableHop(s);
  // The details repeat the message, and both travel in the trailers: a long message goes alone.
  if (hop.empty() || message.size() > kMaxDetailedMessage) return grpc::Status(code, message);
  ::nsmcpp::RpcStatus details;
  details.set_code(static_cast<int32_t>(s.code()));
  details.set_message(message);
  ::nsmcpp::HopUnreachable unreachable;
  unreachable.set_name(hop);
  details.add_details()->PackFrom(unreachable);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  if (s.error_details().empty()) return out;
  ::nsmcpp::RpcStatus details;
  if (!details.ParseFromString(s.error_details())) return out;  // not ours to read: ignored
  for (const auto& any : details.details()) {
    ::nsmcpp::HopUnreachable unreachable;
    if (any.Is<::nsmcpp::HopUnreachable>() && any.UnpackTo(&unreachable)) {
      out = MarkReportedUnreachable(std::move(out), unreachable.name());
    }
  }
  return out;
}

NetworkServiceGrpcServer::NetworkServiceGrpcServer(std::shared_ptr<NetworkServiceServer> chain,
                                                   std::shared_ptr<ThreadPool> pool,
                                                   std::shared_ptr<Clock> clock,
                                                   AdmissionOptions admission)
    : chain_(std::move(chain)),
      clock_(std::move(clock)),
      admission_(std::move(pool), std::move(admission)) {
  SetMessageAllocatorFor_Request(&request_allocator_);
  SetMessageAllocatorFor_Close(&close_allocator_);
}

grpc::ServerUnaryReactor* NetworkServiceGrpcServer::Request(grpc::CallbackServerContext* sc,
                                                            const NetworkServiceRequest* request,
                                                            Connection* response) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  auto finish = [reactor](const absl::Status& s) { reactor->Answer(s); };
  absl::Status admitted = admission_.Submit(
      PriorityOf(*request), ctx,
      [chain = chain_, ctx = ctx, &req = MutableRequest<NetworkServiceRequest, Connection>(sc),
       response, finish] {
        auto result = chain->Request(ctx, req, ServerNext());
        if (result.ok()) *response = std::move(*result);
        finish(result.status());
      },
      finish);
  if (!admitted.ok()) finish(admitted);
  return reactor;
}

grpc::ServerUnaryReactor* NetworkServiceGrpcServer::Close(
    grpc::CallbackServerContext* sc, const Connection* /*request: see MutableRequest*/,
    google::protobuf::Empty*) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  auto finish = [reactor](const absl::Status& s) { reactor->Answer(s); };
  absl::Status admitted = admission_.Submit(
      CallPriority::kClose, ctx,
      [chain = chain_, ctx = ctx, &conn = MutableRequest<Connection, google::protobuf::Empty>(sc),
       finish] { finish(chain->Close(ctx, conn, ServerNext())); },
      finish);
  if (!admitted.ok()) finish(admitted);
  return reactor;
}

NetworkServiceGrpcClient::NetworkServiceGrpcClient(std::shared_ptr<grpc::Channel> channel)
    : stub_(::networkservice::NetworkService::NewStub(std::move(channel))) {}

absl::StatusOr<Connection> NetworkServiceGrpcClient::Request(const Context& ctx,
                                                             NetworkServiceRequest& request,
                                                             const ClientNext&,
                                                             const CallOptions& opts) {
  if (ctx.cancelled()) return ctx.Err();
  grpc::ClientContext cc;
  ApplyDeadline(ctx, cc);
  for (const auto& apply : opts.apply) apply(cc);
  Connection response;
  // Cancelling `ctx` cancels the call, not only its deadline, and the call then answers with why
  // `ctx` ended (Cancelled or DeadlineExceeded), whichever of the two gRPC saw first.
  CancelBridge bridge(&cc);
  bridge.Watch(ctx);
  grpc::Status s = Unary(
      &cc, [&](grpc::ClientContext* c) { return stub_->Request(c, request, &response); },
      [&](grpc::ClientContext* c, std::function<void(grpc::Status)> done) {
        stub_->async()->Request(c, &request, &response, std::move(done));
      });
  bridge.Detach();
  if (s.error_code() == grpc::StatusCode::CANCELLED && ctx.cancelled()) return ctx.Err();
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::Status NetworkServiceGrpcClient::Close(const Context& ctx, Connection& conn,
                                             const ClientNext&, const CallOptions& opts) {
  grpc::ClientContext cc;
  ApplyDeadline(ctx, cc);
  for (const auto& apply : opts.apply) apply(cc);
  google::protobuf::Empty empty;
  // A Close is sent even when the caller's context is cancelled; only its deadline bounds it.
  return FromGrpcStatus(Unary(
      &cc, [&](grpc::ClientContext* c) { return stub_->Close(c, conn, &empty); },
      [&](grpc::ClientContext* c, std::function<void(grpc::Status)> done) {
        stub_->async()->Close(c, &conn, &empty, std::move(done));
      }));
}

}  // namespace nsm

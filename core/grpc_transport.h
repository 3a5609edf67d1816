// gRPC transport for NetworkService chains: serve a server chain as networkservice.NetworkService
// (callback API, chain run on a bounded pool), and a client element that calls a remote server.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "grpcpp/grpcpp.h"
#include "networkservice.grpc.pb.h"

namespace nsm {

grpc::Status ToGrpcStatus(const absl::Status& s);
absl::Status FromGrpcStatus(const grpc::Status& s);

// Serves `chain` over gRPC. Each call becomes a Context with the call's deadline, peer, request
// metadata and cancellation (client gone) on `clock`; the chain runs on `pool`, never on gRPC's
// callback threads.
class NetworkServiceGrpcServer final : public ::networkservice::NetworkService::CallbackService {
 public:
  NetworkServiceGrpcServer(std::shared_ptr<NetworkServiceServer> chain,
                           std::shared_ptr<ThreadPool> pool = DefaultThreadPool(),
                           std::shared_ptr<Clock> clock = RealClock());

  grpc::ServerUnaryReactor* Request(grpc::CallbackServerContext* ctx,
                                    const NetworkServiceRequest* request,
                                    Connection* response) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx, const Connection* request,
                                  google::protobuf::Empty* response) override;

 private:
  std::shared_ptr<NetworkServiceServer> chain_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<Clock> clock_;
};

// The last element of a client chain that talks to a remote NetworkService over `channel`: the
// call's deadline is the context's remaining time; call options adjust the grpc::ClientContext.
class NetworkServiceGrpcClient : public NetworkServiceClient {
 public:
  explicit NetworkServiceGrpcClient(std::shared_ptr<grpc::Channel> channel);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  std::unique_ptr<::networkservice::NetworkService::Stub> stub_;
};

}  // namespace nsm

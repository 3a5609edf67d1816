// gRPC callback services for registry chains: unary calls on a bounded pool, Find through a
// ServerWriteReactor so a watch holds no thread (DESIGN.md §3, api.md §5).
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/clock.h"
#include "core/executor.h"
#include "core/registry.h"
#include "grpcpp/grpcpp.h"
#include "registry/transport/grpc_types.h"
#include "registry/transport/server_stream.h"

namespace nsm::reg::transport {

struct ServiceOptions {
  // Where chains run. Null: a pool of the service's own, so that calls blocked in serialize never
  // starve the pool that runs per-name timer work (DefaultThreadPool).
  std::shared_ptr<ThreadPool> pool = {};
  // The clock of every call's Context (a FakeClock in tests).
  std::shared_ptr<Clock> clock = RealClock();
  // Responses a watcher may fall behind by before its stream ends with RESOURCE_EXHAUSTED.
  size_t max_backlog = 1024;
};

template <class T>
class RegistryGrpcService final : public Grpc<T>::Service::CallbackService {
 public:
  using Item = typename T::Item;
  using Query = typename T::Query;
  using Response = typename T::Response;

  explicit RegistryGrpcService(std::shared_ptr<RegistryServer<T>> chain,
                               ServiceOptions options = {});
  ~RegistryGrpcService() override;

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* sc, const Item* request,
                                     Item* response) override;
  grpc::ServerWriteReactor<Response>* Find(grpc::CallbackServerContext* sc,
                                           const Query* request) override;
  grpc::ServerUnaryReactor* Unregister(grpc::CallbackServerContext* sc, const Item* request,
                                       google::protobuf::Empty* response) override;

  // Ends every open Find stream with `status` (the server is shutting down).
  void FinishStreams(absl::Status status);
  size_t open_streams() const;

 private:
  struct Streams;
  std::shared_ptr<RegistryServer<T>> chain_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<Clock> clock_;
  size_t max_backlog_;
  std::shared_ptr<Streams> streams_;
};

extern template class RegistryGrpcService<NSTraits>;
extern template class RegistryGrpcService<NSETraits>;
using NSRegistryGrpcService = RegistryGrpcService<NSTraits>;
using NSERegistryGrpcService = RegistryGrpcService<NSETraits>;

}  // namespace nsm::reg::transport

// gRPC callback services for registry chains: calls admitted by priority to a bounded pool, Find
// through a ServerWriteReactor so a watch holds no thread (DESIGN.md §3, §7, api.md §5).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/admission.h"
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
  // Calls wait for a worker of `pool` in an Admission (core/admission.h, DESIGN.md §7): with a
  // backlog, Unregisters run first, then re-Registers, then new Registers and Finds (an
  // Unregister never overtakes a waiting Register of its name: it waits in that Register's
  // class, and is still never refused); new Registers and Finds are refused with RESOURCE_EXHAUSTED
  // while `admission.max_queued` calls wait, re-Registers while twice as many wait, Unregisters
  // never. `name` and `kinds` are set by the service ("<name>/ns" or "/nse"; "registry" when
  // empty).
  AdmissionOptions admission = {};
  // Whether the registry holds an item of this name, so that its Register renews it (a refresh,
  // kept when new work is refused: an expiry wave must not follow an overload). Called on gRPC's
  // threads: it must not wait (memory::Server::MaybeContains). Null: every Register counts as a
  // renewal.
  std::function<bool(const std::string& name)> registered = nullptr;
  // Called once per service with "ns" or "nse" to set the admission's metrics hooks
  // (reg::metrics::RegistryStats::HookAdmission); null: none.
  std::function<void(const std::string& registry, AdmissionOptions&)> hook_admission = nullptr;
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
  // Calls waiting for a worker now.
  size_t queued() const { return admission_.queued(); }

 private:
  struct Streams;
  struct Waiting;
  std::shared_ptr<RegistryServer<T>> chain_;
  std::shared_ptr<Clock> clock_;
  size_t max_backlog_;
  std::function<bool(const std::string&)> registered_;
  Admission admission_;
  std::shared_ptr<Streams> streams_;
  std::shared_ptr<Waiting> waiting_;  // Registers waiting for a worker, by name
};

extern template class RegistryGrpcService<NSTraits>;
extern template class RegistryGrpcService<NSETraits>;
using NSRegistryGrpcService = RegistryGrpcService<NSTraits>;
using NSERegistryGrpcService = RegistryGrpcService<NSETraits>;

}  // namespace nsm::reg::transport

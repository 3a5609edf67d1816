// MonitorConnection gRPC service over a hop's ConnectionStore: callback-API write reactors with
// bounded queues, so streams cost memory, not threads (api.md §7.5, DESIGN.md §3).
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "connection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "networkservice/monitor/store.h"

namespace nsm::monitor {

struct ServiceOptions {
  // Undelivered events per stream before the stream is finished with RESOURCE_EXHAUSTED
  // (0 = the store's default).
  size_t max_queued_events = 0;
  // The same for selectors without any segment id (a next hop's monitor client shares one such
  // stream for all its connections, so bursts of many connections' events meet in one queue);
  // 0 = 32 times the bound above.
  size_t max_queued_events_shared = 0;
  // Streams served at once; more are refused with RESOURCE_EXHAUSTED.
  size_t max_streams = 65536;
  // Called with +1 when a stream is accepted and -1 when it ends (the nsm_monitor_streams gauge,
  // networkservice/metrics); null: none.
  std::function<void(int delta)> on_streams_changed = nullptr;
};

// MonitorConnections: one INITIAL_STATE_TRANSFER, then the matching UPDATE/DELETE events of the
// store, until the client goes away (CANCELLED), falls behind (RESOURCE_EXHAUSTED) or the store
// shuts down (UNAVAILABLE). Register it on a grpc::ServerBuilder; call store->Shutdown() before
// grpc::Server::Shutdown so open streams end.
class GrpcService final
    : public ::connection::MonitorConnection::WithRawCallbackMethod_MonitorConnections<
          ::connection::MonitorConnection::Service> {
 public:
  explicit GrpcService(std::shared_ptr<ConnectionStore> store, ServiceOptions options = {});

  // Served raw: events go out as the store made them; the selector is parsed here (a call without
  // one, or one that does not parse, is answered INVALID_ARGUMENT).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* MonitorConnections(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;

  // Streams currently open (for metrics and tests).
  size_t open_streams() const { return open_->load(); }

 private:
  std::shared_ptr<ConnectionStore> store_;
  ServiceOptions options_;
  std::shared_ptr<std::atomic<size_t>> open_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace nsm::monitor

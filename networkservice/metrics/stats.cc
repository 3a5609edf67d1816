// The NetworkService series of a hop, declared in one place: Request/refresh/Close counters,
// latency histograms, active connections, open MonitorConnections streams (issue #8, Metrics).
#include "networkservice/metrics/stats.h"

namespace nsm::metrics {

NetworkServiceStats::NetworkServiceStats(std::shared_ptr<prometheus::Registry> registry,
                                         size_t max_label_values)
    : registry_(std::move(registry)),
      services_(max_label_values),
      endpoints_(max_label_values),
      forwarders_(max_label_values),
      // Enough for every capped service with a few results each, and a few pairs per service.
      results_(4 * max_label_values + 64),
      actives_(4 * max_label_values + 64),
      requests_(prometheus::BuildCounter()
                    .Name("nsm_networkservice_requests_total")
                    .Help("NetworkService Requests that set up a connection, by network service "
                          "and result (ok or the gRPC code name)")
                    .Register(*registry_)),
      refreshes_(prometheus::BuildCounter()
                     .Name("nsm_networkservice_refreshes_total")
                     .Help("NetworkService Requests for a connection this hop already holds "
                           "(refresh, heal on the same path), by network service and result")
                     .Register(*registry_)),
      closes_(prometheus::BuildCounter()
                  .Name("nsm_networkservice_closes_total")
                  .Help("NetworkService Closes, by network service and result")
                  .Register(*registry_)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("nsm_networkservice_request_duration_seconds")
                           .Help("Time to answer a Request at this hop, downstream hops included; "
                                 "kind is request or refresh")
                           .Register(*registry_)),
      close_seconds_(prometheus::BuildHistogram()
                         .Name("nsm_networkservice_close_duration_seconds")
                         .Help("Time to answer a Close at this hop, downstream hops included")
                         .Register(*registry_)),
      active_(prometheus::BuildGauge()
                  .Name("nsm_networkservice_active_connections")
                  .Help("Connections this hop holds, by network service, endpoint and forwarder")
                  .Register(*registry_)),
      monitor_streams_(prometheus::BuildGauge()
                           .Name("nsm_monitor_streams")
                           .Help("MonitorConnections streams open at this hop")
                           .Register(*registry_)
                           .Add({})),
      queued_calls_(prometheus::BuildGauge()
                        .Name("nsm_networkservice_queued_calls")
                        .Help("Requests and Closes waiting for a worker at this hop")
                        .Register(*registry_)
                        .Add({})),
      shed_(prometheus::BuildCounter()
                .Name("nsm_networkservice_shed_total")
                .Help("Calls answered without running the chain: refused while overloaded "
                      "(RESOURCE_EXHAUSTED) or expired while waiting; kind is request, refresh "
                      "or close")
                .Register(*registry_)),
      request_(request_seconds_.Add({{"kind", "request"}}, LatencyBuckets())),
      refresh_(request_seconds_.Add({{"kind", "refresh"}}, LatencyBuckets())),
      close_(close_seconds_.Add({}, LatencyBuckets())) {}

prometheus::Counter& NetworkServiceStats::Result(Kind kind, const std::string& network_service,
                                                 const absl::Status& result) {
  return results_.Get({kind, network_service, result.code()}, [&]() -> prometheus::Counter& {
    auto& f = kind == Kind::kRequests ? requests_ : kind == Kind::kRefreshes ? refreshes_ : closes_;
    return f.Add(
        {{"network_service", services_(network_service)}, {"result", ResultLabel(result)}});
  });
}

prometheus::Counter& NetworkServiceStats::Requests(const std::string& network_service,
                                                   const absl::Status& result) {
  return Result(Kind::kRequests, network_service, result);
}

prometheus::Counter& NetworkServiceStats::Refreshes(const std::string& network_service,
                                                    const absl::Status& result) {
  return Result(Kind::kRefreshes, network_service, result);
}

prometheus::Counter& NetworkServiceStats::Closes(const std::string& network_service,
                                                 const absl::Status& result) {
  return Result(Kind::kCloses, network_service, result);
}

prometheus::Histogram& NetworkServiceStats::RequestSeconds(bool refresh) {
  return refresh ? refresh_ : request_;
}

prometheus::Histogram& NetworkServiceStats::CloseSeconds() { return close_; }

prometheus::Gauge& NetworkServiceStats::Active(const std::string& network_service,
                                               const std::string& endpoint,
                                               const std::string& forwarder) {
  return actives_.Get({network_service, endpoint, forwarder}, [&]() -> prometheus::Gauge& {
    return active_.Add({{"network_service", services_(network_service)},
                        {"endpoint", endpoints_(endpoint)},
                        {"forwarder", forwarders_(forwarder)}});
  });
}

std::function<void(int delta)> NetworkServiceStats::MonitorStreamsHook() {
  // The registry (and so the gauge) lives as long as the hook.
  return [registry = registry_, gauge = &monitor_streams_](int delta) { gauge->Increment(delta); };
}

void NetworkServiceStats::HookAdmission(AdmissionOptions& options) {
  metrics::HookAdmission(
      registry_, queued_calls_, shed_, {},
      {CallPriorityName(CallPriority::kClose), CallPriorityName(CallPriority::kRefresh),
       CallPriorityName(CallPriority::kRequest)},
      options);
}

}  // namespace nsm::metrics

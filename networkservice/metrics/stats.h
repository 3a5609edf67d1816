// The NetworkService series of a hop, declared in one place: Request/refresh/Close counters,
// latency histograms, active connections, open MonitorConnections streams (issue #8, Metrics).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <tuple>

#include "core/admission.h"
#include "core/metrics/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace nsm::metrics {

// Every family is documented in docs/metrics.md. Label values of network_service, endpoint and
// forwarder go through one LabelCap each (the first max_label_values values, then "other").
class NetworkServiceStats {
 public:
  explicit NetworkServiceStats(std::shared_ptr<prometheus::Registry> registry,
                               size_t max_label_values = kDefaultMaxLabelValues);

  // nsm_networkservice_requests_total{network_service, result}: first Requests of a connection.
  prometheus::Counter& Requests(const std::string& network_service, const absl::Status& result);
  // nsm_networkservice_refreshes_total{network_service, result}: Requests for a connection id
  // this hop already holds (refresh, heal on the same path).
  prometheus::Counter& Refreshes(const std::string& network_service, const absl::Status& result);
  // nsm_networkservice_closes_total{network_service, result}.
  prometheus::Counter& Closes(const std::string& network_service, const absl::Status& result);
  // nsm_networkservice_request_duration_seconds{kind="request"|"refresh"}.
  prometheus::Histogram& RequestSeconds(bool refresh);
  // nsm_networkservice_close_duration_seconds.
  prometheus::Histogram& CloseSeconds();
  // nsm_networkservice_active_connections{network_service, endpoint, forwarder}.
  prometheus::Gauge& Active(const std::string& network_service, const std::string& endpoint,
                            const std::string& forwarder);
  // nsm_monitor_streams: MonitorConnections streams open now.
  prometheus::Gauge& MonitorStreams() { return monitor_streams_; }
  // A hook for monitor::ServiceOptions::on_streams_changed.
  std::function<void(int delta)> MonitorStreamsHook();
  // Sets the hooks of `options` (core/admission.h): nsm_networkservice_queued_calls and
  // nsm_networkservice_shed_total{kind="request"|"refresh"|"close", reason="refused"|"expired"}.
  void HookAdmission(AdmissionOptions& options);

 private:
  // A counter of Requests, Refreshes or Closes by service and status code.
  enum class Kind { kRequests, kRefreshes, kCloses };
  using ResultKey = std::tuple<Kind, std::string, absl::StatusCode>;
  prometheus::Counter& Result(Kind kind, const std::string& network_service,
                              const absl::Status& result);

  std::shared_ptr<prometheus::Registry> registry_;
  LabelCap services_, endpoints_, forwarders_;
  SeriesCache<ResultKey, prometheus::Counter> results_;
  SeriesCache<std::tuple<std::string, std::string, std::string>, prometheus::Gauge> actives_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& refreshes_;
  prometheus::Family<prometheus::Counter>& closes_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& close_seconds_;
  prometheus::Family<prometheus::Gauge>& active_;
  prometheus::Gauge& monitor_streams_;
  prometheus::Gauge& queued_calls_;
  prometheus::Family<prometheus::Counter>& shed_;
  prometheus::Histogram& request_;
  prometheus::Histogram& refresh_;
  prometheus::Histogram& close_;
};

}  // namespace nsm::metrics

// The registry series of a process, declared in one place: registers, finds, unregisters and
// expirations by result, open watch streams, calls waiting and shed (issue #8, docs/metrics.md).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "core/admission.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace nsm::reg::metrics {

// `registry` label: "ns" (NetworkServiceRegistry) or "nse" (NetworkServiceEndpointRegistry).
class RegistryStats {
 public:
  explicit RegistryStats(std::shared_ptr<prometheus::Registry> registry);

  // nsm_registry_registers_total{registry, result}
  prometheus::Counter& Registers(const std::string& registry, const absl::Status& result);
  // nsm_registry_finds_total{registry, watch="true"|"false", result}; a watch's result is the one
  // of setting it up (the current matches sent).
  prometheus::Counter& Finds(const std::string& registry, bool watch, const absl::Status& result);
  // nsm_registry_unregisters_total{registry, result}: the callers' Unregisters.
  prometheus::Counter& Unregisters(const std::string& registry, const absl::Status& result);
  // nsm_registry_expirations_total{registry="nse", result}: endpoints unregistered by expire.
  prometheus::Counter& Expirations(const absl::Status& result);
  // nsm_registry_watch_streams{registry}: Find(watch=true) streams open now.
  prometheus::Gauge& WatchStreams(const std::string& registry);
  // A hook for expire::NewNSEServer(..., on_expired).
  std::function<void(const absl::Status&)> ExpirationsHook();
  // Sets the hooks of a registry gRPC service's admission (registry/transport/service.h):
  // nsm_registry_queued_calls{registry} and nsm_registry_shed_total{registry, kind, reason}, kind
  // "unregister", "renewal" or "new", reason "refused" or "expired".
  void HookAdmission(const std::string& registry, AdmissionOptions& options);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& registers_;
  prometheus::Family<prometheus::Counter>& finds_;
  prometheus::Family<prometheus::Counter>& unregisters_;
  prometheus::Family<prometheus::Counter>& expirations_;
  prometheus::Family<prometheus::Gauge>& watch_streams_;
  prometheus::Family<prometheus::Gauge>& queued_calls_;
  prometheus::Family<prometheus::Counter>& shed_;
};

}  // namespace nsm::reg::metrics

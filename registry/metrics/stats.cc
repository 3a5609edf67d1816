// The registry series of a process, declared in one place: registers, finds, unregisters and
// expirations by result, open watch streams, calls waiting and shed (issue #8, docs/metrics.md).
#include "registry/metrics/stats.h"

#include "core/metrics/metrics.h"

namespace nsm::reg::metrics {

using nsm::metrics::ResultLabel;

RegistryStats::RegistryStats(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      registers_(prometheus::BuildCounter()
                     .Name("nsm_registry_registers_total")
                     .Help("Registry Register calls, by registry (ns or nse) and result (ok or the "
                           "gRPC code name)")
                     .Register(*registry_)),
      finds_(prometheus::BuildCounter()
                 .Name("nsm_registry_finds_total")
                 .Help("Registry Find calls, by registry, watch and result")
                 .Register(*registry_)),
      unregisters_(prometheus::BuildCounter()
                       .Name("nsm_registry_unregisters_total")
                       .Help("Registry Unregister calls, by registry and result")
                       .Register(*registry_)),
      expirations_(prometheus::BuildCounter()
                       .Name("nsm_registry_expirations_total")
                       .Help("Endpoint registrations unregistered because they expired, by the "
                             "result of that unregistration")
                       .Register(*registry_)),
      watch_streams_(prometheus::BuildGauge()
                         .Name("nsm_registry_watch_streams")
                         .Help("Find(watch=true) streams open, by registry")
                         .Register(*registry_)),
      queued_calls_(prometheus::BuildGauge()
                        .Name("nsm_registry_queued_calls")
                        .Help("Registry calls waiting for a worker, by registry")
                        .Register(*registry_)),
      shed_(prometheus::BuildCounter()
                .Name("nsm_registry_shed_total")
                .Help("Registry calls answered without running, by registry, kind (unregister, "
                      "renewal or new) and reason (refused under overload, or expired while "
                      "waiting)")
                .Register(*registry_)) {}

prometheus::Counter& RegistryStats::Registers(const std::string& registry,
                                              const absl::Status& result) {
  return registers_.Add({{"registry", registry}, {"result", ResultLabel(result)}});
}

prometheus::Counter& RegistryStats::Finds(const std::string& registry, bool watch,
                                          const absl::Status& result) {
  return finds_.Add({{"registry", registry},
                     {"watch", watch ? "true" : "false"},
                     {"result", ResultLabel(result)}});
}

prometheus::Counter& RegistryStats::Unregisters(const std::string& registry,
                                                const absl::Status& result) {
  return unregisters_.Add({{"registry", registry}, {"result", ResultLabel(result)}});
}

prometheus::Counter& RegistryStats::Expirations(const absl::Status& result) {
  return expirations_.Add({{"registry", "nse"}, {"result", ResultLabel(result)}});
}

prometheus::Gauge& RegistryStats::WatchStreams(const std::string& registry) {
  return watch_streams_.Add({{"registry", registry}});
}

std::function<void(const absl::Status&)> RegistryStats::ExpirationsHook() {
  // The hook keeps the registry (and so the family) alive, not this object.
  return [registry = registry_, family = &expirations_](const absl::Status& s) {
    family->Add({{"registry", "nse"}, {"result", ResultLabel(s)}}).Increment();
  };
}

void RegistryStats::HookAdmission(const std::string& registry, AdmissionOptions& options) {
  nsm::metrics::HookAdmission(registry_, queued_calls_.Add({{"registry", registry}}), shed_,
                              {{"registry", registry}}, {"unregister", "renewal", "new"}, options);
}

}  // namespace nsm::reg::metrics

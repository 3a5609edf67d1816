// registry-memory: serves the NSM registry chains (registry/chains/memory.h) over gRPC with health,
// configured from the environment like cmd-registry-memory (binaries.md §2-3); start-up in
// core/cmd.h.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/cmd.h"
#include "core/executor.h"
#include "core/metrics/metrics.h"
#include "registry/chains/memory.h"
#include "registry/registry-memory/config.h"
#include "registry/transport/server.h"

namespace {

namespace rm = nsm::reg::registry_memory;

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         rm::Config& config) {
  auto metrics = nsm::metrics::StartFromConfig(config.metrics_listen_on, process.name());
  if (!metrics.ok()) return metrics.status();
  nsm::reg::chains::MemoryRegistryOptions options;
  options.metrics = metrics->registry;
  options.expire_period = config.expire_period;
  options.proxy_registry_url = config.proxy_registry_url;
  options.credentials = process.credentials();
  auto registry = nsm::reg::chains::NewMemoryRegistry(options);

  nsm::reg::transport::ServerOptions server_options;
  server_options.listen_on = config.listen_on;
  server_options.credentials = process.credentials();
  // The services' calls run on a pool of their own (registry/transport/service.h), reported as
  // pool="registry".
  server_options.service.pool = nsm::NewChainPool();
  metrics->pools->Add("registry", server_options.service.pool);
  // Under overload Unregisters go first, then renewals of what is stored (DESIGN.md §7).
  server_options.service.admission.name = process.name();
  if (registry.stats) {
    server_options.service.hook_admission = [stats = registry.stats](const std::string& which,
                                                                     nsm::AdmissionOptions& o) {
      stats->HookAdmission(which, o);
    };
  }
  server_options.ns_registered = [store = registry.ns_store](const std::string& name) {
    return store->MaybeContains(name);
  };
  server_options.nse_registered = [store = registry.nse_store](const std::string& name) {
    return store->MaybeContains(name);
  };
  auto server =
      nsm::reg::transport::RegistryGrpcServer::Start(registry.ns, registry.nse, server_options);
  if (!server.ok()) return server.status();
  nsm::log::Info(process.name(),
                 absl::StrCat("listening on ", absl::StrJoin((*server)->urls(), ", "),
                              "; startup completed in ",
                              absl::FormatDuration(absl::Now() - process.start_time())));
  // The chains live until the server is gone.
  return nsm::cmd::MakeService(
      [server = std::shared_ptr<nsm::reg::transport::RegistryGrpcServer>(*std::move(server)),
       registry = std::make_shared<nsm::reg::chains::MemoryRegistry>(registry),
       metrics_server =
           std::shared_ptr<nsm::metrics::HttpServer>(std::move(metrics->server))]() mutable {
        server->Shutdown(absl::Seconds(5));
        server.reset();
        registry.reset();
        metrics_server.reset();
        return 0;
      });
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<rm::Config>(
      {.name = "registry-memory",
       .help = rm::HelpText,
       .parse = [] { return rm::ParseConfig(rm::ProcessEnvironment()); },
       .describe = rm::Describe,
       .start = Start,
       .tune_malloc = true,
       .limit_callback_threads = true},
      argc, argv);
}

// registry-memory: serves the NSM registry chains (registry/chains/memory.h) over gRPC with health,
// configured from the environment like cmd-registry-memory (binaries.md §2-3).
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/credentials.h"
#include "core/metrics/metrics.h"
#include "registry/chains/memory.h"
#include "registry/log/log.h"
#include "registry/registry-memory/config.h"
#include "registry/transport/server.h"

namespace {

constexpr char kCmd[] = "registry-memory";

int Run() {
  // Signals are taken synchronously by this thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const absl::Time start = absl::Now();
  auto config =
      nsm::reg::registry_memory::ParseConfig(nsm::reg::registry_memory::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", kCmd,
                 std::string(config.status().message()).c_str(), kCmd);
    return 1;
  }
  nsm::log::SetLevel(config->log_level);
  nsm::log::Info(kCmd, absl::StrCat("config: ", nsm::reg::registry_memory::Describe(*config)));

  // Explicitly insecure until SPIFFE mTLS lands (DESIGN.md §3): say so on every start.
  std::shared_ptr<nsm::Credentials> credentials = nsm::MakeInsecureCredentials();
  nsm::log::Warn(kCmd, absl::StrCat("transport security: ", credentials->Describe(),
                                    config->spiffe_endpoint_socket.empty()
                                        ? ""
                                        : "; SPIFFE_ENDPOINT_SOCKET is set but mTLS is not "
                                          "implemented yet"));

  auto metrics = nsm::metrics::StartFromConfig(config->metrics_listen_on, kCmd);
  if (!metrics.ok()) {
    nsm::log::Error(kCmd, std::string(metrics.status().message()));
    return 1;
  }

  nsm::reg::chains::MemoryRegistryOptions options;
  options.metrics = metrics->registry;
  options.expire_period = config->expire_period;
  options.proxy_registry_url = config->proxy_registry_url;
  options.credentials = credentials;
  auto registry = nsm::reg::chains::NewMemoryRegistry(options);

  nsm::reg::transport::ServerOptions server_options;
  server_options.listen_on = config->listen_on;
  server_options.credentials = credentials;
  auto server =
      nsm::reg::transport::RegistryGrpcServer::Start(registry.ns, registry.nse, server_options);
  if (!server.ok()) {
    nsm::log::Error(kCmd, std::string(server.status().message()));
    return 1;
  }
  nsm::log::Info(
      kCmd, absl::StrCat("listening on ", absl::StrJoin((*server)->urls(), ", "),
                         "; startup completed in ", absl::FormatDuration(absl::Now() - start)));

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  nsm::log::Info(kCmd, absl::StrCat("received ", strsignal(sig), ", shutting down"));
  (*server)->Shutdown(absl::Seconds(5));
  nsm::log::Info(kCmd, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(nsm::reg::registry_memory::HelpText().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr,
                 "%s: unknown argument \"%s\"; configuration comes from the environment "
                 "(see %s --help)\n",
                 kCmd, arg.c_str(), kCmd);
    return 2;
  }
  return Run();
}

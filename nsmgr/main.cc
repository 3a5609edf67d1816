// nsmgr: the NSM network service manager of a node (nsmgr/nsmgr.h) served over gRPC with health,
// configured from the environment like cmd-nsmgr (binaries.md §1, §3.1).
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/credentials.h"
#include "core/metrics/metrics.h"
#include "core/token.h"
#include "forwarder_select/policy.h"
#include "nsmgr/config.h"
#include "nsmgr/nsmgr.h"
#include "registry/log/log.h"

namespace {

constexpr char kCmd[] = "nsmgr";

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

int Run() {
  // Signals are taken synchronously by this thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const absl::Time start = absl::Now();
  auto config = nsm::nsmgr::ParseConfig(nsm::env::ProcessEnvironment(), Hostname());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", kCmd,
                 std::string(config.status().message()).c_str(), kCmd);
    return 1;
  }
  nsm::log::SetLevel(config->log_level);
  nsm::log::Info(kCmd, absl::StrCat("config: ", nsm::nsmgr::Describe(*config)));
  auto url = nsm::nsmgr::PublicUrl(config->listen_on, nsm::nsmgr::FirstNonLoopbackIPv4());
  if (!url.ok()) {
    std::fprintf(stderr, "%s: %s\n", kCmd, std::string(url.status().message()).c_str());
    return 1;
  }

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

  nsm::nsmgr::Options options;
  options.metrics = metrics->registry;
  options.name = config->name;
  options.url = *url;
  options.registry_url = config->registry_url;
  options.credentials = credentials;
  options.tokens = nsm::NewInsecureTokenGenerator(config->name, config->max_token_lifetime);
  options.dial_timeout = config->dial_timeout;
  options.forwarder_service_name = config->forwarder_service_name;
  if (config->forwarder_policy == "least-connections") {
    options.forwarder_policy = nsm::forwarder_select::NewLeastConnections();
  }
  options.excluded_prefixes.config_path = config->excluded_prefixes_file;
  auto server = nsm::nsmgr::Server::Start(std::move(options), config->listen_on);
  if (!server.ok()) {
    nsm::log::Error(kCmd, std::string(server.status().message()));
    return 1;
  }
  nsm::log::Info(kCmd, absl::StrCat("listening on ", absl::StrJoin((*server)->urls(), ", "),
                                    "; public URL ", *url, "; startup completed in ",
                                    absl::FormatDuration(absl::Now() - start)));

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  nsm::log::Info(kCmd, absl::StrCat("received ", strsignal(sig), ", shutting down"));
  (*server)->Shutdown(absl::Seconds(5));
  server->reset();
  nsm::log::Info(kCmd, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(nsm::nsmgr::HelpText().c_str(), stdout);
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

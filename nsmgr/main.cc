// nsmgr: the NSM network service manager of a node (nsmgr/nsmgr.h) served over gRPC with health,
// configured from the environment like cmd-nsmgr (binaries.md §1, §3.1); start-up in core/cmd.h.
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/cmd.h"
#include "core/executor.h"
#include "core/metrics/metrics.h"
#include "core/token.h"
#include "forwarder_select/policy.h"
#include "nsmgr/config.h"
#include "nsmgr/nsmgr.h"

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         nsm::nsmgr::Config& config) {
  auto url = nsm::nsmgr::PublicUrl(config.listen_on, nsm::nsmgr::FirstNonLoopbackIPv4());
  if (!url.ok()) return url.status();
  auto metrics = nsm::metrics::StartFromConfig(config.metrics_listen_on, process.name());
  if (!metrics.ok()) return metrics.status();
  nsm::nsmgr::Options options;
  options.metrics = metrics->registry;
  options.registry_pool = nsm::NewChainPool();
  metrics->pools->Add("registry", options.registry_pool);
  options.name = config.name;
  options.url = *url;
  options.registry_url = config.registry_url;
  options.credentials = process.credentials();
  options.tokens = nsm::NewInsecureTokenGenerator(config.name, config.max_token_lifetime);
  options.dial_timeout = config.dial_timeout;
  options.restart_grace = config.restart_grace;
  options.fibers = config.fibers;
  options.forwarder_service_name = config.forwarder_service_name;
  if (config.forwarder_policy == "least-connections") {
    options.forwarder_policy = nsm::forwarder_select::NewLeastConnections();
  }
  options.excluded_prefixes.config_path = config.excluded_prefixes_file;
  auto server = nsm::nsmgr::Server::Start(std::move(options), config.listen_on);
  if (!server.ok()) return server.status();
  nsm::log::Info(process.name(),
                 absl::StrCat("listening on ", absl::StrJoin((*server)->urls(), ", "),
                              "; public URL ", *url, "; startup completed in ",
                              absl::FormatDuration(absl::Now() - process.start_time())));
  return nsm::cmd::MakeService([server = std::shared_ptr<nsm::nsmgr::Server>(*std::move(server)),
                                metrics_server = std::shared_ptr<nsm::metrics::HttpServer>(
                                    std::move(metrics->server))]() mutable {
    server->Shutdown(absl::Seconds(5));
    server.reset();
    metrics_server.reset();
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<nsm::nsmgr::Config>(
      {.name = "nsmgr",
       .help = nsm::nsmgr::HelpText,
       .parse = [] { return nsm::nsmgr::ParseConfig(nsm::env::ProcessEnvironment(), Hostname()); },
       .describe = nsm::nsmgr::Describe,
       .start = Start,
       .tune_malloc = true,
       .limit_callback_threads = true},
      argc, argv);
}

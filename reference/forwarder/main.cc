// forwarder: the reference forwarder binary (control plane only), configured from the
// environment like cmd-forwarder-vpp; serves, registers with its nsmgr, unregisters on SIGTERM.
#include <memory>
#include <string>

#include "core/cmd.h"
#include "core/metrics/metrics.h"
#include "reference/common/hop_service.h"
#include "reference/forwarder/config.h"
#include "reference/forwarder/forwarder.h"

namespace {

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         nsm::forwarder::Config& config) {
  auto metrics = nsm::metrics::StartFromConfig(config.metrics_listen_on, process.name());
  if (!metrics.ok()) return metrics.status();
  nsm::forwarder::Options options = config.options;
  options.credentials = process.credentials();
  options.metrics = metrics->registry;
  auto created = nsm::forwarder::Forwarder::Create(process.context(), options);
  if (!created.ok()) return created.status();
  std::shared_ptr<nsm::forwarder::Forwarder> forwarder = *std::move(created);
  if (absl::Status s = forwarder->Serve({config.listen_on}); !s.ok()) return s;
  nsm::reference::LogServing(process.name(), forwarder->urls().front());
  return nsm::reference::NewHopService({
      .register_once = [forwarder](const nsm::Context& ctx) { return forwarder->Register(ctx); },
      .stop = [forwarder](const nsm::Context& ctx) { return forwarder->Stop(ctx); },
      .nsmgr_url = options.nsmgr_url,
      .registered_as = "as an endpoint of " + options.service_name,
      // /metrics is served until the forwarder has stopped.
      .after_stop = [metrics_server = std::shared_ptr<nsm::metrics::HttpServer>(
                         std::move(metrics->server))]() mutable { metrics_server.reset(); },
  });
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<nsm::forwarder::Config>(
      {.name = "forwarder",
       .help = nsm::forwarder::HelpText,
       .parse = [] { return nsm::forwarder::ParseConfig(nsm::reference::ProcessEnvironment()); },
       .describe = nsm::forwarder::Describe,
       .start = Start,
       .tune_malloc = true,
       .limit_callback_threads = true},
      argc, argv);
}

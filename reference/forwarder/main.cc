// forwarder: the reference forwarder binary (control plane only), configured from the
// environment like cmd-forwarder-vpp; serves, registers with its nsmgr, unregisters on SIGTERM.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/credentials.h"
#include "core/metrics/metrics.h"
#include "reference/common/process.h"
#include "reference/common/registrar.h"
#include "reference/forwarder/config.h"
#include "reference/forwarder/forwarder.h"
#include "registry/log/log.h"

namespace {

constexpr char kCmd[] = "forwarder";

int Run() {
  auto signals = nsm::reference::SignalContext::Install(kCmd);
  const absl::Time start = absl::Now();
  auto config = nsm::forwarder::ParseConfig(nsm::reference::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", kCmd,
                 std::string(config.status().message()).c_str(), kCmd);
    return 1;
  }
  nsm::log::SetLevel(config->log_level);
  nsm::log::Info(kCmd, absl::StrCat("config: ", nsm::forwarder::Describe(*config)));

  // Explicitly insecure until SPIFFE mTLS lands (DESIGN.md §3): say so on every start.
  auto credentials = nsm::MakeInsecureCredentials();
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
  nsm::forwarder::Options options = config->options;
  options.credentials = credentials;
  options.metrics = metrics->registry;
  auto forwarder = nsm::forwarder::Forwarder::Create(signals->context(), options);
  if (!forwarder.ok()) {
    nsm::log::Error(kCmd, std::string(forwarder.status().message()));
    return 1;
  }
  if (absl::Status s = (*forwarder)->Serve({config->listen_on}); !s.ok()) {
    nsm::log::Error(kCmd, std::string(s.message()));
    return 1;
  }
  nsm::log::Info(kCmd, absl::StrCat("serving on ", (*forwarder)->urls().front()));
  if (auto url = nsm::api::ParseNsmUrl((*forwarder)->urls().front());
      url.ok() && url->scheme == nsm::api::NsmUrl::Scheme::kTcp && url->host.empty()) {
    nsm::log::Warn(kCmd, absl::StrCat("the registered URL ", (*forwarder)->urls().front(),
                                      " names no host, so no peer can dial it: listen on an "
                                      "address (NSM_LISTEN_ON=tcp://<ip>:<port>)"));
  }

  // Wait for the nsmgr like Go's blocking dial does, but with backoff and a way out (a signal).
  absl::Status registered =
      nsm::reference::RetryUntilDone(signals->context(), kCmd, [&](const nsm::Context& ctx) {
        auto [attempt, cancel] = ctx.WithTimeout(absl::Seconds(15));
        auto nse = (*forwarder)->Register(attempt);
        cancel();
        if (nse.ok()) {
          nsm::log::Info(kCmd, absl::StrCat("registered ", nse->name(), " as an endpoint of ",
                                            options.service_name, " at ", nse->url(), " with ",
                                            options.nsmgr_url));
        }
        return nse.status();
      });
  int code = 0;
  if (!registered.ok() && !signals->context().cancelled()) {
    nsm::log::Error(kCmd, absl::StrCat("cannot register with ", options.nsmgr_url, ": ",
                                       registered.ToString()));
    code = 1;
  } else if (registered.ok()) {
    nsm::log::Info(
        kCmd, absl::StrCat("startup completed in ", absl::FormatDuration(absl::Now() - start)));
    signals->Wait();
  }

  auto [stop_ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
  absl::Status stopped = (*forwarder)->Stop(stop_ctx);
  cancel();
  if (!stopped.ok()) {
    nsm::log::Warn(kCmd, absl::StrCat("unregistering failed: ", stopped.ToString()));
  }
  nsm::log::Info(kCmd, "stopped");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(nsm::forwarder::HelpText().c_str(), stdout);
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

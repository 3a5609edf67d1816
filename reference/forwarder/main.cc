// forwarder: the reference forwarder binary (control plane only), configured from the
// environment like cmd-forwarder-vpp; serves, registers with its nsmgr, unregisters on SIGTERM.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/cmd.h"
#include "reference/common/registrar.h"
#include "reference/forwarder/config.h"
#include "reference/forwarder/forwarder.h"

namespace {

// Registers (with retries until a stop signal) once serving, holds until the signal,
// unregisters when stopped.
class Service : public nsm::cmd::Service {
 public:
  Service(std::unique_ptr<nsm::forwarder::Forwarder> forwarder, nsm::forwarder::Options options)
      : forwarder_(std::move(forwarder)), options_(std::move(options)) {}

  int Run(nsm::cmd::Process& process) override {
    const std::string& cmd = process.name();
    absl::Status registered =
        nsm::reference::RetryUntilDone(process.context(), cmd, [&](const nsm::Context& ctx) {
          auto [attempt, cancel] = ctx.WithTimeout(absl::Seconds(15));
          auto nse = forwarder_->Register(attempt);
          cancel();
          if (nse.ok()) {
            nsm::log::Info(cmd, absl::StrCat("registered ", nse->name(), " as an endpoint of ",
                                             options_.service_name, " at ", nse->url(), " with ",
                                             options_.nsmgr_url));
          }
          return nse.status();
        });
    if (!registered.ok()) {
      if (process.context().cancelled()) return 0;
      nsm::log::Error(cmd, absl::StrCat("cannot register with ", options_.nsmgr_url, ": ",
                                        registered.ToString()));
      return 1;
    }
    nsm::log::Info(cmd, absl::StrCat("startup completed in ",
                                     absl::FormatDuration(absl::Now() - process.start_time())));
    process.WaitForStop();
    return 0;
  }

  int Stop() override {
    auto [stop_ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
    absl::Status stopped = forwarder_->Stop(stop_ctx);
    cancel();
    if (!stopped.ok()) {
      nsm::log::Warn("forwarder", absl::StrCat("unregistering failed: ", stopped.ToString()));
    }
    return 0;
  }

 private:
  std::unique_ptr<nsm::forwarder::Forwarder> forwarder_;
  nsm::forwarder::Options options_;
};

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         nsm::forwarder::Config& config) {
  nsm::forwarder::Options options = config.options;
  options.credentials = process.credentials();
  auto forwarder = nsm::forwarder::Forwarder::Create(process.context(), options);
  if (!forwarder.ok()) return forwarder.status();
  if (absl::Status s = (*forwarder)->Serve({config.listen_on}); !s.ok()) return s;
  const std::string url = (*forwarder)->urls().front();
  nsm::log::Info(process.name(), absl::StrCat("serving on ", url));
  if (auto parsed = nsm::api::ParseNsmUrl(url);
      parsed.ok() && parsed->scheme == nsm::api::NsmUrl::Scheme::kTcp && parsed->host.empty()) {
    nsm::log::Warn(process.name(),
                   absl::StrCat("the registered URL ", url,
                                " names no host, so no peer can dial it: listen on an address "
                                "(NSM_LISTEN_ON=tcp://<ip>:<port>)"));
  }
  return std::make_unique<Service>(*std::move(forwarder), std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<nsm::forwarder::Config>(
      {.name = "forwarder",
       .help = nsm::forwarder::HelpText,
       .parse = [] { return nsm::forwarder::ParseConfig(nsm::reference::ProcessEnvironment()); },
       .describe = nsm::forwarder::Describe,
       .start = Start},
      argc, argv);
}

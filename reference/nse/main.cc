// nse: the reference network service endpoint binary (control plane only), configured from the
// environment like cmd-nse-icmp-responder; serves, registers with its nsmgr, unregisters on
// SIGTERM. Start-up in core/cmd.h.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/cmd.h"
#include "reference/common/registrar.h"
#include "reference/nse/config.h"
#include "reference/nse/nse.h"

namespace {

constexpr char kCmd[] = "nse";

// The directory of the socket when NSM_LISTEN_ON is empty; removed with its owner.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (!path.empty()) std::filesystem::remove_all(path);
  }
};

// Registers (with retries until a stop signal) once serving, holds until the signal,
// unregisters when stopped.
class Service : public nsm::cmd::Service {
 public:
  Service(std::unique_ptr<TempDir> dir, std::unique_ptr<nsm::nse::Endpoint> endpoint,
          nsm::nse::Options options)
      : dir_(std::move(dir)), endpoint_(std::move(endpoint)), options_(std::move(options)) {}

  int Run(nsm::cmd::Process& process) override {
    absl::Status registered =
        nsm::reference::RetryUntilDone(process.context(), kCmd, [&](const nsm::Context& ctx) {
          auto [attempt, cancel] = ctx.WithTimeout(absl::Seconds(15));
          auto nse = endpoint_->Register(attempt);
          cancel();
          if (nse.ok()) {
            nsm::log::Info(kCmd, absl::StrCat("registered ", nse->name(), " at ", nse->url(),
                                              " with ", options_.nsmgr_url));
          }
          return nse.status();
        });
    if (!registered.ok()) {
      if (process.context().cancelled()) return 0;
      nsm::log::Error(kCmd, absl::StrCat("cannot register with ", options_.nsmgr_url, ": ",
                                         registered.ToString()));
      return 1;
    }
    nsm::log::Info(kCmd, absl::StrCat("startup completed in ",
                                      absl::FormatDuration(absl::Now() - process.start_time())));
    process.WaitForStop();
    return 0;
  }

  int Stop() override {
    auto [stop_ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
    absl::Status stopped = endpoint_->Stop(stop_ctx);
    cancel();
    if (!stopped.ok()) {
      nsm::log::Warn(kCmd, absl::StrCat("unregistering failed: ", stopped.ToString()));
    }
    endpoint_.reset();
    dir_.reset();
    return 0;
  }

 private:
  std::unique_ptr<TempDir> dir_;  // outlives the endpoint
  std::unique_ptr<nsm::nse::Endpoint> endpoint_;
  nsm::nse::Options options_;
};

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         nsm::nse::Config& config) {
  auto dir = std::make_unique<TempDir>();
  std::string listen_on = config.listen_on;
  if (listen_on.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (config.options.name + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a directory for the socket: ", tmpl));
    }
    dir->path = tmpl;
    listen_on = absl::StrCat("unix://", dir->path, "/listen.on.sock");
  }
  nsm::nse::Options options = config.options;
  options.credentials = process.credentials();
  auto endpoint = nsm::nse::Endpoint::Create(process.context(), options);
  if (!endpoint.ok()) return endpoint.status();
  if (absl::Status s = (*endpoint)->Serve({listen_on}); !s.ok()) return s;
  const std::string url = (*endpoint)->urls().front();
  nsm::log::Info(kCmd, absl::StrCat("serving on ", url));
  if (auto parsed = nsm::api::ParseNsmUrl(url);
      parsed.ok() && parsed->scheme == nsm::api::NsmUrl::Scheme::kTcp && parsed->host.empty()) {
    nsm::log::Warn(kCmd, absl::StrCat("the registered URL ", url,
                                      " names no host, so no peer can dial it: listen on an "
                                      "address (NSM_LISTEN_ON=tcp://<ip>:<port>)"));
  }
  return std::make_unique<Service>(std::move(dir), *std::move(endpoint), std::move(options));
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<nsm::nse::Config>(
      {.name = kCmd,
       .help = nsm::nse::HelpText,
       .parse = [] { return nsm::nse::ParseConfig(nsm::reference::ProcessEnvironment()); },
       .describe = nsm::nse::Describe,
       .start = Start},
      argc, argv);
}

// nse: the reference network service endpoint binary (control plane only), configured from the
// environment like cmd-nse-icmp-responder; serves, registers with its nsmgr, unregisters on
// SIGTERM. Start-up in core/cmd.h.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/cmd.h"
#include "reference/common/hop_service.h"
#include "reference/nse/config.h"
#include "reference/nse/nse.h"

namespace {

// The directory of the socket when NSM_LISTEN_ON is empty; removed with its owner.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (!path.empty()) std::filesystem::remove_all(path);
  }
};

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(nsm::cmd::Process& process,
                                                         nsm::nse::Config& config) {
  auto dir = std::make_shared<TempDir>();
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
  // The binary's chain never waits on another process: calls run on gRPC's threads.
  options.inline_calls = true;
  auto created = nsm::nse::Endpoint::Create(process.context(), options);
  if (!created.ok()) return created.status();
  std::shared_ptr<nsm::nse::Endpoint> endpoint = *std::move(created);
  if (absl::Status s = endpoint->Serve({listen_on}); !s.ok()) return s;
  nsm::reference::LogServing(process.name(), endpoint->urls().front());
  return nsm::reference::NewHopService({
      .register_once = [endpoint](const nsm::Context& ctx) { return endpoint->Register(ctx); },
      .stop = [endpoint](const nsm::Context& ctx) { return endpoint->Stop(ctx); },
      .nsmgr_url = options.nsmgr_url,
      .registered_as = "",
      // The endpoint goes before its socket directory.
      .after_stop = [dir]() mutable { dir.reset(); },
  });
}

}  // namespace

int main(int argc, char** argv) {
  return nsm::cmd::RunCommand<nsm::nse::Config>(
      {.name = "nse",
       .help = nsm::nse::HelpText,
       .parse = [] { return nsm::nse::ParseConfig(nsm::reference::ProcessEnvironment()); },
       .describe = nsm::nse::Describe,
       .start = Start,
       .tune_malloc = true,
       .limit_callback_threads = true},
      argc, argv);
}

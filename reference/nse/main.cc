// nse: the reference network service endpoint binary (control plane only), configured from the
// environment like cmd-nse-icmp-responder; serves, registers with its nsmgr, unregisters on
// SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/credentials.h"
#include "core/log.h"
#include "reference/common/process.h"
#include "reference/common/registrar.h"
#include "reference/nse/config.h"
#include "reference/nse/nse.h"

namespace {

constexpr char kCmd[] = "nse";

int Run() {
  auto signals = nsm::reference::SignalContext::Install(kCmd);
  const absl::Time start = absl::Now();
  auto config = nsm::nse::ParseConfig(nsm::reference::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", kCmd,
                 std::string(config.status().message()).c_str(), kCmd);
    return 1;
  }
  nsm::log::SetLevel(config->log_level);
  nsm::log::Info(kCmd, absl::StrCat("config: ", nsm::nse::Describe(*config)));
  auto credentials = nsm::MakeInsecureCredentials();
  nsm::log::Warn(kCmd, absl::StrCat("transport security: ", credentials->Describe(),
                                    config->spiffe_endpoint_socket.empty()
                                        ? ""
                                        : "; SPIFFE_ENDPOINT_SOCKET is set but mTLS is not "
                                          "implemented yet"));

  std::string listen_on = config->listen_on;
  std::string temp_dir;
  if (listen_on.empty()) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (config->options.name + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      nsm::log::Error(kCmd, absl::StrCat("cannot create a directory for the socket: ", tmpl));
      return 1;
    }
    temp_dir = tmpl;
    listen_on = absl::StrCat("unix://", temp_dir, "/listen.on.sock");
  }

  nsm::nse::Options options = config->options;
  options.credentials = credentials;
  int code = 0;
  {
    auto endpoint = nsm::nse::Endpoint::Create(signals->context(), options);
    if (!endpoint.ok()) {
      nsm::log::Error(kCmd, std::string(endpoint.status().message()));
      return 1;
    }
    if (absl::Status s = (*endpoint)->Serve({listen_on}); !s.ok()) {
      nsm::log::Error(kCmd, std::string(s.message()));
      if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
      return 1;
    }
    nsm::log::Info(kCmd, absl::StrCat("serving on ", (*endpoint)->urls().front()));
    if (auto url = nsm::api::ParseNsmUrl((*endpoint)->urls().front());
        url.ok() && url->scheme == nsm::api::NsmUrl::Scheme::kTcp && url->host.empty()) {
      nsm::log::Warn(kCmd, absl::StrCat("the registered URL ", (*endpoint)->urls().front(),
                                        " names no host, so no peer can dial it: listen on an "
                                        "address (NSM_LISTEN_ON=tcp://<ip>:<port>)"));
    }

    absl::Status registered =
        nsm::reference::RetryUntilDone(signals->context(), kCmd, [&](const nsm::Context& ctx) {
          auto [attempt, cancel] = ctx.WithTimeout(absl::Seconds(15));
          auto nse = (*endpoint)->Register(attempt);
          cancel();
          if (nse.ok()) {
            nsm::log::Info(kCmd, absl::StrCat("registered ", nse->name(), " at ", nse->url(),
                                              " with ", options.nsmgr_url));
          }
          return nse.status();
        });
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
    absl::Status stopped = (*endpoint)->Stop(stop_ctx);
    cancel();
    if (!stopped.ok()) {
      nsm::log::Warn(kCmd, absl::StrCat("unregistering failed: ", stopped.ToString()));
    }
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  nsm::log::Info(kCmd, "stopped");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(nsm::nse::HelpText().c_str(), stdout);
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

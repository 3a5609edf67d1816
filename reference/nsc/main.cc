// nsc: the reference network service client binary (control plane only), configured from the
// environment like cmd-nsc: requests, prints the connections, holds them (or --once), closes.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/credentials.h"
#include "core/metrics/metrics.h"
#include "healing/heal/client.h"
#include "healing/metrics/metrics.h"
#include "healing/refresh/client.h"
#include "reference/common/process.h"
#include "reference/nsc/config.h"
#include "reference/nsc/nsc.h"
#include "registry/log/log.h"

namespace {

constexpr char kCmd[] = "nsc";

absl::Mutex print_mu;

void Print(nsm::nsc::Output output, const nsm::Connection& conn) {
  absl::MutexLock lock(&print_mu);
  if (output == nsm::nsc::Output::kJson) {
    std::cout << nsm::nsc::ToJson(conn) << std::endl;
  } else {
    std::cout << nsm::nsc::ToText(conn) << std::flush;
  }
}

int Run(bool once, std::optional<nsm::nsc::Output> output_flag) {
  auto signals = nsm::reference::SignalContext::Install(kCmd);
  auto config = nsm::nsc::ParseConfig(nsm::reference::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", kCmd,
                 std::string(config.status().message()).c_str(), kCmd);
    return 1;
  }
  if (output_flag) config->output = *output_flag;
  nsm::log::SetLevel(config->log_level);
  nsm::log::Info(kCmd, absl::StrCat("config: ", nsm::nsc::Describe(*config)));
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
  nsm::nsc::Options options = config->options;
  options.credentials = credentials;
  // The NSC owns refresh and heal (nsmgr.md §7-8): connections are refreshed before the path's
  // earliest expiry and healed when a hop reports them down or goes away.
  struct HealTimes {
    absl::Mutex mu;
    std::map<std::string, absl::Time> started ABSL_GUARDED_BY(mu);
  };
  auto times = std::make_shared<HealTimes>();
  const nsm::nsc::Output output = config->output;
  options.refresh = nsm::healing::refresh::NewClient();
  options.heal = nsm::healing::heal::NewClient(
      {.observer = nsm::healing::metrics::HealStats::Create(metrics->registry)
                       ->Wrap({
                           .started =
                               [times](const nsm::Connection& conn, const absl::Status& cause) {
                                 absl::MutexLock lock(&times->mu);
                                 times->started.emplace(conn.id(), absl::Now());
                                 nsm::log::Warn(kCmd, absl::StrCat("healing ", conn.id(), ": ",
                                                                   cause.ToString()));
                               },
                           .healed =
                               [times, output](const nsm::Connection& conn, int attempts) {
                                 absl::Duration took = absl::ZeroDuration();
                                 {
                                   absl::MutexLock lock(&times->mu);
                                   auto it = times->started.find(conn.id());
                                   if (it != times->started.end()) {
                                     took = absl::Now() - it->second;
                                     times->started.erase(it);
                                   }
                                 }
                                 nsm::log::Info(kCmd, absl::StrCat("healed ", conn.id(), " in ",
                                                                   absl::FormatDuration(took), " (",
                                                                   attempts, " attempts)"));
                                 Print(output, conn);
                               },
                           .failed =
                               [](const nsm::Connection& conn, const absl::Status& why) {
                                 nsm::log::Error(kCmd, absl::StrCat("could not heal ", conn.id(),
                                                                    ": ", why.ToString()));
                               },
                       })});
  auto client = nsm::nsc::NewClient(options);
  if (!client.ok()) {
    nsm::log::Error(kCmd, std::string(client.status().message()));
    return 1;
  }

  int code = 0;
  std::vector<nsm::Connection> held;
  for (size_t i = 0; i < options.network_services.size(); ++i) {
    const nsm::NetworkServiceRequest request = nsm::nsc::MakeRequest(options, i);
    auto conn =
        nsm::nsc::RequestWithRetry(**client, signals->context(), request, options.request_timeout);
    if (!conn.ok()) {
      nsm::log::Error(
          kCmd, absl::StrCat("request for ", request.connection().network_service(), " (",
                             request.connection().id(), ") failed: ", conn.status().ToString()));
      code = 1;
      break;
    }
    nsm::log::Info(kCmd,
                   absl::StrCat("connected to ", conn->network_service(), " as ", conn->id()));
    Print(config->output, *conn);
    held.push_back(*std::move(conn));
  }
  if (code == 0 && !once) {
    nsm::log::Info(kCmd, "holding the connections until a signal");
    signals->Wait();
  }
  for (auto& conn : held) {
    auto [ctx, cancel] = nsm::Context().WithTimeout(options.request_timeout);
    absl::Status closed = (*client)->Close(ctx, conn);
    cancel();
    if (!closed.ok()) {
      nsm::log::Warn(kCmd, absl::StrCat("closing ", conn.id(), " failed: ", closed.ToString()));
      if (once && code == 0) code = 1;
    } else {
      nsm::log::Info(kCmd, absl::StrCat("closed ", conn.id()));
    }
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bool once = false;
  std::optional<nsm::nsc::Output> output;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(nsm::nsc::HelpText().c_str(), stdout);
      return 0;
    }
    if (arg == "--once") {
      once = true;
    } else if (arg == "--output=json") {
      output = nsm::nsc::Output::kJson;
    } else if (arg == "--output=text") {
      output = nsm::nsc::Output::kText;
    } else {
      std::fprintf(stderr, "%s: unknown argument \"%s\" (see %s --help)\n", kCmd, arg.c_str(),
                   kCmd);
      return 2;
    }
  }
  return Run(once, output);
}

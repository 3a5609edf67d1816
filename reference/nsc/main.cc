// nsc: the reference network service client binary (control plane only), configured from the
// environment like cmd-nsc: requests, prints the connections, holds them (or --once), closes.
// Start-up in core/cmd.h.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/cmd.h"
#include "core/log.h"
#include "core/metrics/metrics.h"
#include "healing/heal/client.h"
#include "healing/metrics/metrics.h"
#include "healing/refresh/client.h"
#include "reference/nsc/config.h"
#include "reference/nsc/nsc.h"

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

// Requests every service, prints the connections, holds them until a signal (or not: --once),
// closes them when stopped.
class Service : public nsm::cmd::Service {
 public:
  Service(std::shared_ptr<nsm::client::Client> client, nsm::nsc::Options options,
          nsm::nsc::Output output, bool once, std::unique_ptr<nsm::metrics::HttpServer> metrics)
      : client_(std::move(client)),
        options_(std::move(options)),
        output_(output),
        once_(once),
        metrics_(std::move(metrics)) {}

  int Run(nsm::cmd::Process& process) override {
    for (size_t i = 0; i < options_.network_services.size(); ++i) {
      const nsm::NetworkServiceRequest request = nsm::nsc::MakeRequest(options_, i);
      auto conn = nsm::nsc::RequestWithRetry(*client_, process.context(), request,
                                             options_.request_timeout);
      if (!conn.ok()) {
        nsm::log::Error(
            kCmd, absl::StrCat("request for ", request.connection().network_service(), " (",
                               request.connection().id(), ") failed: ", conn.status().ToString()));
        return 1;
      }
      nsm::log::Info(kCmd,
                     absl::StrCat("connected to ", conn->network_service(), " as ", conn->id()));
      Print(output_, *conn);
      held_.push_back(*std::move(conn));
    }
    if (!once_) {
      nsm::log::Info(kCmd, "holding the connections until a signal");
      process.WaitForStop();
    }
    return 0;
  }

  int Stop() override {
    int code = 0;
    for (auto& conn : held_) {
      auto [ctx, cancel] = nsm::Context().WithTimeout(options_.request_timeout);
      absl::Status closed = client_->Close(ctx, conn);
      cancel();
      if (!closed.ok()) {
        nsm::log::Warn(kCmd, absl::StrCat("closing ", conn.id(), " failed: ", closed.ToString()));
        if (once_) code = 1;
      } else {
        nsm::log::Info(kCmd, absl::StrCat("closed ", conn.id()));
      }
    }
    held_.clear();
    // /metrics is served until the connections are closed (the heal series included).
    metrics_.reset();
    return code;
  }

 private:
  std::shared_ptr<nsm::client::Client> client_;
  nsm::nsc::Options options_;
  nsm::nsc::Output output_;
  bool once_;
  std::vector<nsm::Connection> held_;
  std::unique_ptr<nsm::metrics::HttpServer> metrics_;
};

absl::StatusOr<std::unique_ptr<nsm::cmd::Service>> Start(
    nsm::cmd::Process& process, nsm::nsc::Config& config, bool once,
    std::optional<nsm::nsc::Output> output_flag) {
  if (output_flag) config.output = *output_flag;
  auto metrics = nsm::metrics::StartFromConfig(config.metrics_listen_on, process.name());
  if (!metrics.ok()) return metrics.status();
  nsm::nsc::Options options = config.options;
  options.credentials = process.credentials();
  // The NSC owns refresh and heal (nsmgr.md §7-8): connections are refreshed before the path's
  // earliest expiry and healed when a hop reports them down or goes away.
  struct HealTimes {
    absl::Mutex mu;
    std::map<std::string, absl::Time> started ABSL_GUARDED_BY(mu);
  };
  auto times = std::make_shared<HealTimes>();
  const nsm::nsc::Output output = config.output;
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
  if (!client.ok()) return client.status();
  return std::make_unique<Service>(*std::move(client), std::move(options), output, once,
                                   std::move(metrics->server));
}

}  // namespace

int main(int argc, char** argv) {
  bool once = false;
  std::optional<nsm::nsc::Output> output;
  return nsm::cmd::RunCommand<nsm::nsc::Config>(
      {.name = kCmd,
       .help = nsm::nsc::HelpText,
       .parse = [] { return nsm::nsc::ParseConfig(nsm::reference::ProcessEnvironment()); },
       .describe = nsm::nsc::Describe,
       .flag =
           [&](absl::string_view arg) {
             if (arg == "--once") {
               once = true;
             } else if (arg == "--output=json") {
               output = nsm::nsc::Output::kJson;
             } else if (arg == "--output=text") {
               output = nsm::nsc::Output::kText;
             } else {
               return false;
             }
             return true;
           },
       .start = [&](nsm::cmd::Process& process,
                    nsm::nsc::Config& config) { return Start(process, config, once, output); },
       .tune_malloc = true,
       .limit_callback_threads = true},
      argc, argv);
}

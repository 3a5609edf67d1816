// The main service of the forwarder and nse binaries on core/cmd: log what is served, register
// with the nsmgr (retrying until a stop signal), hold until the signal, unregister and stop.
#include "reference/common/hop_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/log.h"

namespace nsm::reference {
namespace {

class HopService : public cmd::Service {
 public:
  explicit HopService(HopServiceOptions o) : o_(std::move(o)) {}

  int Run(cmd::Process& process) override {
    const std::string& cmd = process.name();
    component_ = cmd;
    absl::Status registered = RetryUntilDone(process.context(), cmd, [&](const Context& ctx) {
      auto [attempt, cancel] = ctx.WithTimeout(absl::Seconds(15));
      auto nse = o_.register_once(attempt);
      cancel();
      if (nse.ok()) {
        log::Info(cmd, absl::StrCat("registered ", nse->name(), o_.registered_as.empty() ? "" : " ",
                                    o_.registered_as, " at ", nse->url(), " with ", o_.nsmgr_url));
      }
      return nse.status();
    });
    if (!registered.ok()) {
      if (process.context().cancelled()) return 0;
      log::Error(cmd,
                 absl::StrCat("cannot register with ", o_.nsmgr_url, ": ", registered.ToString()));
      return 1;
    }
    log::Info(cmd, absl::StrCat("startup completed in ",
                                absl::FormatDuration(absl::Now() - process.start_time())));
    process.WaitForStop();
    return 0;
  }

  int Stop() override {
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(10));
    absl::Status stopped = o_.stop(ctx);
    cancel();
    if (!stopped.ok()) {
      log::Warn(component_, absl::StrCat("unregistering failed: ", stopped.ToString()));
    }
    if (o_.after_stop) o_.after_stop();
    return 0;
  }

 private:
  HopServiceOptions o_;
  std::string component_;
};

}  // namespace

std::unique_ptr<cmd::Service> NewHopService(HopServiceOptions options) {
  return std::make_unique<HopService>(std::move(options));
}

void LogServing(const std::string& component, const std::string& url) {
  log::Info(component, absl::StrCat("serving on ", url));
  if (auto parsed = api::ParseNsmUrl(url);
      parsed.ok() && parsed->scheme == api::NsmUrl::Scheme::kTcp && parsed->host.empty()) {
    log::Warn(component, absl::StrCat("the registered URL ", url,
                                      " names no host, so no peer can dial it: listen on an "
                                      "address (NSM_LISTEN_ON=tcp://<ip>:<port>)"));
  }
}

}  // namespace nsm::reference

// The main service of the forwarder and nse binaries on core/cmd: log what is served, register
// with the nsmgr (retrying until a stop signal), hold until the signal, unregister and stop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/cmd.h"
#include "reference/common/registrar.h"

namespace nsm::reference {

struct HopServiceOptions {
  // One attempt to register (15 s each).
  std::function<absl::StatusOr<NSE>(const Context&)> register_once;
  // Unregisters and stops the hop (10 s).
  std::function<absl::Status(const Context&)> stop;
  // For the log lines: the nsmgr URL and what follows "registered <name>" ("as an endpoint of
  // forwarder", may be empty).
  std::string nsmgr_url;
  std::string registered_as;
  // Runs after stop (removing a socket directory...).
  std::function<void()> after_stop = nullptr;
};

// Run: registers, logs "startup completed in ..." and waits for the stop signal (0), or 1 when
// registering failed for another reason than the signal. Stop: `stop` then `after_stop`; a failed
// unregistration is a warning.
std::unique_ptr<cmd::Service> NewHopService(HopServiceOptions options);

// "serving on <url>", and a warning when the URL (tcp without host) cannot be dialled by peers.
void LogServing(const std::string& component, const std::string& url);

}  // namespace nsm::reference

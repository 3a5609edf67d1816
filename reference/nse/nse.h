// The reference network service endpoint, control plane only (like cmd-nse-icmp-responder): an
// endpoint chain that assigns point-to-point addresses and accepts KERNEL/MEMIF/NOOP, served over
// gRPC and registered with its nsmgr for its services, which it registers too (nsmgr.md §3.1,
// §10; sandbox.md §3.3; mechanisms.md §4-5, §7).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "core/token.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/monitor/store.h"
#include "reference/common/hop_server.h"
#include "reference/common/registrar.h"
#include "reference/nse/ipam.h"

namespace nsm::nse {

struct Options {
  // Path segment name and registered endpoint name (NSM_NAME).
  std::string name = "icmp-server";
  // The nsmgr to register with (NSM_CONNECT_TO); empty: Register() is refused.
  std::string nsmgr_url = {};
  // Services provided (NSM_SERVICE_NAMES), each registered with `labels` (NSM_LABELS).
  std::vector<std::string> service_names = {"icmp-responder"};
  std::map<std::string, std::string> labels = {};
  // Register the services themselves, with this payload (NSM_REGISTER_SERVICE, NSM_PAYLOAD).
  bool register_service = true;
  std::string payload = "ETHERNET";
  // Prefixes to assign point-to-point pairs from (NSM_CIDR_PREFIX); empty: no IPAM.
  std::vector<std::string> cidr_prefixes = {"169.254.0.0/16"};
  // Most connections holding addresses at once.
  size_t max_connections = 65536;
  // Mechanism types accepted (KERNEL, MEMIF, NOOP, VFIO); empty: no mechanisms element, any
  // request is accepted as it is (as the Go sandbox's endpoints).
  std::vector<std::string> mechanisms = {"KERNEL", "MEMIF", "NOOP"};
  absl::Duration max_token_lifetime = kDefaultMaxTokenLifetime;

  // Required for Serve() and Register(): the insecure mode is chosen by name.
  std::shared_ptr<Credentials> credentials = {};
  // Default: NewInsecureTokenGenerator(name, max_token_lifetime, clock).
  std::shared_ptr<const TokenGenerator> tokens = {};
  std::shared_ptr<Clock> clock = RealClock();
  std::shared_ptr<ThreadPool> pool = {};
  // S5; default allow all.
  std::shared_ptr<NetworkServiceServer> authorize = {};
  // Extra server elements after IPAM and mechanisms (counters in tests, the sandbox's extras).
  std::vector<std::shared_ptr<NetworkServiceServer>> additional = {};
  // Serve() runs the chain on gRPC's threads instead of a worker (AdmissionOptions::inline_calls):
  // only when no element waits (the binary's chain: no `authorize` or `additional` that call out).
  bool inline_calls = false;
};

struct Chain {
  std::shared_ptr<endpoint::Endpoint> server;
  std::shared_ptr<monitor::ConnectionStore> store;
  std::shared_ptr<Point2PointIpam> ipam;  // null without prefixes
};

// endpoint(name, authorize, monitor(store)) + [ipam, mechanisms{KERNEL: interface name and
// netns defaults, others as given}, additional...]. InvalidArgument for a bad prefix or an
// unknown mechanism type.
absl::StatusOr<Chain> NewServer(const Options& options);

class Endpoint {
 public:
  static absl::StatusOr<std::unique_ptr<Endpoint>> Create(const Context& ctx, Options options);
  // Stop() with a 5 s deadline.
  ~Endpoint();

  const Options& options() const { return options_; }
  const std::shared_ptr<endpoint::Endpoint>& server() const { return chain_.server; }
  const std::shared_ptr<monitor::ConnectionStore>& store() const { return chain_.store; }
  const std::shared_ptr<Point2PointIpam>& ipam() const { return chain_.ipam; }

  // Serves NetworkService, MonitorConnection and health on `listen_on`.
  absl::Status Serve(std::vector<std::string> listen_on);
  std::vector<std::string> urls() const;

  // {name, network_service_names, network_service_labels: {service: labels}, url}.
  reference::NSE Registration(const std::string& url = "") const;
  // With register_service: each service not registered yet as {name, payload} first (an
  // existing one is left as it is; services are never unregistered: other endpoints may provide
  // them); then the endpoint (refreshed, healed, unregistered by Stop). One
  // attempt; returns what the registry stored. FAILED_PRECONDITION without nsmgr_url.
  absl::StatusOr<reference::NSE> Register(const Context& ctx, const std::string& url = "");

  // Unregisters, stops serving. Idempotent.
  absl::Status Stop(const Context& ctx, absl::Duration grace = absl::Seconds(5));

 private:
  Endpoint() = default;
  Options options_;
  Chain chain_;
  std::unique_ptr<reference::Registrar> registrar_;
  std::unique_ptr<reference::HopServer> hop_server_;
  bool stopped_ = false;
};

}  // namespace nsm::nse

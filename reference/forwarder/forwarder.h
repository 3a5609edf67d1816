// The reference forwarder, control plane only: an endpoint chain that finds the NSE through its
// nsmgr's registry (discover, roundrobin), accepts the caller's mechanism and connects to the next
// hop with mechanismtranslation and its own mechanism preferences; served over gRPC and
// registered with its nsmgr as an endpoint of the "forwarder" service (nsmgr.md §1, §3.1, §6,
// §9; sandbox.md §3.2; cmd-forwarder-vpp).
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
#include "core/registry.h"
#include "core/token.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/metrics/stats.h"
#include "networkservice/monitor/store.h"
#include "networkservice/monitor/watch.h"
#include "reference/common/hop_server.h"
#include "reference/common/registrar.h"
#include "reference/forwarder/mechanisms.h"

namespace nsm::forwarder {

struct Options {
  // Path segment name and registered endpoint name (NSM_NAME).
  std::string name = "forwarder";
  // The nsmgr (NSM_CONNECT_TO): discover looks NSEs up in its registry, Register() registers
  // there. Not needed when both registry clients below are given and Register() is not used.
  std::string nsmgr_url = {};
  // The network service forwarders register under (NSM_NSNAME) and its labels (NSM_LABELS);
  // nsmgr forwarder selection matches on them (nsmgr.md §5).
  std::string service_name = "forwarder";
  std::map<std::string, std::string> labels = {{"p2p", "true"}};
  // How long to wait for the next hop's channel (NSM_DIAL_TIMEOUT), apart from the request
  // deadline.
  absl::Duration dial_timeout = absl::Milliseconds(750);
  // How long the monitor stream to a next hop stays open after its last connection, for the next
  // one (monitor::WatchOptions::stream_linger).
  absl::Duration monitor_stream_linger = monitor::WatchOptions{}.stream_linger;
  // Lifetime of the tokens this hop issues (NSM_MAX_TOKEN_LIFETIME).
  absl::Duration max_token_lifetime = kDefaultMaxTokenLifetime;
  MechanismOptions mechanisms = {};

  // Required: transport security is chosen by name (MakeInsecureCredentials()).
  std::shared_ptr<Credentials> credentials = {};
  // Default: NewInsecureTokenGenerator(name, max_token_lifetime, clock).
  std::shared_ptr<const TokenGenerator> tokens = {};
  std::shared_ptr<Clock> clock = RealClock();
  // Runs begin's events and the gRPC calls; default the process pool.
  std::shared_ptr<ThreadPool> pool = {};
  // Serve() runs incoming calls on fibers that park while they wait for the next hop
  // (AdmissionOptions::fibers); false: each holds a worker of `pool` until it ends.
  bool fibers = true;
  // Next-hop channels; default a pool of its own with `credentials`.
  std::shared_ptr<connect::ChannelPool> channels = {};
  // Registry clients for discover. Default: chains to nsmgr_url (refresh, heal), shared with
  // Register(). A test or sandbox may pass in-process ones.
  std::shared_ptr<NSRegistryClient> ns_registry = {};
  std::shared_ptr<NSERegistryClient> nse_registry = {};
  // S5; default allow all.
  std::shared_ptr<NetworkServiceServer> authorize = {};
  // Extra server elements after roundrobin (counters, fault injection in tests).
  std::vector<std::shared_ptr<NetworkServiceServer>> additional = {};
  // Extra client elements of the nested client, after the mechanism client.
  std::vector<std::shared_ptr<NetworkServiceClient>> additional_client = {};
  // Where the chain counts (networkservice/metrics, docs/metrics.md); null: no metrics.
  std::shared_ptr<prometheus::Registry> metrics = {};
};

// The pieces of the chain, for callers who serve it themselves.
struct Chain {
  std::shared_ptr<endpoint::Endpoint> server;           // what NetworkService calls run through
  std::shared_ptr<monitor::ConnectionStore> store;      // what MonitorConnection serves
  std::shared_ptr<metrics::NetworkServiceStats> stats;  // null without Options::metrics
};

// The forwarder chain:
//   endpoint(name, authorize, monitor(store)) +
//   [discover(ns_registry, nse_registry), roundrobin, additional...,
//    mechanisms server (LOCAL types, VXLAN/WIREGUARD/VLAN when configured),
//    connect(client(name, dial(channels, dial_timeout),
//                   [monitor client, mechanismtranslation, forwarder mechanisms client,
//                    additional_client...], connect client))]
// InvalidArgument for invalid mechanism options, missing credentials or registry clients.
absl::StatusOr<Chain> NewServer(const Options& options);

// A forwarder that serves and registers itself: what the binary and the sandbox use.
class Forwarder {
 public:
  // Builds the chain; registry clients towards options.nsmgr_url when none are given. Work
  // started by the forwarder ends with `ctx` or Stop().
  static absl::StatusOr<std::unique_ptr<Forwarder>> Create(const Context& ctx, Options options);
  // Stop() with a 5 s deadline.
  ~Forwarder();

  const Options& options() const { return options_; }
  const std::shared_ptr<endpoint::Endpoint>& server() const { return chain_.server; }
  const std::shared_ptr<monitor::ConnectionStore>& store() const { return chain_.store; }

  // Serves NetworkService, MonitorConnection and health on `listen_on` (tcp port 0 picks one).
  absl::Status Serve(std::vector<std::string> listen_on);
  // The URLs served, ports resolved; empty before Serve().
  std::vector<std::string> urls() const;

  // The registration: {name, network_service_names: [service_name], network_service_labels:
  // {service_name: labels}, url}; `url` defaults to the first served URL.
  reference::NSE Registration(const std::string& url = "") const;
  // Registers it with the nsmgr (one attempt; refresh keeps it alive, heal restores it after an
  // nsmgr restart) and returns what the registry stored. FAILED_PRECONDITION without nsmgr_url.
  absl::StatusOr<reference::NSE> Register(const Context& ctx, const std::string& url = "");

  // Unregisters, then stops serving (calls in flight get `grace`). Idempotent.
  absl::Status Stop(const Context& ctx, absl::Duration grace = absl::Seconds(5));

 private:
  Forwarder() = default;

  Options options_;
  Chain chain_;
  std::unique_ptr<reference::Registrar> registrar_;
  std::unique_ptr<reference::HopServer> hop_server_;
  bool stopped_ = false;
};

}  // namespace nsm::forwarder

// The sandbox: whole NSM domains in one test process — a domain registry, nodes with an nsmgr and
// forwarders, NSEs and NSCs — over real gRPC on unix sockets in a temp dir (sandbox.md §1-§6).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/context.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/grpc_server.h"
#include "core/grpc_transport.h"
#include "core/networkservice.h"
#include "core/registry.h"
#include "core/token.h"
#include "healing/heal/client.h"
#include "healing/refresh/client.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/monitor/client.h"
#include "networkservice/monitor/grpc_service.h"
#include "networkservice/monitor/store.h"
#include "nsmgr/nsmgr.h"
#include "registry/chains/client.h"
#include "registry/chains/memory.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/server.h"

namespace nsm::testing {

using NSE = ::registry::NetworkServiceEndpoint;
using NS = ::registry::NetworkService;

// sandbox.md §6 constants: the dial timeout of every hop, the lifetime of test tokens, and the
// short registry expiry that expiry tests use.
inline constexpr absl::Duration kDialTimeout = absl::Seconds(2);
inline constexpr absl::Duration kTestTokenLifetime = absl::Hours(1);
inline constexpr absl::Duration kRegistryExpiryDuration = absl::Seconds(1);

// "<prefix>-<uuid>".
std::string UniqueName(const std::string& prefix);

// The token generator of a hop, by the hop's name.
using TokenGeneratorFunc =
    std::function<std::shared_ptr<const TokenGenerator>(const std::string& hop)>;
// Insecure tokens valid for `lifetime` on `clock` (GenerateTestToken / GenerateExpiringToken).
TokenGeneratorFunc TestTokens(std::shared_ptr<Clock> clock,
                              absl::Duration lifetime = kTestTokenLifetime);

// The default request of the nsmgr tests: a KERNEL mechanism preference and `service`.
NetworkServiceRequest DefaultRequest(const std::string& service);

class Domain;
class Node;

// A server that can crash and come back on the same URL (sandbox.md §4). Call from one thread
// (the test's).
class Restartable {
 public:
  virtual ~Restartable() = default;
  Restartable(const Restartable&) = delete;
  Restartable& operator=(const Restartable&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  bool serving() const { return serving_; }

  // The crash: the server stops at once (calls and streams cut), registrations are left behind
  // without an Unregister, in-memory state is lost; the URL stays unused. Idempotent.
  void Cancel();
  // A fresh object with no state of the previous one, served on the same URL and registered again
  // where it registers. Cancels the current one first.
  absl::Status Restart();

 protected:
  Restartable(Domain& domain, std::string name, std::string url)
      : domain_(domain), name_(std::move(name)), url_(std::move(url)) {}
  virtual absl::Status Start() = 0;
  virtual void Stop() = 0;
  // Call from the destructor of the most derived class.
  void StopServing() { Cancel(); }

  Domain& domain_;
  std::string name_;
  std::string url_;

 private:
  bool serving_ = false;
};

// The domain registry (registry-memory chains) served on its URL.
class RegistryEntry final : public Restartable {
 public:
  RegistryEntry(Domain& domain, std::string url, absl::Duration expiry);
  ~RegistryEntry() override { StopServing(); }
  // Valid while serving.
  reg::chains::MemoryRegistry& registry() { return registry_; }
  reg::transport::RegistryGrpcServer& server() { return *server_; }

 private:
  absl::Status Start() override;
  void Stop() override;
  absl::Duration expiry_;
  reg::chains::MemoryRegistry registry_;
  std::unique_ptr<reg::transport::RegistryGrpcServer> server_;
};

// A node's nsmgr served on its URL.
class NsmgrEntry final : public Restartable {
 public:
  NsmgrEntry(Domain& domain, std::string name, std::string url, nsmgr::Options options);
  ~NsmgrEntry() override { StopServing(); }
  // Valid while serving.
  nsmgr::Nsmgr& nsmgr() { return server_->nsmgr(); }

 private:
  absl::Status Start() override;
  void Stop() override;
  nsmgr::Options options_;
  std::unique_ptr<nsmgr::Server> server_;
};

// A forwarder or an NSE: its endpoint chain (with a monitor server) served on its URL with
// MonitorConnection and health, registered with its node's nsmgr through RegistryClients
// (refresh keeps the registration alive, heal restores it after an nsmgr restart).
class EndpointEntry final : public Restartable {
 public:
  enum class Kind { kForwarder, kEndpoint };
  EndpointEntry(Domain& domain, Node& node, Kind kind, NSE registration,
                std::vector<std::shared_ptr<NetworkServiceServer>> additional);
  ~EndpointEntry() override { StopServing(); }

  Kind kind() const { return kind_; }
  // What the nsmgr answered to the last registration (name, url, expiration, labels).
  const NSE& registration() const { return registered_; }

  // Valid while serving.
  endpoint::Endpoint& endpoint() { return *endpoint_; }
  monitor::ConnectionStore& store() { return *store_; }
  // MonitorConnection streams peers have open to this hop.
  size_t monitor_streams() const { return monitor_service_ ? monitor_service_->open_streams() : 0; }
  // Streams the forwarder's nested client has open to its next hops (0 for an NSE).
  size_t downstream_streams() const {
    return monitor_client_ ? monitor_client_->open_streams() : 0;
  }
  // Streams it has started so far.
  uint64_t downstream_streams_started() const {
    return monitor_client_ ? monitor_client_->started_streams() : 0;
  }
  // The registration chains (Register/Unregister more services, or this one again).
  reg::chains::RegistryClients& registry_clients() { return *registry_clients_; }

 private:
  absl::Status Start() override;
  void Stop() override;

  Node& node_;
  Kind kind_;
  NSE wanted_;
  NSE registered_;
  std::vector<std::shared_ptr<NetworkServiceServer>> additional_;

  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<monitor::ConnectionStore> store_;
  std::shared_ptr<monitor::Client> monitor_client_;
  std::shared_ptr<endpoint::Endpoint> endpoint_;
  std::unique_ptr<NetworkServiceGrpcServer> network_service_;
  std::unique_ptr<monitor::GrpcService> monitor_service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<reg::chains::RegistryClients> registry_clients_;
};

struct ClientOptions {
  // The NSC's path segment name; default "client-<uuid>".
  std::string name = {};
  // The refresh and heal slots (healing/refresh, healing/heal). Without heal the NSC watches its
  // connections with a monitor client into store().
  bool refresh = true;
  bool heal = true;
  healing::heal::Options heal_options = {};  // chain_ctx is set by the sandbox
  // Elements after dial (C10-C11).
  std::vector<std::shared_ptr<NetworkServiceClient>> additional = {};
  // Default: the domain's token generator for `name`.
  std::shared_ptr<const TokenGenerator> tokens = nullptr;
  // Deadline of Request and Close.
  absl::Duration timeout = absl::Seconds(15);
};

// An NSC: the client chain to its node's nsmgr.
class Nsc {
 public:
  ~Nsc();
  absl::StatusOr<Connection> Request(NetworkServiceRequest request);
  absl::Status Close(Connection conn);

  const std::string& name() const { return client_->name(); }
  client::Client& client() { return *client_; }
  // Null when not in the chain.
  healing::heal::Client* heal() { return heal_.get(); }
  healing::refresh::Client* refresh() { return refresh_.get(); }
  // The connections as the NSC's monitor client sees them (null with heal).
  monitor::ConnectionStore* store() { return store_.get(); }
  size_t connections() const { return client_->connections(); }
  // Next-hop monitor streams (heal watches or monitor client streams).
  size_t streams() const;

  // The client process dies: refresh and heal stop, its chain and streams go away, nothing is
  // closed. Request/Close fail afterwards.
  void Kill();

 private:
  friend class Node;
  friend class Domain;
  Nsc() = default;
  std::shared_ptr<Clock> clock_;
  absl::Duration timeout_;
  Context::CancelFunc cancel_;
  std::shared_ptr<client::Client> client_;
  std::shared_ptr<healing::heal::Client> heal_;
  std::shared_ptr<healing::refresh::Client> refresh_;
  std::shared_ptr<monitor::Client> monitor_;
  std::shared_ptr<monitor::ConnectionStore> store_;
};

// One node: an nsmgr, its forwarders (by name) and its NSEs.
class Node {
 public:
  Node(Domain& domain, size_t index) : domain_(domain), index_(index) {}
  ~Node();

  Domain& domain() { return domain_; }
  size_t index() const { return index_; }
  // "node-<index>": the nsmgr's NODE_NAME.
  std::string node_name() const;

  // Creates the nsmgr (sandbox.md §3.1); once per node. Name default "nsmgr-<uuid>".
  absl::StatusOr<NsmgrEntry*> NewNsmgr(std::string name = {});
  NsmgrEntry& nsmgr() { return *nsmgr_; }
  bool has_nsmgr() const { return nsmgr_ != nullptr; }

  // A forwarder (sandbox.md §3.2): endpoint chain named registration.name + discover (the nsmgr's
  // registry over gRPC) + roundrobin + `additional` + connect (nested client: same name,
  // mechanismtranslation, dial with the dial timeout, monitor client, connect). Name default
  // "forwarder-<uuid>", URL default a new socket. Registered with the nsmgr.
  absl::StatusOr<EndpointEntry*> NewForwarder(
      NSE registration, std::vector<std::shared_ptr<NetworkServiceServer>> additional = {});
  // An NSE (sandbox.md §3.3): endpoint chain with a monitor server and `additional`, registered
  // with the nsmgr. Name default "nse-<uuid>", URL default a new socket.
  absl::StatusOr<EndpointEntry*> NewEndpoint(
      NSE registration, std::vector<std::shared_ptr<NetworkServiceServer>> additional = {});
  // An NSC of this node (sandbox.md §3.4).
  absl::StatusOr<std::shared_ptr<Nsc>> NewClient(ClientOptions options = {});

  // By name; null when unknown.
  EndpointEntry* forwarder(const std::string& name);
  EndpointEntry* endpoint(const std::string& name);
  const std::map<std::string, std::unique_ptr<EndpointEntry>>& forwarders() const {
    return forwarders_;
  }
  const std::map<std::string, std::unique_ptr<EndpointEntry>>& endpoints() const {
    return endpoints_;
  }

 private:
  friend class Domain;
  absl::StatusOr<EndpointEntry*> Add(EndpointEntry::Kind kind, NSE registration,
                                     std::vector<std::shared_ptr<NetworkServiceServer>> additional);
  Domain& domain_;
  size_t index_;
  std::unique_ptr<NsmgrEntry> nsmgr_;
  std::map<std::string, std::unique_ptr<EndpointEntry>> forwarders_;
  std::map<std::string, std::unique_ptr<EndpointEntry>> endpoints_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<Nsc>> clients_ ABSL_GUARDED_BY(mu_);
};

// The default node setup: an nsmgr and one forwarder {name "forwarder-<uuid>", service
// "forwarder", labels {forwarder: {p2p: true}}}.
absl::Status SetupDefaultNode(Node& node);

class Builder;

// A built domain. Destroying it stops everything and removes the temp dir.
class Domain {
 public:
  ~Domain();
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }
  // Null without a domain registry.
  RegistryEntry* registry() { return registry_.get(); }
  size_t nodes() const { return nodes_.size(); }
  Node& node(size_t i) { return *nodes_.at(i); }

  const std::shared_ptr<Clock>& clock() const { return clock_; }
  const std::shared_ptr<Credentials>& credentials() const { return credentials_; }
  std::shared_ptr<const TokenGenerator> tokens(const std::string& hop) const {
    return tokens_(hop);
  }
  absl::Duration dial_timeout() const { return dial_timeout_; }
  absl::Duration monitor_stream_linger() const { return monitor_stream_linger_; }
  // The monitor clients' options: the domain's linger and clock.
  monitor::WatchOptions watch_options() const {
    return {.stream_linger = monitor_stream_linger_, .clock = clock_};
  }
  // The domain's lifetime; cancelled first by the destructor.
  const Context& context() const { return ctx_; }
  // A context on the domain's clock with a deadline `timeout` away.
  std::pair<Context, Context::CancelFunc> WithTimeout(absl::Duration timeout = absl::Seconds(15));
  // unix://<dir>/<prefix>_<counter>.sock
  std::string NewUrl(const std::string& prefix);

  // The NS registry client chain of sandbox.md §1: at the domain registry, else at node 0's
  // nsmgr; FailedPrecondition when neither exists.
  absl::StatusOr<reg::chains::RegistryClients*> NSRegistryClients();
  // Registers `ns` through it and returns the answer.
  absl::StatusOr<NS> RegisterNS(NS ns);

  // Whatever is still held anywhere: connections at every nsmgr, forwarder, NSE and live NSC,
  // monitor streams, stored monitor connections, dialled channels held (the nsmgrs' and the
  // domain's shared pool). "" when nothing is left.
  std::string Leftovers();
  // Polls Leftovers() (bounded, real time) until it is empty; returns the last non-empty one.
  std::string AwaitNoLeftovers(absl::Duration timeout = absl::Seconds(10));

  // Shared by the hops of the domain.
  const std::shared_ptr<connect::ChannelPool>& channels() const { return channels_; }
  const std::shared_ptr<reg::transport::ChannelPool>& registry_channels() const {
    return registry_channels_;
  }

 private:
  friend class Builder;
  Domain() = default;

  std::string name_;
  std::string dir_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<Credentials> credentials_;
  TokenGeneratorFunc tokens_;
  absl::Duration dial_timeout_;
  absl::Duration monitor_stream_linger_;
  std::function<void(nsmgr::Options&)> customize_nsmgr_;
  Context ctx_;
  Context::CancelFunc cancel_;
  std::shared_ptr<connect::ChannelPool> channels_;
  std::shared_ptr<reg::transport::ChannelPool> registry_channels_;
  std::shared_ptr<ThreadPool> clients_pool_;  // begin events of the NSCs
  std::unique_ptr<RegistryEntry> registry_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<reg::chains::RegistryClients> ns_clients_;
  absl::Mutex mu_;
  int url_counter_ ABSL_GUARDED_BY(mu_) = 0;

  friend class Node;
  friend class NsmgrEntry;
};

// Builds a Domain (sandbox.md §2). Defaults: 1 node, a domain registry, the default node setup,
// domain "cluster.local", insecure test tokens valid 1 h on the real clock, registry expiry 1 min,
// dial timeout 2 s.
class Builder {
 public:
  Builder& SetNodesCount(size_t n);
  // false: no domain registry; nsmgrs keep NetworkServices and endpoints local.
  Builder& SetRegistry(bool on);
  Builder& SetNodeSetup(std::function<absl::Status(Node&)> setup);
  Builder& SetDomainName(std::string name);
  Builder& SetTokenGenerator(TokenGeneratorFunc tokens);
  // The clock of every chain, timer, token and registry of the domain (a FakeClock in tests).
  // The default token generator follows it.
  Builder& SetClock(std::shared_ptr<Clock> clock);
  Builder& SetRegistryExpiryDuration(absl::Duration d);
  Builder& SetDialTimeout(absl::Duration d);
  // How long the hops' monitor streams to their next hops stay open after the last connection
  // (monitor::WatchOptions::stream_linger). Zero by default here, so that a test's end finds no
  // stream left (Leftovers); the binaries linger 30 s.
  Builder& SetMonitorStreamLinger(absl::Duration d);
  // Adjusts every nsmgr's options (forwarder policy, NSE expiry cap ...) before it starts.
  Builder& SetNsmgrOptions(std::function<void(nsmgr::Options&)> customize);

  absl::StatusOr<std::unique_ptr<Domain>> Build();

 private:
  size_t nodes_ = 1;
  bool registry_ = true;
  std::function<absl::Status(Node&)> setup_ = SetupDefaultNode;
  std::string name_ = "cluster.local";
  TokenGeneratorFunc tokens_ = nullptr;
  std::shared_ptr<Clock> clock_ = RealClock();
  absl::Duration registry_expiry_ = absl::Minutes(1);
  absl::Duration dial_timeout_ = kDialTimeout;
  absl::Duration monitor_stream_linger_ = absl::ZeroDuration();
  std::function<void(nsmgr::Options&)> customize_nsmgr_ = nullptr;
};

}  // namespace nsm::testing

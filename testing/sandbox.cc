#include "testing/sandbox.h"

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/mechanisms.h"
#include "api/nsm_url.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/connect/server.h"
#include "networkservice/discover/server.h"
#include "networkservice/mechanismtranslation/client.h"
#include "networkservice/monitor/server.h"
#include "networkservice/roundrobin/server.h"
#include "networkservice/supersede/server.h"
#include "networkservice/updatepath/common.h"
#include "registry/transport/client.h"

namespace nsm::testing {
namespace {

// Each hop runs its chain (which blocks on the next hop) on its own pool, so hops never starve each
// other: 8 workers, elastic like the process pool of a binary (DefaultThreadPool).
std::shared_ptr<ThreadPool> NewHopPool() { return NewChainPool(8); }

const std::vector<std::string>& HopHealthServices() {
  static const auto* names =
      new std::vector<std::string>{"networkservice.NetworkService", "connection.MonitorConnection"};
  return *names;
}

}  // namespace

std::string UniqueName(const std::string& prefix) {
  return absl::StrCat(prefix, "-", updatepath::NewUuid());
}

TokenGeneratorFunc TestTokens(std::shared_ptr<Clock> clock, absl::Duration lifetime) {
  return [clock = std::move(clock), lifetime](const std::string& hop) {
    return std::shared_ptr<const TokenGenerator>(NewInsecureTokenGenerator(hop, lifetime, clock));
  };
}

NetworkServiceRequest DefaultRequest(const std::string& service) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_network_service(service);
  *r.add_mechanism_preferences() = api::mech::MakeKernel();
  return r;
}

// --- Restartable ------------------------------------------------------------------------------

void Restartable::Cancel() {
  if (!serving_) return;
  serving_ = false;
  Stop();
}

absl::Status Restartable::Restart() {
  Cancel();
  absl::Status s = Start();
  if (!s.ok()) {
    Stop();
    return s;
  }
  serving_ = true;
  return absl::OkStatus();
}

// --- RegistryEntry ----------------------------------------------------------------------------

RegistryEntry::RegistryEntry(Domain& domain, std::string url, absl::Duration expiry)
    : Restartable(domain, "registry", std::move(url)), expiry_(expiry) {}

absl::Status RegistryEntry::Start() {
  reg::chains::MemoryRegistryOptions options;
  options.expire_period = expiry_;
  registry_ = reg::chains::NewMemoryRegistry(options);
  reg::transport::ServerOptions server_options;
  server_options.listen_on = {url_};
  server_options.credentials = domain_.credentials();
  server_options.service.clock = domain_.clock();
  auto server = reg::transport::RegistryGrpcServer::Start(registry_.ns, registry_.nse,
                                                          std::move(server_options));
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  return absl::OkStatus();
}

void RegistryEntry::Stop() {
  if (server_) server_->Shutdown(absl::ZeroDuration());
  server_.reset();
  registry_ = {};
}

// --- NsmgrEntry -------------------------------------------------------------------------------

NsmgrEntry::NsmgrEntry(Domain& domain, std::string name, std::string url, nsmgr::Options options)
    : Restartable(domain, std::move(name), std::move(url)), options_(std::move(options)) {}

absl::Status NsmgrEntry::Start() {
  nsmgr::Options options = options_;
  options.pool = NewHopPool();
  auto server = nsmgr::Server::Start(std::move(options), {url_});
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  return absl::OkStatus();
}

void NsmgrEntry::Stop() {
  if (server_) server_->Shutdown(absl::ZeroDuration());
  server_.reset();
}

// --- EndpointEntry ----------------------------------------------------------------------------

EndpointEntry::EndpointEntry(Domain& domain, Node& node, Kind kind, NSE registration,
                             std::vector<std::shared_ptr<NetworkServiceServer>> additional)
    : Restartable(domain, registration.name(), registration.url()),
      node_(node),
      kind_(kind),
      wanted_(std::move(registration)),
      additional_(std::move(additional)) {}

absl::Status EndpointEntry::Start() {
  pool_ = NewHopPool();
  store_ = monitor::ConnectionStore::Create();
  auto tokens = domain_.tokens(name_);
  const std::string nsmgr_url = node_.nsmgr().url();

  // A client connection's new connection at this hop closes the one it replaces (after a heal
  // that reselected a forwarder or went through a restarted nsmgr; issue #6).
  std::vector<std::shared_ptr<NetworkServiceServer>> elements = {supersede::NewServer()};
  if (kind_ == Kind::kForwarder) {
    // NSE discovery against the node's nsmgr registry (nsmgr.md §6), then the nested client.
    auto channel = domain_.registry_channels()->Get(nsmgr_url);
    if (!channel.ok()) return channel.status();
    elements.push_back(discover::NewServer(
        std::make_shared<reg::transport::NSRegistryGrpcClient>(*channel, nsmgr_url),
        std::make_shared<reg::transport::NSERegistryGrpcClient>(*channel, nsmgr_url)));
    elements.push_back(roundrobin::NewServer());
    elements.insert(elements.end(), additional_.begin(), additional_.end());
    monitor_client_ = monitor::NewClient(nullptr, domain_.watch_options());
    auto nested = client::NewClient(
        tokens,
        {.name = name_,
         .dial = connect::NewDial(domain_.channels(), {.dial_timeout = domain_.dial_timeout()}),
         .additional = {mechanismtranslation::NewClient(), monitor_client_},
         .connect = connect::NewClient(),
         .pool = pool_});
    if (!nested.ok()) return nested.status();
    elements.push_back(connect::NewServer(*std::move(nested)));
  } else {
    elements.insert(elements.end(), additional_.begin(), additional_.end());
  }
  // A restarted forwarder routes a Close it does not know by the connection (its endpoint name),
  // so the Close still reaches the NSE (DESIGN.md §7).
  auto endpoint = endpoint::NewServer(tokens, {.name = name_,
                                               .monitor = monitor::NewServer(store_),
                                               .additional = std::move(elements),
                                               .pool = pool_,
                                               .close_unknown = kind_ == Kind::kForwarder});
  if (!endpoint.ok()) return endpoint.status();
  endpoint_ = *std::move(endpoint);

  network_service_ = std::make_unique<NetworkServiceGrpcServer>(endpoint_, pool_, domain_.clock());
  monitor_service_ = std::make_unique<monitor::GrpcService>(store_);
  auto server = GrpcServer::Start({network_service_.get(), monitor_service_.get()},
                                  {.listen_on = {url_},
                                   .credentials = domain_.credentials(),
                                   .health_services = HopHealthServices(),
                                   .on_shutdown = [store = store_] { store->Shutdown(); }});
  if (!server.ok()) return server.status();
  server_ = *std::move(server);

  // Registration with the nsmgr, kept alive by refresh and restored by heal.
  auto clients = reg::chains::RegistryClients::Create(domain_.context(),
                                                      {.registry_url = nsmgr_url,
                                                       .credentials = domain_.credentials(),
                                                       .channels = domain_.registry_channels()});
  if (!clients.ok()) return clients.status();
  registry_clients_ = *std::move(clients);
  NSE registration = wanted_;
  registration.set_url(url_);
  auto [ctx, cancel] = domain_.WithTimeout();
  auto registered = registry_clients_->nse().Register(ctx, registration);
  cancel();
  if (!registered.ok()) {
    return absl::Status(registered.status().code(),
                        absl::StrCat("registering ", name_, " with ", node_.nsmgr().name(), ": ",
                                     registered.status().message()));
  }
  registered_ = *std::move(registered);
  return absl::OkStatus();
}

void EndpointEntry::Stop() {
  if (registry_clients_) {
    // A crash says nothing: refresh and heal stop, the registration stays until it expires.
    auto [gone, cancel] = domain_.context().WithCancel();
    cancel();
    (void)registry_clients_->Close(gone);
    registry_clients_.reset();
  }
  if (server_) server_->Shutdown(absl::ZeroDuration());
  server_.reset();
  network_service_.reset();
  monitor_service_.reset();
  endpoint_.reset();
  monitor_client_.reset();
  if (store_) store_->Shutdown();
  store_.reset();
  pool_.reset();
}

// --- Nsc --------------------------------------------------------------------------------------

Nsc::~Nsc() { Kill(); }

absl::StatusOr<Connection> Nsc::Request(NetworkServiceRequest request) {
  if (!client_) return absl::FailedPreconditionError("the NSC has been killed");
  auto [ctx, cancel] = Context::Background(clock_).WithTimeout(timeout_);
  auto result = client_->Request(ctx, request);
  cancel();
  return result;
}

absl::Status Nsc::Close(Connection conn) {
  if (!client_) return absl::FailedPreconditionError("the NSC has been killed");
  auto [ctx, cancel] = Context::Background(clock_).WithTimeout(timeout_);
  absl::Status s = client_->Close(ctx, conn);
  cancel();
  return s;
}

size_t Nsc::streams() const {
  if (heal_) return heal_->open_watches();
  if (monitor_) return monitor_->open_streams();
  return 0;
}

void Nsc::Kill() {
  if (cancel_) cancel_();
  client_.reset();
  refresh_.reset();
  heal_.reset();
  monitor_.reset();
}

// --- Node -------------------------------------------------------------------------------------

Node::~Node() {
  endpoints_.clear();
  forwarders_.clear();
  nsmgr_.reset();
}

std::string Node::node_name() const { return absl::StrCat("node-", index_); }

absl::StatusOr<NsmgrEntry*> Node::NewNsmgr(std::string name) {
  if (nsmgr_) return absl::FailedPreconditionError(node_name() + " already has an nsmgr");
  if (name.empty()) name = UniqueName("nsmgr");
  const std::string url = domain_.NewUrl("nsmgr");
  nsmgr::Options o;
  o.name = name;
  if (domain_.registry_) {
    o.url = url;
    o.registry_url = domain_.registry_->url();
  }
  o.credentials = domain_.credentials();
  o.tokens = domain_.tokens(name);
  o.dial_timeout = domain_.dial_timeout();
  o.monitor_stream_linger = domain_.monitor_stream_linger();
  o.env = [node = node_name()](const std::string& var) -> std::optional<std::string> {
    if (var == "NODE_NAME") return node;
    return std::nullopt;
  };
  o.excluded_prefixes.config_path = domain_.dir() + "/excluded_prefixes.yaml";
  o.excluded_prefixes.clock = domain_.clock();
  o.clock = domain_.clock();
  if (domain_.customize_nsmgr_) domain_.customize_nsmgr_(o);
  auto entry = std::make_unique<NsmgrEntry>(domain_, name, url, std::move(o));
  if (absl::Status s = entry->Restart(); !s.ok()) return s;
  nsmgr_ = std::move(entry);
  return nsmgr_.get();
}

absl::StatusOr<EndpointEntry*> Node::NewForwarder(
    NSE registration, std::vector<std::shared_ptr<NetworkServiceServer>> additional) {
  return Add(EndpointEntry::Kind::kForwarder, std::move(registration), std::move(additional));
}

absl::StatusOr<EndpointEntry*> Node::NewEndpoint(
    NSE registration, std::vector<std::shared_ptr<NetworkServiceServer>> additional) {
  return Add(EndpointEntry::Kind::kEndpoint, std::move(registration), std::move(additional));
}

absl::StatusOr<EndpointEntry*> Node::Add(
    EndpointEntry::Kind kind, NSE registration,
    std::vector<std::shared_ptr<NetworkServiceServer>> additional) {
  if (!nsmgr_) return absl::FailedPreconditionError(node_name() + " has no nsmgr");
  const bool forwarder = kind == EndpointEntry::Kind::kForwarder;
  const std::string prefix = forwarder ? "forwarder" : "nse";
  if (registration.name().empty()) registration.set_name(UniqueName(prefix));
  if (registration.url().empty()) registration.set_url(domain_.NewUrl(prefix));
  auto& entries = forwarder ? forwarders_ : endpoints_;
  if (entries.contains(registration.name())) {
    return absl::AlreadyExistsError(
        absl::StrCat(prefix, " ", registration.name(), " already exists on ", node_name()));
  }
  auto entry = std::make_unique<EndpointEntry>(domain_, *this, kind, std::move(registration),
                                               std::move(additional));
  if (absl::Status s = entry->Restart(); !s.ok()) return s;
  EndpointEntry* raw = entry.get();
  entries[raw->name()] = std::move(entry);
  return raw;
}

absl::StatusOr<std::shared_ptr<Nsc>> Node::NewClient(ClientOptions options) {
  if (!nsmgr_) return absl::FailedPreconditionError(node_name() + " has no nsmgr");
  auto url = api::ParseNsmUrl(nsmgr_->url());
  if (!url.ok()) return url.status();
  std::shared_ptr<Nsc> nsc(new Nsc());
  const std::string name = options.name.empty() ? UniqueName("client") : options.name;
  auto tokens = options.tokens ? options.tokens : domain_.tokens(name);
  auto [ctx, cancel] = domain_.context().WithCancel();
  nsc->clock_ = domain_.clock();
  nsc->timeout_ = options.timeout;
  nsc->cancel_ = cancel;
  if (options.refresh) {
    healing::refresh::Options refresh;
    refresh.chain_ctx = ctx;
    nsc->refresh_ = healing::refresh::NewClient(std::move(refresh));
  }
  std::vector<std::shared_ptr<NetworkServiceClient>> additional = std::move(options.additional);
  if (options.heal) {
    healing::heal::Options heal = std::move(options.heal_options);
    heal.chain_ctx = ctx;
    nsc->heal_ = healing::heal::NewClient(std::move(heal));
  } else {
    nsc->store_ = monitor::ConnectionStore::Create();
    nsc->monitor_ = monitor::NewClient(nsc->store_, domain_.watch_options());
    additional.push_back(nsc->monitor_);
  }
  auto client = client::NewClient(
      tokens,
      {.name = name,
       .refresh = nsc->refresh_,
       .client_url = clienturl::NewClient(*url),
       .heal = nsc->heal_,
       .dial = connect::NewDial(domain_.channels(), {.dial_timeout = domain_.dial_timeout()}),
       .additional = std::move(additional),
       .connect = connect::NewClient(),
       .pool = domain_.clients_pool_});
  if (!client.ok()) return client.status();
  nsc->client_ = *std::move(client);
  absl::MutexLock lock(&mu_);
  std::erase_if(clients_, [](const std::weak_ptr<Nsc>& c) { return c.expired(); });
  clients_.push_back(nsc);
  return nsc;
}

EndpointEntry* Node::forwarder(const std::string& name) {
  auto it = forwarders_.find(name);
  return it == forwarders_.end() ? nullptr : it->second.get();
}

EndpointEntry* Node::endpoint(const std::string& name) {
  auto it = endpoints_.find(name);
  return it == endpoints_.end() ? nullptr : it->second.get();
}

absl::Status SetupDefaultNode(Node& node) {
  if (auto m = node.NewNsmgr(); !m.ok()) return m.status();
  NSE forwarder;
  forwarder.set_name(UniqueName("forwarder"));
  forwarder.add_network_service_names("forwarder");
  (*(*forwarder.mutable_network_service_labels())["forwarder"].mutable_labels())["p2p"] = "true";
  return node.NewForwarder(std::move(forwarder)).status();
}

// --- Domain -----------------------------------------------------------------------------------

Domain::~Domain() {
  if (cancel_) cancel_();
  if (ns_clients_) {
    auto [gone, cancel] = ctx_.WithCancel();
    cancel();
    (void)ns_clients_->Close(gone);
    ns_clients_.reset();
  }
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) it->reset();
  nodes_.clear();
  registry_.reset();
  clients_pool_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::pair<Context, Context::CancelFunc> Domain::WithTimeout(absl::Duration timeout) {
  return Context::Background(clock_).WithTimeout(timeout);
}

std::string Domain::NewUrl(const std::string& prefix) {
  absl::MutexLock lock(&mu_);
  return absl::StrCat("unix://", dir_, "/", prefix, "_", ++url_counter_, ".sock");
}

absl::StatusOr<reg::chains::RegistryClients*> Domain::NSRegistryClients() {
  if (ns_clients_) return ns_clients_.get();
  std::string url;
  if (registry_) {
    url = registry_->url();
  } else if (!nodes_.empty() && nodes_[0]->has_nsmgr()) {
    url = nodes_[0]->nsmgr().url();
  } else {
    return absl::FailedPreconditionError(
        "the domain has neither a registry nor an nsmgr for NetworkServices");
  }
  auto clients = reg::chains::RegistryClients::Create(
      ctx_, {.registry_url = url, .credentials = credentials_, .channels = registry_channels_});
  if (!clients.ok()) return clients.status();
  ns_clients_ = *std::move(clients);
  return ns_clients_.get();
}

absl::StatusOr<NS> Domain::RegisterNS(NS ns) {
  auto clients = NSRegistryClients();
  if (!clients.ok()) return clients.status();
  auto [ctx, cancel] = WithTimeout();
  auto registered = (*clients)->ns().Register(ctx, ns);
  cancel();
  return registered;
}

std::string Domain::Leftovers() {
  std::vector<std::string> left;
  auto note = [&](const std::string& who, const char* what, size_t n) {
    if (n != 0) left.push_back(absl::StrCat(who, ": ", n, " ", what));
  };
  for (auto& node : nodes_) {
    if (node->has_nsmgr() && node->nsmgr().serving()) {
      note(node->nsmgr().name(), "connections", node->nsmgr().nsmgr().connections());
      note(node->nsmgr().name(), "dialled channels in use",
           node->nsmgr().nsmgr().channels_in_use());
    }
    for (const auto* entries : {&node->forwarders_, &node->endpoints_}) {
      for (auto& [name, e] : *entries) {
        if (!e->serving()) continue;
        note(name, "connections", e->endpoint().connections());
        note(name, "monitored connections", e->store().size());
        note(name, "monitor streams from peers", e->monitor_streams());
        note(name, "monitor streams to next hops", e->downstream_streams());
      }
    }
    absl::MutexLock lock(&node->mu_);
    for (auto& weak : node->clients_) {
      auto nsc = weak.lock();
      if (!nsc || !nsc->client_) continue;
      note(nsc->name(), "connections", nsc->connections());
      note(nsc->name(), "monitor streams", nsc->streams());
      if (nsc->heal_) note(nsc->name(), "connections in heal", nsc->heal_->connections());
    }
  }
  // The channels the forwarders and clients of every node dial their next hops with.
  note(name_, "dialled channels in use", channels_->in_use());
  return absl::StrJoin(left, "; ");
}

std::string Domain::AwaitNoLeftovers(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  std::string left = Leftovers();
  while (!left.empty() && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(5));
    left = Leftovers();
  }
  return left;
}

// --- Builder ----------------------------------------------------------------------------------

Builder& Builder::SetNodesCount(size_t n) {
  nodes_ = n;
  return *this;
}
Builder& Builder::SetRegistry(bool on) {
  registry_ = on;
  return *this;
}
Builder& Builder::SetNodeSetup(std::function<absl::Status(Node&)> setup) {
  setup_ = std::move(setup);
  return *this;
}
Builder& Builder::SetDomainName(std::string name) {
  name_ = std::move(name);
  return *this;
}
Builder& Builder::SetTokenGenerator(TokenGeneratorFunc tokens) {
  tokens_ = std::move(tokens);
  return *this;
}
Builder& Builder::SetClock(std::shared_ptr<Clock> clock) {
  clock_ = std::move(clock);
  return *this;
}
Builder& Builder::SetRegistryExpiryDuration(absl::Duration d) {
  registry_expiry_ = d;
  return *this;
}
Builder& Builder::SetMonitorStreamLinger(absl::Duration d) {
  monitor_stream_linger_ = d;
  return *this;
}
Builder& Builder::SetDialTimeout(absl::Duration d) {
  dial_timeout_ = d;
  return *this;
}
Builder& Builder::SetNsmgrOptions(std::function<void(nsmgr::Options&)> customize) {
  customize_nsmgr_ = std::move(customize);
  return *this;
}

absl::StatusOr<std::unique_ptr<Domain>> Builder::Build() {
  if (!clock_) return absl::InvalidArgumentError("sandbox: no clock");
  if (!setup_) return absl::InvalidArgumentError("sandbox: no node setup");
  std::unique_ptr<Domain> d(new Domain());
  char tmpl[] = "/tmp/nsm-sbx-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("sandbox: mkdtemp failed");
  d->dir_ = tmpl;
  d->name_ = name_;
  d->clock_ = clock_;
  d->credentials_ = MakeInsecureCredentials();
  d->tokens_ = tokens_ ? tokens_ : TestTokens(clock_);
  d->dial_timeout_ = dial_timeout_;
  d->monitor_stream_linger_ = monitor_stream_linger_;
  d->customize_nsmgr_ = customize_nsmgr_;
  auto [ctx, cancel] = Context::Background(clock_).WithCancel();
  d->ctx_ = ctx;
  d->cancel_ = cancel;
  // Short reconnect backoff: a restarted hop is found again quickly.
  connect::ChannelOptions channel_options;
  channel_options.initial_reconnect_backoff = absl::Milliseconds(20);
  channel_options.max_reconnect_backoff = absl::Milliseconds(200);
  channel_options.clock = clock_;  // an unused channel lingers on the sandbox's time
  d->channels_ =
      connect::ChannelPool::Create(d->credentials_->ChannelCredentials(), channel_options);
  d->registry_channels_ = std::make_shared<reg::transport::ChannelPool>(d->credentials_);
  d->clients_pool_ = NewHopPool();

  if (registry_) {
    d->registry_ = std::make_unique<RegistryEntry>(*d, d->NewUrl("registry"), registry_expiry_);
    if (absl::Status s = d->registry_->Restart(); !s.ok()) return s;
  }
  for (size_t i = 0; i < nodes_; ++i) {
    d->nodes_.push_back(std::make_unique<Node>(*d, i));
    Node& node = *d->nodes_.back();
    if (absl::Status s = setup_(node); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(node.node_name(), " setup: ", s.message()));
    }
    if (!node.has_nsmgr()) {
      return absl::FailedPreconditionError(node.node_name() + " setup made no nsmgr");
    }
  }
  return d;
}

}  // namespace nsm::testing

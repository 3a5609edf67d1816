// The reference forwarder and NSE libraries end to end over real gRPC on unix sockets and
// loopback tcp, with in-process registries standing in for the nsmgrs' registries (no nsmgr
// yet): nsc -> forwarder -> nse (local: KERNEL, addresses, registration, monitor, refresh,
// close) and nsc -> forwarder A -> forwarder B -> nse (remote: VXLAN negotiated between the
// forwarders with B's VNI of the right parity, KERNEL to the NSE).
#include <filesystem>

#include "absl/strings/numbers.h"
#include "api/mechanisms.h"
#include "connection.grpc.pb.h"
#include "core/credentials.h"
#include "gtest/gtest.h"
#include "reference/forwarder/forwarder.h"
#include "reference/nsc/nsc.h"
#include "reference/nse/nse.h"
#include "registry/chains/memory.h"
#include "registry/transport/server.h"

namespace nsm::reference {
namespace {

namespace mech = api::mech;

// A registry served over gRPC, standing in for an nsmgr's registry.
struct Registry {
  Registry(const std::string& dir, const std::string& name) {
    chains = reg::chains::NewMemoryRegistry({});
    auto s = reg::transport::RegistryGrpcServer::Start(
        chains.ns, chains.nse,
        {.listen_on = {"unix://" + dir + "/" + name + ".sock"},
         .credentials = MakeInsecureCredentials()});
    EXPECT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
    url = server->urls().front();
  }
  std::optional<NSE> FindEndpoint(const std::string& name) {
    ::registry::NetworkServiceEndpointQuery q;
    q.mutable_network_service_endpoint()->set_name(name);
    auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
    if (!chains.nse->Find(Context(), q, s).ok()) return std::nullopt;
    for (auto& r : s->Drain()) {
      if (r.network_service_endpoint().name() == name) return r.network_service_endpoint();
    }
    return std::nullopt;
  }
  std::optional<NS> FindService(const std::string& name) {
    ::registry::NetworkServiceQuery q;
    q.mutable_network_service()->set_name(name);
    auto s = BufferedFindStream<::registry::NetworkServiceResponse>::Create(Context());
    if (!chains.ns->Find(Context(), q, s).ok()) return std::nullopt;
    for (auto& r : s->Drain()) {
      if (r.network_service().name() == name) return r.network_service();
    }
    return std::nullopt;
  }

  reg::chains::MemoryRegistry chains;
  std::unique_ptr<reg::transport::RegistryGrpcServer> server;
  std::string url;
};

class ReferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-ref-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    nsc_.reset();
    forwarders_.clear();
    nse_.reset();
    registries_.clear();
    std::filesystem::remove_all(dir_);
  }

  Registry& NewRegistry(const std::string& name) {
    registries_.push_back(std::make_unique<Registry>(dir_, name));
    return *registries_.back();
  }
  void StartNse(Registry& registry, std::string listen_on = "") {
    if (listen_on.empty()) listen_on = "unix://" + dir_ + "/nse.sock";
    auto nse = nse::Endpoint::Create(Context(), {.name = "nse-1",
                                                 .nsmgr_url = registry.url,
                                                 .service_names = {"icmp"},
                                                 .labels = {{"app", "icmp"}},
                                                 .credentials = MakeInsecureCredentials()});
    ASSERT_TRUE(nse.ok()) << nse.status();
    nse_ = *std::move(nse);
    ASSERT_TRUE(nse_->Serve({listen_on}).ok());
    auto registered = nse_->Register(Context());
    ASSERT_TRUE(registered.ok()) << registered.status();
  }
  forwarder::Forwarder* StartForwarder(const std::string& name, Registry& registry,
                                       const std::string& listen_on,
                                       forwarder::MechanismOptions mechanisms) {
    auto f = forwarder::Forwarder::Create(Context(), {.name = name,
                                                      .nsmgr_url = registry.url,
                                                      .dial_timeout = absl::Seconds(2),
                                                      .mechanisms = std::move(mechanisms),
                                                      .credentials = MakeInsecureCredentials()});
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return nullptr;
    EXPECT_TRUE((*f)->Serve({listen_on}).ok());
    auto registered = (*f)->Register(Context());
    EXPECT_TRUE(registered.ok()) << registered.status();
    forwarders_.push_back(*std::move(f));
    return forwarders_.back().get();
  }
  void StartNsc(const std::string& url) {
    nsc::Options o{.name = "nsc", .nsmgr_url = url, .dial_timeout = absl::Seconds(2)};
    o.network_services.push_back(*api::ParseNscRequestUrl("kernel://icmp/nsm-1?app=demo"));
    o.credentials = MakeInsecureCredentials();
    options_ = o;
    auto c = nsc::NewClient(o);
    ASSERT_TRUE(c.ok()) << c.status();
    nsc_ = *c;
  }
  absl::StatusOr<Connection> Request() {
    auto req = nsc::MakeRequest(options_, 0);
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    auto r = nsc_->Request(ctx, req);
    cancel();
    return r;
  }
  static std::vector<std::string> Names(const Connection& c) {
    std::vector<std::string> out;
    for (const auto& s : c.path().path_segments()) out.push_back(s.name());
    return out;
  }

  std::string dir_;
  std::vector<std::unique_ptr<Registry>> registries_;
  std::unique_ptr<nse::Endpoint> nse_;
  std::vector<std::unique_ptr<forwarder::Forwarder>> forwarders_;
  nsc::Options options_;
  std::shared_ptr<client::Client> nsc_;
};

TEST_F(ReferenceTest, LocalPathNscForwarderNse) {
  Registry& registry = NewRegistry("nsmgr");
  ASSERT_NO_FATAL_FAILURE(StartNse(registry));
  auto* fwd =
      StartForwarder("fwd-1", registry, "unix://" + dir_ + "/fwd.sock", {.tunnel_ip = "10.0.0.1"});
  ASSERT_NE(fwd, nullptr);
  ASSERT_NO_FATAL_FAILURE(StartNsc(fwd->urls().front()));

  // Both registered themselves; the NSE registered its service with the default payload.
  auto fwd_entry = registry.FindEndpoint("fwd-1");
  ASSERT_TRUE(fwd_entry.has_value());
  EXPECT_EQ(fwd_entry->url(), "unix://" + dir_ + "/fwd.sock");
  EXPECT_EQ(fwd_entry->network_service_names(0), "forwarder");
  EXPECT_EQ(fwd_entry->network_service_labels().at("forwarder").labels().at("p2p"), "true");
  auto nse_entry = registry.FindEndpoint("nse-1");
  ASSERT_TRUE(nse_entry.has_value());
  EXPECT_EQ(nse_entry->network_service_labels().at("icmp").labels().at("app"), "icmp");
  auto ns = registry.FindService("icmp");
  ASSERT_TRUE(ns.has_value());
  EXPECT_EQ(ns->payload(), "ETHERNET");

  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Names(*conn), (std::vector<std::string>{"nsc", "fwd-1", "nse-1"}));
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-1");
  EXPECT_EQ(conn->payload(), "ETHERNET");
  // The NSC gets its own mechanism back; the forwarder gave the NSE its own KERNEL.
  EXPECT_EQ(conn->mechanism().type(), mech::kernel::kType);
  EXPECT_EQ(mech::GetParameter(conn->mechanism(), mech::kernel::kInterfaceName), "nsm-1");
  const auto at_nse = nse_->store()->Get(conn->path().path_segments(2).id());
  ASSERT_TRUE(at_nse.has_value());
  EXPECT_EQ(at_nse->mechanism().type(), mech::kernel::kType);
  EXPECT_EQ(mech::GetParameter(at_nse->mechanism(), mech::kernel::kInterfaceName),
            mech::DefaultKernelInterfaceName("icmp", at_nse->id()));
  EXPECT_EQ(at_nse->labels().at("app"), "demo");
  const auto& ip = conn->context().ip_context();
  ASSERT_EQ(ip.src_ip_addrs_size(), 1);
  EXPECT_EQ(ip.src_ip_addrs(0), "169.254.0.1/32");
  EXPECT_EQ(ip.dst_ip_addrs(0), "169.254.0.0/32");
  EXPECT_EQ(nse_->ipam()->connections(), 1u);

  // The forwarder's MonitorConnection serves the connection.
  auto channel =
      grpc::CreateChannel("unix:" + dir_ + "/fwd.sock", grpc::InsecureChannelCredentials());
  auto stub = ::connection::MonitorConnection::NewStub(channel);
  grpc::ClientContext cc;
  cc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ::connection::MonitorScopeSelector selector;
  selector.add_path_segments()->set_id(conn->path().path_segments(1).id());
  auto reader = stub->MonitorConnections(&cc, selector);
  ::connection::ConnectionEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), ::connection::INITIAL_STATE_TRANSFER);
  EXPECT_EQ(event.connections().size(), 1u);
  cc.TryCancel();
  (void)reader->Finish();

  // Refresh: same ids, same addresses.
  NetworkServiceRequest refresh = nsc::MakeRequest(options_, 0);
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc_->Request(Context(), refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(refreshed->path().path_segments(i).id(), conn->path().path_segments(i).id());
  }
  EXPECT_EQ(refreshed->context().ip_context().src_ip_addrs(0), "169.254.0.1/32");
  EXPECT_EQ(refreshed->context().ip_context().src_ip_addrs_size(), 1);

  Connection done = *refreshed;
  ASSERT_TRUE(nsc_->Close(Context(), done).ok());
  EXPECT_EQ(nse_->ipam()->connections(), 0u);
  EXPECT_EQ(nse_->server()->connections(), 0u);
  EXPECT_EQ(fwd->server()->connections(), 0u);
  EXPECT_EQ(fwd->store()->size(), 0u);

  // Stop unregisters.
  ASSERT_TRUE(fwd->Stop(Context()).ok());
  EXPECT_FALSE(registry.FindEndpoint("fwd-1").has_value());
  ASSERT_TRUE(nse_->Stop(Context()).ok());
  EXPECT_FALSE(registry.FindEndpoint("nse-1").has_value());
  EXPECT_TRUE(registry.FindService("icmp").has_value()) << "services stay registered";
}

TEST_F(ReferenceTest, RemotePathNegotiatesVxlanBetweenForwarders) {
  Registry& node_b = NewRegistry("nsmgr-b");
  ASSERT_NO_FATAL_FAILURE(StartNse(node_b));
  auto* fwd_b = StartForwarder("fwd-b", node_b, "tcp://127.0.0.1:0",
                               {.tunnel_ip = "10.0.0.2", .vxlan_port = 4790});
  ASSERT_NE(fwd_b, nullptr);

  // Node A's registry knows the NSE by the URL of node B's entry point (here B's forwarder,
  // standing in for nsmgr B), as localbypass publishes remote endpoints (nsmgr.md §9.3).
  Registry& node_a = NewRegistry("nsmgr-a");
  NS ns;
  ns.set_name("icmp");
  ns.set_payload("ETHERNET");
  ASSERT_TRUE(node_a.chains.ns->Register(Context(), ns).ok());
  NSE remote = *node_b.FindEndpoint("nse-1");
  remote.set_url(fwd_b->urls().front());
  remote.clear_expiration_time();
  ASSERT_TRUE(node_a.chains.nse->Register(Context(), remote).ok());
  auto* fwd_a =
      StartForwarder("fwd-a", node_a, "unix://" + dir_ + "/fwd-a.sock", {.tunnel_ip = "10.0.0.1"});
  ASSERT_NE(fwd_a, nullptr);
  ASSERT_NO_FATAL_FAILURE(StartNsc(fwd_a->urls().front()));

  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Names(*conn), (std::vector<std::string>{"nsc", "fwd-a", "fwd-b", "nse-1"}));
  EXPECT_EQ(conn->mechanism().type(), mech::kernel::kType) << "the NSC's own mechanism";

  // Between the forwarders: VXLAN, A's end offered by A, B's end and the VNI chosen by B.
  const auto at_b = fwd_b->store()->Get(conn->path().path_segments(2).id());
  ASSERT_TRUE(at_b.has_value());
  const auto& vx = at_b->mechanism();
  EXPECT_EQ(vx.type(), mech::vxlan::kType);
  EXPECT_EQ(vx.cls(), mech::kRemote);
  EXPECT_EQ(mech::GetParameter(vx, mech::vxlan::kSrcIP), "10.0.0.1");
  EXPECT_EQ(mech::GetParameter(vx, mech::vxlan::kSrcPort), "4789");
  EXPECT_EQ(mech::GetParameter(vx, mech::vxlan::kDstIP), "10.0.0.2");
  EXPECT_EQ(mech::GetParameter(vx, mech::vxlan::kDstPort), "4790");
  uint32_t vni = 0;
  ASSERT_TRUE(absl::SimpleAtoi(mech::GetParameter(vx, mech::vxlan::kVNI), &vni));
  EXPECT_NE(vni, 0u);
  EXPECT_EQ(vni % 2, 0u) << "10.0.0.1 <= 10.0.0.2: even";
  // A's own view keeps the NSC's mechanism; B gave the NSE a KERNEL of its own.
  const auto at_a = fwd_a->store()->Get(conn->path().path_segments(1).id());
  ASSERT_TRUE(at_a.has_value());
  EXPECT_EQ(at_a->mechanism().type(), mech::kernel::kType);
  const auto at_nse = nse_->store()->Get(conn->path().path_segments(3).id());
  ASSERT_TRUE(at_nse.has_value());
  EXPECT_EQ(at_nse->mechanism().type(), mech::kernel::kType);
  EXPECT_EQ(conn->context().ip_context().src_ip_addrs(0), "169.254.0.1/32");

  // A refresh keeps the tunnel: same VNI at B.
  NetworkServiceRequest refresh = nsc::MakeRequest(options_, 0);
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc_->Request(Context(), refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  const auto again = fwd_b->store()->Get(conn->path().path_segments(2).id());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(mech::GetParameter(again->mechanism(), mech::vxlan::kVNI), std::to_string(vni));

  Connection done = *refreshed;
  ASSERT_TRUE(nsc_->Close(Context(), done).ok());
  EXPECT_EQ(fwd_a->server()->connections(), 0u);
  EXPECT_EQ(fwd_b->server()->connections(), 0u);
  EXPECT_EQ(nse_->server()->connections(), 0u);
  EXPECT_EQ(nse_->ipam()->connections(), 0u);
}

TEST_F(ReferenceTest, UnknownServiceAndNothingToOfferAreNamed) {
  Registry& registry = NewRegistry("nsmgr");
  ASSERT_NO_FATAL_FAILURE(StartNse(registry, "tcp://127.0.0.1:0"));
  forwarder::MechanismOptions strict;
  strict.classify = forwarder::ClassifyStrictly;  // tcp next hops are on another node
  auto* fwd = StartForwarder("fwd-1", registry, "unix://" + dir_ + "/fwd.sock", strict);
  ASSERT_NE(fwd, nullptr);

  nsc::Options o{.name = "nsc", .nsmgr_url = fwd->urls().front()};
  o.network_services.push_back(*api::ParseNscRequestUrl("kernel://no-such-service"));
  o.credentials = MakeInsecureCredentials();
  auto c = nsc::NewClient(o);
  ASSERT_TRUE(c.ok());
  auto req = nsc::MakeRequest(o, 0);
  auto unknown = (*c)->Request(Context(), req);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no-such-service"), std::string::npos)
      << unknown.status();

  // The NSE is reached over tcp, which this forwarder treats as remote, and it has no tunnel.
  ASSERT_NO_FATAL_FAILURE(StartNsc(fwd->urls().front()));
  auto none = Request();
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("NSM_TUNNEL_IP"), std::string::npos) << none.status();
  EXPECT_EQ(fwd->server()->connections(), 0u);
  EXPECT_EQ(nse_->server()->connections(), 0u);
}

}  // namespace
}  // namespace nsm::reference

// The nsmgr through the sandbox (issue #5; nsmgr.md §1, §5, §9, §10; sandbox.md §7): local and
// remote paths, refresh, Close, forwarder selection by labels, client death, the registry through
// the nsmgr, parallel requests and an nsmgr restart, all over real gRPC on unix sockets. Every test
// ends with nothing left at any hop.
#include "testing/sandbox.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "registry/transport/client.h"
#include "testing/count_server.h"
#include "testing/hold_server.h"

namespace nsm::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kWait = absl::Seconds(10);  // bound for anything crossing sockets
constexpr char kService[] = "ns-1";

std::vector<std::string> Names(const Connection& conn) {
  std::vector<std::string> names;
  for (const auto& s : conn.path().path_segments()) names.push_back(s.name());
  return names;
}

NSE Endpoint(const std::string& name, const std::string& service = kService) {
  NSE nse;
  nse.set_name(name);
  nse.add_network_service_names(service);
  return nse;
}

NSE Forwarder(const std::string& name, std::map<std::string, std::string> labels) {
  NSE nse;
  nse.set_name(name);
  nse.add_network_service_names("forwarder");
  auto& l = *(*nse.mutable_network_service_labels())["forwarder"].mutable_labels();
  for (const auto& [k, v] : labels) l[k] = v;
  return nse;
}

NS Service(const std::string& name = kService) {
  NS ns;
  ns.set_name(name);
  return ns;
}

// A service whose one match asks forwarders for `labels` (the v1.1 point-to-multipoint hint).
NS ServiceWantingForwarders(std::map<std::string, std::string> labels) {
  NS ns = Service();
  auto& metadata = *ns.add_matches()->mutable_metadata()->mutable_labels();
  for (const auto& [k, v] : labels) metadata[k] = v;
  return ns;
}

std::string OnlyForwarder(Node& node) { return node.forwarders().begin()->first; }

// Whether `node`'s nsmgr answers a Find for `ns` with its matches. The nsmgr answers from its
// cache (registry/findcache), which the domain registry's watch updates a moment after `ns` was
// registered again elsewhere.
bool NsmgrFinds(Domain& domain, Node& node, const NS& ns) {
  auto channel = domain.registry_channels()->Get(node.nsmgr().url());
  if (!channel.ok()) return false;
  reg::transport::NSRegistryGrpcClient nsmgr(*channel, node.nsmgr().url());
  ::registry::NetworkServiceQuery query;
  query.mutable_network_service()->set_name(ns.name());
  auto [ctx, cancel] = domain.WithTimeout();
  auto found = BufferedFindStream<::registry::NetworkServiceResponse>::Create(ctx);
  bool same = false;
  if (nsmgr.Find(ctx, query, found, {}, {}).ok()) {
    for (const auto& r : found->Drain()) {
      const auto& got = r.network_service().matches();
      same = got.size() == ns.matches().size() &&
             std::equal(got.begin(), got.end(), ns.matches().begin(),
                        [](const auto& a, const auto& b) {
                          return google::protobuf::util::MessageDifferencer::Equals(a, b);
                        });
    }
  }
  cancel();
  return same;
}

template <class T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return *std::move(v);
}

class SandboxTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (domain) {
      EXPECT_EQ(domain->AwaitNoLeftovers(), "") << "left behind";
    }
    domain.reset();
  }

  void Build(Builder builder) {
    auto built = builder.Build();
    ASSERT_TRUE(built.ok()) << built.status();
    domain = *std::move(built);
  }

  // One node on a fake clock whose hops keep a monitor stream 30 s after its last connection, with
  // the service, an NSE and a client.
  struct LingerMesh {
    std::shared_ptr<FakeClock> clock = FakeClock::Create();
    EndpointEntry* nse = nullptr;
    EndpointEntry* forwarder = nullptr;
    std::shared_ptr<Nsc> nsc;
  };
  void BuildLingerMesh(LingerMesh& m) {
    Build(Builder().SetClock(m.clock).SetMonitorStreamLinger(absl::Seconds(30)));
    Node& node = domain->node(0);
    ASSERT_TRUE(domain->RegisterNS(Service()).ok());
    m.nse = Must(node.NewEndpoint(Endpoint("nse-1"), {}));
    ASSERT_NE(m.nse, nullptr);
    m.forwarder = node.forwarder(OnlyForwarder(node));
    m.nsc = Must(node.NewClient());
    ASSERT_NE(m.nsc, nullptr);
  }

  std::unique_ptr<Domain> domain;
};

TEST_F(SandboxTest, LocalRequestHasFourSegmentsRefreshKeepsOneConnectionCloseOnce) {
  Build(Builder());
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = Must(node.NewEndpoint(Endpoint("nse-1"), {counter}));
  ASSERT_NE(nse, nullptr);
  EXPECT_EQ(nse->registration().url(), nse->url()) << "local callers get the real URL";
  auto nsc = Must(node.NewClient());

  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT(Names(*conn),
              ElementsAre(nsc->name(), node.nsmgr().name(), OnlyForwarder(node), "nse-1"));
  EXPECT_EQ(conn->path().index(), 0u);
  EXPECT_EQ(conn->id(), conn->path().path_segments(0).id());
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-1");
  EXPECT_EQ(conn->labels().at("nodeName"), "node-0") << "clientinfo of the nsmgr";
  EXPECT_EQ(counter->requests(), 1);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);
  EXPECT_EQ(nse->endpoint().connections(), 1u);
  // Every hop watches the next: the nsmgr the forwarder, the forwarder the NSE, the NSC the nsmgr.
  EXPECT_TRUE(Eventually([&] { return nse->monitor_streams() == 1; }));
  EXPECT_TRUE(
      Eventually([&] { return node.forwarder(OnlyForwarder(node))->monitor_streams() == 1; }));
  EXPECT_TRUE(Eventually([&] { return nsc->streams() == 1; }));

  // A refresh with the returned connection keeps one connection everywhere.
  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc->Request(refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->id(), conn->id());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(refreshed->path().path_segments(i).id(), conn->path().path_segments(i).id());
  }
  EXPECT_EQ(counter->requests(), 2);
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_EQ(nse->endpoint().connections(), 1u);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);

  // What the leak check at the end of every test reports while the connection is open.
  const std::string left = domain->Leftovers();
  EXPECT_THAT(left, HasSubstr(node.nsmgr().name() + ": 1 connections"));
  EXPECT_THAT(left, HasSubstr("nse-1: 1 connections"));
  EXPECT_THAT(left, HasSubstr(nsc->name() + ": 1 connections"));
  // The nsmgr holds its channel to the forwarder; the NSC and the forwarder theirs (domain pool).
  EXPECT_THAT(left, HasSubstr(node.nsmgr().name() + ": 1 dialled channels in use"));
  EXPECT_THAT(left, HasSubstr(domain->name() + ": 2 dialled channels in use"));

  ASSERT_TRUE(nsc->Close(*refreshed).ok());
  EXPECT_EQ(counter->closes(), 1);
  EXPECT_EQ(counter->unique_closes(), 1u);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 0u);
}

// Issue #7: a client that closes and requests again does not make each hop open and cancel a
// monitor stream to the next one per connection: the streams linger and are reused, and close
// once idle for the linger.
TEST_F(SandboxTest, MonitorStreamsLingerForTheNextConnection) {
  LingerMesh m;
  ASSERT_NO_FATAL_FAILURE(BuildLingerMesh(m));
  auto& [clock, nse, forwarder, nsc] = m;
  for (int i = 0; i < 3; ++i) {
    auto conn = nsc->Request(DefaultRequest(kService));
    ASSERT_TRUE(conn.ok()) << conn.status();
    ASSERT_TRUE(nsc->Close(*conn).ok());
  }
  EXPECT_EQ(forwarder->downstream_streams_started(), 1u);
  EXPECT_EQ(forwarder->downstream_streams(), 1u);
  EXPECT_EQ(nse->monitor_streams(), 1u);
  EXPECT_EQ(forwarder->monitor_streams(), 1u) << "the nsmgr's stream";
  EXPECT_EQ(domain->node(0).nsmgr().nsmgr().connections(), 0u);

  clock->Advance(absl::Seconds(30));
  EXPECT_TRUE(Eventually([&] { return nse->monitor_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return forwarder->monitor_streams() == 0; }));
  // TearDown finds nothing left.
}

// An endpoint that restarts while the forwarder's stream to it lingers ends that stream; the next
// connection opens a new one and is watched again.
TEST_F(SandboxTest, ARestartDuringTheLingerLeavesTheNextConnectionWatched) {
  LingerMesh m;
  ASSERT_NO_FATAL_FAILURE(BuildLingerMesh(m));
  auto& [clock, nse, forwarder, nsc] = m;
  auto first = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(nsc->Close(*first).ok());
  ASSERT_EQ(nse->monitor_streams(), 1u) << "lingering";

  ASSERT_TRUE(nse->Restart().ok());
  EXPECT_TRUE(Eventually([&] { return forwarder->downstream_streams() == 0; }));
  auto second = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(Eventually([&] { return nse->monitor_streams() == 1; })) << "watched again";
  EXPECT_EQ(forwarder->downstream_streams_started(), 2u);
  ASSERT_TRUE(nsc->Close(*second).ok());
  clock->Advance(absl::Seconds(30));  // TearDown finds nothing left
}

TEST_F(SandboxTest, LocalRequestWithoutDomainRegistry) {
  Build(Builder().SetRegistry(false));
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok()) << "NetworkServices kept by the nsmgr";
  auto counter = NewCountServer();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1"), {counter}).ok());
  auto nsc = Must(node.NewClient());
  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().path_segments_size(), 4);
  ASSERT_TRUE(nsc->Close(*conn).ok());
  EXPECT_EQ(counter->closes(), 1);
}

TEST_F(SandboxTest, RemoteRequestHasSixSegmentsRefreshKeepsOneConnectionCloseOnce) {
  Build(Builder().SetNodesCount(2));
  Node& a = domain->node(0);
  Node& b = domain->node(1);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = Must(b.NewEndpoint(Endpoint("nse-b"), {counter}));
  auto nsc = Must(a.NewClient());

  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT(Names(*conn), ElementsAre(nsc->name(), a.nsmgr().name(), OnlyForwarder(a),
                                        b.nsmgr().name(), OnlyForwarder(b), "nse-b"));
  EXPECT_EQ(counter->requests(), 1);
  EXPECT_EQ(a.nsmgr().nsmgr().connections(), 1u);
  EXPECT_EQ(b.nsmgr().nsmgr().connections(), 1u);
  const Connection at_nse = *counter->last_request();
  EXPECT_EQ(at_nse.path().index(), 5u);

  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc->Request(refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(Names(*refreshed), Names(*conn));
  EXPECT_EQ(counter->requests(), 2);
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_EQ(nse->endpoint().connections(), 1u);
  EXPECT_EQ(b.nsmgr().nsmgr().connections(), 1u);

  ASSERT_TRUE(nsc->Close(*refreshed).ok());
  EXPECT_EQ(counter->closes(), 1);
  EXPECT_EQ(a.nsmgr().nsmgr().connections(), 0u);
  EXPECT_EQ(b.nsmgr().nsmgr().connections(), 0u);
}

// With a domain registry the NSE is published upstream with its nsmgr's URL; its own node's
// forwarder still gets the real URL from the nsmgr (localbypass) and connects directly.
TEST_F(SandboxTest, EndpointOnTheSameNodeOfAMultiNodeDomainIsReachedDirectly) {
  Build(Builder().SetNodesCount(2));
  Node& a = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  ASSERT_TRUE(a.NewEndpoint(Endpoint("nse-a"), {counter}).ok());
  auto upstream = domain->registry()->registry().nse_store->Get("nse-a");
  ASSERT_TRUE(upstream.has_value());
  EXPECT_EQ(upstream->url(), a.nsmgr().url()) << "published with the nsmgr's URL";

  auto nsc = Must(a.NewClient());
  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT(Names(*conn), ElementsAre(nsc->name(), a.nsmgr().name(), OnlyForwarder(a), "nse-a"));
  EXPECT_EQ(a.nsmgr().nsmgr().connections(), 1u);
  EXPECT_EQ(domain->node(1).nsmgr().nsmgr().connections(), 0u);

  // And from the other node it is remote: 6 segments through node 0's nsmgr.
  auto nsc_b = Must(domain->node(1).NewClient());
  auto remote = nsc_b->Request(DefaultRequest(kService));
  ASSERT_TRUE(remote.ok()) << remote.status();
  ASSERT_EQ(remote->path().path_segments_size(), 6);
  EXPECT_EQ(remote->path().path_segments(3).name(), a.nsmgr().name());
  EXPECT_EQ(counter->unique_requests(), 2u);

  ASSERT_TRUE(nsc->Close(*conn).ok());
  ASSERT_TRUE(nsc_b->Close(*remote).ok());
  EXPECT_EQ(counter->unique_closes(), 2u);
}

// Forwarders labelled p2mp, p2p and special (nsmgr.md §5 example): the NetworkService's match
// metadata picks the p2mp one; without labels the default p2p=true applies.
TEST_F(SandboxTest, ForwarderIsSelectedByTheServiceMatchLabels) {
  Build(Builder().SetNodeSetup([](Node& node) -> absl::Status {
    if (auto m = node.NewNsmgr(); !m.ok()) return m.status();
    for (const auto& [name, label] :
         {std::pair{"fwd-p2mp", "p2mp"}, {"fwd-p2p", "p2p"}, {"fwd-special", "special"}}) {
      if (auto f = node.NewForwarder(Forwarder(name, {{label, "true"}})); !f.ok()) {
        return f.status();
      }
    }
    return absl::OkStatus();
  }));
  Node& node = domain->node(0);
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1")).ok());
  auto nsc = Must(node.NewClient());

  ASSERT_TRUE(domain->RegisterNS(ServiceWantingForwarders({{"p2mp", "true"}})).ok());
  auto p2mp = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(p2mp.ok()) << p2mp.status();
  EXPECT_EQ(p2mp->path().path_segments(2).name(), "fwd-p2mp");

  // Re-registered with an empty metadata: p2p=true by default.
  ASSERT_TRUE(domain->RegisterNS(ServiceWantingForwarders({})).ok());
  ASSERT_TRUE(Eventually([&] { return NsmgrFinds(*domain, node, ServiceWantingForwarders({})); }));
  auto p2p = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(p2p.ok()) << p2p.status();
  EXPECT_EQ(p2p->path().path_segments(2).name(), "fwd-p2p");

  // The first connection keeps its forwarder on refresh.
  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = *p2mp;
  auto refreshed = nsc->Request(refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->path().path_segments(2).name(), "fwd-p2mp");
  EXPECT_EQ(node.forwarder("fwd-special")->endpoint().connections(), 0u);

  ASSERT_TRUE(nsc->Close(*refreshed).ok());
  ASSERT_TRUE(nsc->Close(*p2p).ok());
}

TEST_F(SandboxTest, NoQualifyingForwarderIsAPreciseError) {
  Build(Builder());
  Node& node = domain->node(0);
  auto counter = NewCountServer();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1"), {counter}).ok());
  ASSERT_TRUE(domain->RegisterNS(ServiceWantingForwarders({{"gpu", "true"}})).ok());
  auto nsc = Must(node.NewClient());

  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound) << conn.status();
  EXPECT_THAT(conn.status().message(),
              HasSubstr("no forwarder qualifies for network service ns-1"));
  EXPECT_THAT(conn.status().message(), HasSubstr("gpu"));
  EXPECT_THAT(conn.status().message(), HasSubstr(OnlyForwarder(node)));
  EXPECT_EQ(counter->requests(), 0);

  // An unknown service is named too.
  auto unknown = nsc->Request(DefaultRequest("ns-unknown"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("network service ns-unknown is not found"));
}

// The NSC dies without a Close: its nsmgr closes the connection downstream when the NSC's token
// expires (nsmgr.md §9.5). The chains run on a fake clock end to end.
TEST_F(SandboxTest, ClientDeathClosesDownstreamAtTokenExpiry) {
  auto clock = FakeClock::Create();
  Build(Builder().SetClock(clock));
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = Must(node.NewEndpoint(Endpoint("nse-1"), {counter}));

  constexpr absl::Duration kLifetime = absl::Seconds(30);
  constexpr absl::Duration kTimeout = absl::Seconds(5);
  auto nsc = Must(node.NewClient({.refresh = false,
                                  .heal = false,
                                  .tokens = NewInsecureTokenGenerator("nsc", kLifetime, clock),
                                  .timeout = kTimeout}));
  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(counter->requests(), 1);
  nsc->Kill();

  // The nsmgr closes at the NSC's expiry less the request timeout (kept for its own Close):
  // between expiry - 5 s and expiry - 4 s here, depending on how long the Request took.
  clock->Advance(kLifetime - 2 * kTimeout);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);
  EXPECT_EQ(counter->closes(), 0);
  // Not to the expiry itself: the Close runs on the fake clock too, with the request timeout as
  // its deadline, and fake time must not overrun it while the Close travels.
  clock->Advance(kTimeout + absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return counter->closes() == 1; })) << "closed at the NSE";
  EXPECT_TRUE(Eventually([&] { return node.nsmgr().nsmgr().connections() == 0; }));
  EXPECT_EQ(nse->endpoint().connections(), 0u);
  EXPECT_EQ(counter->unique_closes(), 1u);
}

// Find through an nsmgr (nsmgr.md §10.2): local endpoints with their real URL, remote ones with
// their nsmgr's URL; a watch sees endpoints come and go on another node.
TEST_F(SandboxTest, RegistryThroughTheNsmgrFindsLocalAndRemoteEndpointsAndWatches) {
  Build(Builder().SetNodesCount(2));
  Node& a = domain->node(0);
  Node& b = domain->node(1);
  EndpointEntry* local = Must(a.NewEndpoint(Endpoint("nse-a")));
  ASSERT_TRUE(b.NewEndpoint(Endpoint("nse-b")).ok());

  auto channel = Must(domain->registry_channels()->Get(a.nsmgr().url()));
  reg::transport::NSERegistryGrpcClient through_a(channel, a.nsmgr().url());
  ::registry::NetworkServiceEndpointQuery query;
  query.mutable_network_service_endpoint()->add_network_service_names(kService);

  auto [ctx, cancel] = domain->WithTimeout();
  auto found = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(ctx);
  ASSERT_TRUE(through_a.Find(ctx, query, found, {}, {}).ok());
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : found->Drain()) {
    seen.insert({r.network_service_endpoint().name(), r.network_service_endpoint().url()});
  }
  EXPECT_THAT(seen, UnorderedElementsAre(std::pair{std::string("nse-a"), local->url()},
                                         std::pair{std::string("nse-b"), b.nsmgr().url()}));

  // Watch: an endpoint registered on node 1, then unregistered.
  query.set_watch(true);
  auto watch = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(ctx);
  ASSERT_TRUE(through_a.Find(ctx, query, watch, {}, {}).ok());
  EndpointEntry* late = Must(b.NewEndpoint(Endpoint("nse-late")));
  auto wait_for = [&](bool deleted) {
    while (auto r = watch->Recv(kWait)) {
      if (r->network_service_endpoint().name() == "nse-late" && r->deleted() == deleted) {
        EXPECT_EQ(r->network_service_endpoint().url(), b.nsmgr().url());
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(wait_for(false)) << "registration seen";
  NSE gone = late->registration();
  auto [uctx, ucancel] = domain->WithTimeout();
  ASSERT_TRUE(late->registry_clients().nse().Unregister(uctx, gone).ok());
  ucancel();
  EXPECT_TRUE(wait_for(true)) << "unregistration seen";
  watch->Cancel();
  cancel();
}

TEST_F(SandboxTest, HundredParallelRequestsSucceedAndAreAllClosed) {
  Build(Builder());
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = Must(node.NewEndpoint(Endpoint("nse-1"), {counter}));
  auto nsc = Must(node.NewClient());

  constexpr int kRequests = 100;
  std::vector<absl::StatusOr<Connection>> conns(kRequests, absl::UnknownError("not run"));
  auto run = [&](const std::function<void(int)>& f) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i) threads.emplace_back(f, i);
    for (auto& t : threads) t.join();
  };
  run([&](int i) { conns[i] = nsc->Request(DefaultRequest(kService)); });
  for (const auto& c : conns) ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(counter->unique_requests(), size_t{kRequests});
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), size_t{kRequests});
  EXPECT_EQ(nse->endpoint().connections(), size_t{kRequests});

  std::vector<absl::Status> closed(kRequests);
  run([&](int i) { closed[i] = nsc->Close(*conns[i]); });
  for (const auto& s : closed) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(counter->unique_closes(), size_t{kRequests});
  EXPECT_EQ(counter->closes(), kRequests);
}

// Each Request to an endpoint that never answers holds a worker at every hop on its way. More of
// them than a hop has workers (8 in the sandbox, 4 in a binary) must not stall other services'
// Requests through the same nsmgr and forwarder, nor the hanging Requests queued behind them: the
// pools grow (core/executor.h). With fixed pools the other Request waits for its deadline.
TEST_F(SandboxTest, AnEndpointThatNeverAnswersDoesNotStallOtherServices) {
  Build(Builder());
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service("stuck")).ok());
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto hold = std::make_shared<HoldServer>();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-stuck", "stuck"), {hold}).ok());
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1")).ok());
  auto stuck_nsc = Must(node.NewClient({.timeout = absl::Seconds(60)}));
  auto nsc = Must(node.NewClient({.timeout = kWait}));

  constexpr size_t kStuck = 12;
  std::vector<absl::StatusOr<Connection>> stuck(kStuck, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kStuck; ++i) {
    threads.emplace_back([&, i] { stuck[i] = stuck_nsc->Request(DefaultRequest("stuck")); });
  }
  const bool all_held = Eventually([&] { return hold->held() == kStuck; }, kWait);
  absl::StatusOr<Connection> other = nsc->Request(DefaultRequest(kService));
  const size_t held = hold->held();
  hold->Release();
  for (auto& t : threads) t.join();

  EXPECT_TRUE(all_held) << held << " of " << kStuck << " Requests reached the endpoint";
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE(nsc->Close(*other).ok());
  for (auto& conn : stuck) {
    ASSERT_TRUE(conn.ok()) << conn.status();
    EXPECT_TRUE(stuck_nsc->Close(*conn).ok());
  }
}

// 1,000 Request/Close pairs one after another: every hop ends with nothing held (TearDown checks
// connections, metadata-backed state, monitor stores and streams at every hop).
TEST_F(SandboxTest, ThousandRequestClosePairsLeaveNothingBehind) {
  Build(Builder());
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  Must(node.NewEndpoint(Endpoint("nse-1"), {counter}));
  auto nsc = Must(node.NewClient());
  constexpr int kPairs = 1000;
  for (int i = 0; i < kPairs; ++i) {
    auto conn = nsc->Request(DefaultRequest(kService));
    ASSERT_TRUE(conn.ok()) << "pair " << i << ": " << conn.status();
    ASSERT_TRUE(nsc->Close(*conn).ok()) << "pair " << i;
  }
  EXPECT_EQ(counter->unique_requests(), size_t{kPairs});
  EXPECT_EQ(counter->unique_closes(), size_t{kPairs});
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 0u);
}

// After an nsmgr restart (all its state lost) a refresh goes through the forwarder named in the
// path, even where a fresh selection would pick another, and a Close still reaches the NSE.
TEST_F(SandboxTest, NsmgrRestartKeepsTheForwarderOfThePathAndCloseReachesTheEndpoint) {
  auto fwd_a = NewCountServer();
  auto fwd_b = NewCountServer();
  Build(Builder().SetNodeSetup([&](Node& node) -> absl::Status {
    if (auto m = node.NewNsmgr(); !m.ok()) return m.status();
    if (auto f = node.NewForwarder(Forwarder("fwd-a", {{"p2p", "true"}}), {fwd_a}); !f.ok()) {
      return f.status();
    }
    return node.NewForwarder(Forwarder("fwd-b", {{"p2p", "true"}}), {fwd_b}).status();
  }));
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1"), {counter}).ok());
  auto nsc = Must(node.NewClient({.heal = false}));  // the refresh below is the test's own

  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments(2).name(), "fwd-a") << "registration order";

  ASSERT_TRUE(node.nsmgr().Restart().ok());
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 0u);
  // Forwarders and the NSE register again on their own (registry heal) ...
  ASSERT_TRUE(Eventually([&] { return node.nsmgr().nsmgr().local_endpoints() == 3; }));
  // ... and fwd-a goes last, so a fresh selection would pick fwd-b.
  auto& a_clients = node.forwarder("fwd-a")->registry_clients();
  NSE a_reg = node.forwarder("fwd-a")->registration();
  {
    auto [ctx, cancel] = domain->WithTimeout();
    ASSERT_TRUE(a_clients.nse().Unregister(ctx, a_reg).ok());
    ASSERT_TRUE(a_clients.nse().Register(ctx, a_reg).ok());
    cancel();
  }

  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc->Request(refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(Names(*refreshed), Names(*conn));
  EXPECT_EQ(fwd_a->requests(), 2);
  EXPECT_EQ(fwd_b->requests(), 0);
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);

  // A new connection is selected afresh: fwd-b comes first now.
  auto fresh = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->path().path_segments(2).name(), "fwd-b");

  ASSERT_TRUE(nsc->Close(*refreshed).ok());
  EXPECT_EQ(counter->closes(), 1);
  EXPECT_EQ(fwd_a->closes(), 1);
  ASSERT_TRUE(nsc->Close(*fresh).ok());
  EXPECT_EQ(fwd_b->closes(), 1);
}

// The entries' crash and restart (sandbox.md §4): Cancel frees the URL, Restart serves a fresh
// object on it and registers again; a restarted registry gets the NetworkService back (heal).
TEST_F(SandboxTest, EntriesCancelAndRestartOnTheSameUrl) {
  Build(Builder());
  Node& node = domain->node(0);
  ASSERT_TRUE(domain->RegisterNS(Service()).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = Must(node.NewEndpoint(Endpoint("nse-1"), {counter}));
  const std::string socket = nse->url().substr(std::string("unix://").size());
  ASSERT_TRUE(std::filesystem::exists(socket));

  nse->Cancel();
  EXPECT_FALSE(nse->serving());
  EXPECT_FALSE(std::filesystem::exists(socket));
  EXPECT_EQ(node.nsmgr().nsmgr().local_endpoints(), 2u) << "a crash does not unregister";

  ASSERT_TRUE(nse->Restart().ok());
  EXPECT_TRUE(std::filesystem::exists(socket));
  EXPECT_EQ(nse->endpoint().connections(), 0u);

  domain->registry()->Restart().IgnoreError();
  ASSERT_TRUE(domain->registry()->serving());
  ASSERT_TRUE(Eventually([&] { return domain->registry()->registry().ns_store->size() == 1; }))
      << "the NS registry client registers the service again";

  // The registry lost the endpoints; the NSE registers again through its nsmgr.
  NSE again = nse->registration();
  auto [ctx, cancel] = domain->WithTimeout();
  ASSERT_TRUE(nse->registry_clients().nse().Register(ctx, again).ok());
  cancel();
  auto nsc = Must(node.NewClient());
  auto conn = nsc->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(nsc->Close(*conn).ok());
  EXPECT_EQ(counter->closes(), 1);
}

}  // namespace
}  // namespace nsm::testing

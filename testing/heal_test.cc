// Healing through the sandbox (sandbox.md §7 "Heal endpoint", "Heal NSMgr"; nsmgr.md §7): the
// NSC's heal client repairs its connection after an nsmgr or forwarder restart without touching
// the data path, and moves to another endpoint when its endpoint dies. Real gRPC on unix sockets.
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/count_server.h"
#include "testing/sandbox.h"

namespace nsm::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);
// Dead hops refuse connections at once (their socket is gone) and a channel that already failed
// gets 50 ms, so this bound only matters for a live hop that is slow to accept: 100 connections
// dialling one new forwarder at once under ASan took more than 200 ms in CI-like load.
constexpr absl::Duration kHealDialTimeout = absl::Seconds(1);
constexpr char kService[] = "ns-1";

NSE Endpoint(const std::string& name) {
  NSE nse;
  nse.set_name(name);
  nse.add_network_service_names(kService);
  return nse;
}

NSE Forwarder(const std::string& name) {
  NSE forwarder;
  forwarder.set_name(name);
  forwarder.add_network_service_names("forwarder");
  (*(*forwarder.mutable_network_service_labels())["forwarder"].mutable_labels())["p2p"] = "true";
  return forwarder;
}

// The forwarder a connection goes through (the segment after the nsmgr's).
// What the NSC's heal did, for failure messages.
std::string HealStats(Nsc& nsc) {
  const auto& s = nsc.heal()->stats();
  return absl::StrCat("heal episodes started ", s.started.load(), ", attempts ", s.attempts.load(),
                      ", healed ", s.healed.load(), ", given up ", s.failed.load());
}

std::string ForwarderOf(const Connection& conn) {
  return conn.path().path_segments_size() > 2 ? conn.path().path_segments(2).name() : "";
}

// The connection as the NSC holds it now: a refresh with the connection the user has.
absl::StatusOr<Connection> Current(Nsc& nsc, const Connection& conn) {
  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = conn;
  return nsc.Request(refresh);
}

class HealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = Builder().SetDialTimeout(kHealDialTimeout).Build();
    ASSERT_TRUE(built.ok()) << built.status();
    domain = *std::move(built);
    NS ns;
    ns.set_name(kService);
    ASSERT_TRUE(domain->RegisterNS(ns).ok());
  }
  void TearDown() override {
    if (domain) {
      EXPECT_EQ(domain->AwaitNoLeftovers(), "") << "left behind";
    }
    domain.reset();
  }
  // The common start: endpoint nse-1 on node 0 counted by `counter`, an NSC with `options`, and
  // one connection through the nsmgr and the `forwarder` it selected.
  void Connect(ClientOptions options = {}) {
    Node& node = domain->node(0);
    counter = NewCountServer();
    auto added = node.NewEndpoint(Endpoint("nse-1"), {counter});
    ASSERT_TRUE(added.ok()) << added.status();
    nse = *added;
    auto client = node.NewClient(std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    nsc = *std::move(client);
    auto requested = nsc->Request(DefaultRequest(kService));
    ASSERT_TRUE(requested.ok()) << requested.status();
    conn = *std::move(requested);
    forwarder = node.forwarder(ForwarderOf(conn));
    ASSERT_NE(forwarder, nullptr) << ForwarderOf(conn);
  }
  static ClientOptions DataPathAlive() {
    ClientOptions options;
    options.heal_options.data_path = healing::heal::CheckerFromFunction(
        [](const Context&, const Connection&) { return healing::heal::Liveness::kAlive; });
    return options;
  }

  std::unique_ptr<Domain> domain;
  std::shared_ptr<CountServer> counter;
  EndpointEntry* nse = nullptr;
  std::shared_ptr<Nsc> nsc;
  Connection conn;
  EndpointEntry* forwarder = nullptr;  // the one the connection went through
};

// The nsmgr restarts with no state: the NSC's watch breaks and heal re-sends the connection on the
// same path (here the data path is also reported alive, so heal would keep the path even if an
// attempt failed). The NSE sees a refresh, not a new connection.
TEST_F(HealTest, NsmgrRestartIsHealedOnTheSamePath) {
  Node& node = domain->node(0);
  ASSERT_NO_FATAL_FAILURE(Connect(DataPathAlive()));
  ASSERT_TRUE(Eventually([&] { return nsc->streams() == 1; }));

  ASSERT_TRUE(node.nsmgr().Restart().ok());
  ASSERT_TRUE(Eventually([&] { return counter->requests() == 2; }))
      << "healed: " << HealStats(*nsc);
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_TRUE(Eventually([&] { return node.nsmgr().nsmgr().connections() == 1; }));
  EXPECT_TRUE(Eventually([&] { return nsc->heal()->stats().healed.load() == 1; }));
  EXPECT_EQ(counter->closes(), 0);

  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(counter->closes(), 1);
}

// The same without a data-path checker (the reference NSC and Go NSCs have none): the heal's
// same-path attempt reaches the restarted nsmgr before the forwarder and the NSE have registered
// again; the nsmgr's restart grace holds it until they have, so the path is kept (no reselect:
// the NSE sees a refresh and no Close), and a Close afterwards reaches the NSE once.
TEST_F(HealTest, NsmgrRestartKeepsThePathWithoutADataPathChecker) {
  Node& node = domain->node(0);
  ASSERT_NO_FATAL_FAILURE(Connect());
  const std::string used = ForwarderOf(conn);
  ASSERT_TRUE(Eventually([&] { return nsc->streams() == 1; }));

  ASSERT_TRUE(node.nsmgr().Restart().ok());
  ASSERT_TRUE(Eventually([&] { return nsc->heal()->stats().healed.load() == 1; }))
      << "healed: " << HealStats(*nsc);
  EXPECT_EQ(counter->requests(), 2) << "one refresh at the NSE";
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_EQ(counter->closes(), 0) << "no reselect closed the old path";
  auto healed = Current(*nsc, conn);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_EQ(ForwarderOf(*healed), used) << "the same forwarder";
  EXPECT_EQ(healed->network_service_endpoint_name(), "nse-1");
  EXPECT_EQ(node.forwarder(used)->endpoint().connections(), 1u);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);
  EXPECT_EQ(nsc->heal()->stats().healed.load(), 1u);

  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(counter->closes(), 1);
}

// A Close sent right after the nsmgr restarted, before the forwarder and the NSE have registered
// with it again, waits for them and still reaches the forwarder and the NSE: nothing is left.
TEST_F(HealTest, CloseRightAfterAnNsmgrRestartReachesTheEndpoint) {
  Node& node = domain->node(0);
  ASSERT_NO_FATAL_FAILURE(Connect());

  ASSERT_TRUE(node.nsmgr().Restart().ok());
  ASSERT_EQ(node.nsmgr().nsmgr().local_endpoints(), 0u) << "nothing registered yet";
  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(counter->closes(), 1) << "the Close reached the NSE";
  EXPECT_EQ(forwarder->endpoint().connections(), 0u);
  EXPECT_EQ(nse->endpoint().connections(), 0u);
  EXPECT_GE(node.nsmgr().nsmgr().restart_grace().stats().waits.load(), 1u)
      << "the Close (or the heal it stopped) waited for the re-registration";
}

// A Close that reaches a restarted forwarder before any heal (this NSC does not heal) is routed by
// the connection's endpoint name: the NSE gets it, nothing is left at any hop.
TEST_F(HealTest, CloseRightAfterAForwarderRestartReachesTheEndpoint) {
  Node& node = domain->node(0);
  ClientOptions options;
  options.heal = false;
  ASSERT_NO_FATAL_FAILURE(Connect(std::move(options)));

  ASSERT_TRUE(forwarder->Restart().ok());
  ASSERT_EQ(forwarder->endpoint().connections(), 0u) << "the restarted forwarder knows nothing";
  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(counter->closes(), 1) << "the Close reached the NSE";
  EXPECT_EQ(nse->endpoint().connections(), 0u);
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 0u);
  EXPECT_EQ(forwarder->endpoint().connections(), 0u);
}

// The forwarder restarts with no state (same name, same URL): the nsmgr's watch of it breaks, the
// DOWN reaches the NSC and heal re-sends the connection on the same path through the restarted
// forwarder, which finds the NSE by the name in the connection. The NSE sees a refresh.
TEST_F(HealTest, ForwarderRestartIsHealedOnTheSamePath) {
  Node& node = domain->node(0);
  ASSERT_NO_FATAL_FAILURE(Connect(DataPathAlive()));
  ASSERT_TRUE(Eventually([&] { return forwarder->monitor_streams() == 1; }));

  ASSERT_TRUE(forwarder->Restart().ok());
  ASSERT_TRUE(Eventually([&] { return counter->requests() == 2; }))
      << "healed: " << HealStats(*nsc);
  EXPECT_EQ(counter->unique_requests(), 1u);
  EXPECT_TRUE(Eventually([&] { return forwarder->endpoint().connections() == 1; }));
  EXPECT_EQ(node.nsmgr().nsmgr().connections(), 1u);

  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(counter->closes(), 1);
}

// The NSE dies and another one is registered: heal tries the same path, then another forwarder
// and endpoint, and lands on the new NSE without the user doing anything. The user's later refresh
// and Close with the old connection act on the healed one.
TEST_F(HealTest, DeadEndpointIsReplacedByAnother) {
  Node& node = domain->node(0);
  auto first = NewCountServer();
  EndpointEntry* nse1 = *node.NewEndpoint(Endpoint("nse-1"), {first});
  auto nsc = node.NewClient();
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  auto conn = (*nsc)->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->network_service_endpoint_name(), "nse-1");

  nse1->Cancel();
  auto second = NewCountServer();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-2"), {second}).ok());
  ASSERT_TRUE(Eventually([&] { return second->requests() == 1; })) << "healed to nse-2";
  EXPECT_TRUE(Eventually([&] { return (*nsc)->heal()->stats().healed.load() == 1; }));
  EXPECT_EQ(first->unique_requests() + second->unique_requests(), 2u);

  NetworkServiceRequest refresh = DefaultRequest(kService);
  *refresh.mutable_connection() = *conn;
  auto refreshed = (*nsc)->Request(refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->network_service_endpoint_name(), "nse-2");
  EXPECT_EQ(second->unique_requests(), 1u);

  ASSERT_TRUE((*nsc)->Close(*conn).ok());
  EXPECT_EQ(second->closes(), 1);
}

// The NSE in use dies while another one serves the service: the forwarder cannot dial it and says
// so by name (a gRPC status detail through the nsmgr), so heal skips reselecting the forwarder and
// reselects the endpoint right after the failed same-path attempt: two attempts, no backoff.
TEST_F(HealTest, DeadEndpointCostsOneFailedAttempt) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_EQ(conn.network_service_endpoint_name(), "nse-1");
  auto second = NewCountServer();
  ASSERT_TRUE(domain->node(0).NewEndpoint(Endpoint("nse-2"), {second}).ok());

  nse->Cancel();
  ASSERT_TRUE(Eventually([&] { return nsc->heal()->stats().healed.load() == 1; }));
  EXPECT_EQ(nsc->heal()->stats().attempts.load(), 2u) << "same path, then reselect endpoint";
  EXPECT_EQ(second->unique_requests(), 1u);
  auto healed = Current(*nsc, conn);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_EQ(healed->network_service_endpoint_name(), "nse-2");
  ASSERT_TRUE(nsc->Close(conn).ok());
  EXPECT_EQ(second->closes(), 1);
}

// The forwarder in use dies (not restarted): heal finds the same path broken, reselects a
// forwarder and lands on the node's other one. The NSE gets the healed connection under a new id
// and closes the one it replaces, so after the user's Close nothing is left at any live hop
// (TearDown checks).
TEST_F(HealTest, ForwarderDeathIsHealedThroughAnotherForwarder) {
  Node& node = domain->node(0);
  ASSERT_TRUE(node.NewForwarder(Forwarder("forwarder-spare")).ok());
  auto counter = NewCountServer();
  EndpointEntry* nse = *node.NewEndpoint(Endpoint("nse-1"), {counter});
  auto nsc = node.NewClient();
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  auto conn = (*nsc)->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const std::string used = ForwarderOf(*conn);
  ASSERT_NE(node.forwarder(used), nullptr) << used;

  node.forwarder(used)->Cancel();
  ASSERT_TRUE(Eventually([&] { return (*nsc)->heal()->stats().healed.load() == 1; }));
  auto healed = Current(**nsc, *conn);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_NE(ForwarderOf(*healed), used);
  EXPECT_EQ(healed->network_service_endpoint_name(), "nse-1");
  EXPECT_TRUE(Eventually([&] { return nse->endpoint().connections() == 1; }))
      << "the NSE closed the connection the healed one replaces";
  EXPECT_EQ(counter->unique_requests(), 2u);
  EXPECT_EQ(counter->closes(), 1);

  ASSERT_TRUE((*nsc)->Close(*conn).ok());
  EXPECT_EQ(counter->closes(), 2);
}

// 100 connections through one forwarder, which dies: every one heals through the spare forwarder
// (a failed same-path attempt, then at once a reselect), and all close cleanly afterwards.
TEST_F(HealTest, HundredConnectionsHealAtOnceAfterAForwarderDeath) {
  constexpr int kConnections = 100;
  Node& node = domain->node(0);
  auto counter = NewCountServer();
  EndpointEntry* nse = *node.NewEndpoint(Endpoint("nse-1"), {counter});
  auto nsc = node.NewClient();
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  std::vector<absl::StatusOr<Connection>> conns(kConnections, absl::UnknownError("not run"));
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] { conns[i] = (*nsc)->Request(DefaultRequest(kService)); });
    }
    for (auto& t : threads) t.join();
  }
  for (const auto& c : conns) ASSERT_TRUE(c.ok()) << c.status();
  const std::string used = ForwarderOf(*conns[0]);
  // The spare comes only now, so every connection went through `used`.
  ASSERT_TRUE(node.NewForwarder(Forwarder("forwarder-spare")).ok());

  node.forwarder(used)->Cancel();
  ASSERT_TRUE(
      Eventually([&] { return (*nsc)->heal()->stats().healed.load() == uint64_t{kConnections}; },
                 absl::Seconds(60)))
      << (*nsc)->heal()->stats().healed.load() << " of " << kConnections << " healed";
  for (const auto& c : conns) {
    auto healed = Current(**nsc, *c);
    ASSERT_TRUE(healed.ok()) << healed.status();
    EXPECT_EQ(ForwarderOf(*healed), "forwarder-spare");
  }
  EXPECT_TRUE(Eventually([&] { return nse->endpoint().connections() == size_t{kConnections}; }));

  for (const auto& c : conns) ASSERT_TRUE((*nsc)->Close(*c).ok());
  EXPECT_EQ(counter->closes(), 2 * kConnections);
}

// The registry restarts with nothing in it: the connection stays up (no heal, no Close), every
// registration (the NSE's and the forwarder's through the nsmgr, the network service) comes back
// by itself, and then refreshes and new Requests work again.
TEST_F(HealTest, RegistryRestartKeepsConnectionsAndRegistrationsComeBack) {
  domain.reset();
  auto built = Builder()
                   .SetDialTimeout(kHealDialTimeout)
                   .SetRegistryExpiryDuration(kRegistryExpiryDuration)
                   .Build();
  ASSERT_TRUE(built.ok()) << built.status();
  domain = *std::move(built);
  NS ns;
  ns.set_name(kService);
  ASSERT_TRUE(domain->RegisterNS(ns).ok());
  Node& node = domain->node(0);
  auto counter = NewCountServer();
  ASSERT_TRUE(node.NewEndpoint(Endpoint("nse-1"), {counter}).ok());
  auto nsc = node.NewClient();
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  auto conn = (*nsc)->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();

  ASSERT_TRUE(domain->registry()->Restart().ok());
  auto& registry = domain->registry()->registry();
  EXPECT_TRUE(Eventually([&] { return registry.nse_store->Get("nse-1").has_value(); }))
      << "the NSE's registration is back";
  EXPECT_TRUE(Eventually([&] { return registry.ns_store->Get(kService).has_value(); }))
      << "the network service is back";
  EXPECT_EQ((*nsc)->heal()->stats().started.load(), 0u) << "nothing to heal";
  EXPECT_EQ(counter->closes(), 0);

  EXPECT_TRUE(Eventually([&] { return Current(**nsc, *conn).ok(); })) << "refresh works again";
  auto second = (*nsc)->Request(DefaultRequest(kService));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*nsc)->Close(*conn).ok());
  ASSERT_TRUE((*nsc)->Close(*second).ok());
  EXPECT_EQ(counter->closes(), 2);
}

// The NSE's node loses its nsmgr (killed and started again, empty): the client on the other node
// heals through it once its forwarder is registered again, and a later Close reaches the NSE.
TEST_F(HealTest, RemoteNsmgrRestartIsHealed) {
  domain.reset();
  auto built = Builder().SetNodesCount(2).SetDialTimeout(kHealDialTimeout).Build();
  ASSERT_TRUE(built.ok()) << built.status();
  domain = *std::move(built);
  NS ns;
  ns.set_name(kService);
  ASSERT_TRUE(domain->RegisterNS(ns).ok());
  Node& local = domain->node(0);
  Node& remote = domain->node(1);
  auto counter = NewCountServer();
  EndpointEntry* nse = *remote.NewEndpoint(Endpoint("nse-1"), {counter});
  auto nsc = local.NewClient();
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  auto conn = (*nsc)->Request(DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 6);

  ASSERT_TRUE(remote.nsmgr().Restart().ok());
  ASSERT_TRUE(
      Eventually([&] { return (*nsc)->heal()->stats().healed.load() >= 1; }, absl::Seconds(30)));
  auto healed = Current(**nsc, *conn);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_EQ(healed->network_service_endpoint_name(), "nse-1");
  EXPECT_TRUE(Eventually([&] { return remote.nsmgr().nsmgr().connections() == 1; }));
  EXPECT_TRUE(Eventually([&] { return nse->endpoint().connections() == 1; }));

  ASSERT_TRUE((*nsc)->Close(*conn).ok());
  EXPECT_TRUE(Eventually([&] { return nse->endpoint().connections() == 0; }));
}

}  // namespace
}  // namespace nsm::testing

// discover: NS lookup, match rules (source selectors, routes, fallthrough, metadata-only matches,
// templates), expiry, pinned endpoints, payload overwrite, Close routing, bad input.
#include "api/path.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/discover/server.h"

namespace nsm::discover {
namespace {

using ::registry::Match;
using ::registry::NetworkService;
using ::registry::NetworkServiceEndpoint;
using ::testing::HasSubstr;

// An in-memory NS registry client: substring name match (v1.1.1) and payload equality.
class FakeNSRegistry : public NSRegistryClient {
 public:
  absl::StatusOr<Item> Register(const Context&, Item& item, const Next&,
                                const CallOptions&) override {
    items.push_back(item);
    return item;
  }
  absl::Status Find(const Context&, const Query& q, const Stream& s, const Next&,
                    const CallOptions&) override {
    ++finds;
    if (!fail.ok()) return fail;
    for (const auto& ns : items) {
      const auto& want = q.network_service();
      if (!want.name().empty() && ns.name().find(want.name()) == std::string::npos) continue;
      if (!want.payload().empty() && ns.payload() != want.payload()) continue;
      Response r;
      *r.mutable_network_service() = ns;
      if (absl::Status st = s->Send(r); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context&, Item&, const Next&, const CallOptions&) override {
    return absl::OkStatus();
  }
  std::vector<NetworkService> items;
  absl::Status fail;
  int finds = 0;
};

// An in-memory NSE registry client: substring name, every queried service name.
class FakeNSERegistry : public NSERegistryClient {
 public:
  absl::StatusOr<Item> Register(const Context&, Item& item, const Next&,
                                const CallOptions&) override {
    items.push_back(item);
    return item;
  }
  absl::Status Find(const Context&, const Query& q, const Stream& s, const Next&,
                    const CallOptions&) override {
    ++finds;
    if (!fail.ok()) return fail;
    const auto& want = q.network_service_endpoint();
    for (const auto& nse : items) {
      if (!want.name().empty() && nse.name().find(want.name()) == std::string::npos) continue;
      bool all = true;
      for (const auto& name : want.network_service_names()) {
        const auto& have = nse.network_service_names();
        all = all && std::find(have.begin(), have.end(), name) != have.end();
      }
      if (!all) continue;
      Response r;
      *r.mutable_network_service_endpoint() = nse;
      if (absl::Status st = s->Send(r); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context&, Item&, const Next&, const CallOptions&) override {
    return absl::OkStatus();
  }
  std::vector<NetworkServiceEndpoint> items;
  absl::Status fail;
  int finds = 0;
};

// Records what reached the rest of the chain.
class Capture : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    ++requests;
    auto url = clienturl::FromContext(ctx);
    this->url = url ? url->ToString() : "";
    name = clienturl::NextHopName(ctx);
    candidates = CandidatesFromContext(ctx);
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    ++closes;
    auto url = clienturl::FromContext(ctx);
    this->url = url ? url->ToString() : "";
    name = clienturl::NextHopName(ctx);
    return next.Close(ctx, conn);
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    if (candidates) {
      for (const auto& nse : candidates->endpoints) out.push_back(nse.name());
    }
    return out;
  }
  int requests = 0;
  int closes = 0;
  std::string url;
  std::string name;
  std::shared_ptr<Candidates> candidates;
};

constexpr char kService[] = "secure-intranet-connectivity";

NetworkServiceEndpoint Nse(const std::string& name, std::map<std::string, std::string> labels,
                           const std::string& service = kService) {
  NetworkServiceEndpoint nse;
  nse.set_name(name);
  nse.add_network_service_names(service);
  nse.set_url("unix:///run/nsm/" + name + ".sock");
  auto& l = *(*nse.mutable_network_service_labels())[service].mutable_labels();
  for (auto& [k, v] : labels) l[k] = v;
  return nse;
}

Match MatchOf(std::map<std::string, std::string> source,
              std::vector<std::map<std::string, std::string>> routes, bool fallthrough = false) {
  Match m;
  for (auto& [k, v] : source) (*m.mutable_source_selector())[k] = v;
  for (auto& route : routes) {
    auto* d = m.add_routes();
    for (auto& [k, v] : route) (*d->mutable_destination_selector())[k] = v;
  }
  m.set_fallthrough(fallthrough);
  return m;
}

class DiscoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Registration order: firewall, middle, vpn.
    nses_->items = {Nse("nse-firewall", {{"app", "firewall"}}),
                    Nse("nse-middle", {{"app", "some-middle-app"}}),
                    Nse("nse-vpn", {{"app", "vpn-gateway"}})};
  }
  void AddService(std::vector<Match> matches, const std::string& payload = "IP") {
    NetworkService ns;
    ns.set_name(kService);
    ns.set_payload(payload);
    for (auto& m : matches) *ns.add_matches() = m;
    nss_->items.push_back(ns);
  }
  static Match FromAnywhere() { return MatchOf({}, {{{"app", "firewall"}}}); }
  static Match FromFirewall() {
    return MatchOf({{"app", "firewall"}}, {{{"app", "some-middle-app"}}});
  }
  static Match FromMiddle() {
    return MatchOf({{"app", "some-middle-app"}}, {{{"app", "vpn-gateway"}}});
  }

  absl::StatusOr<Connection> Request(std::map<std::string, std::string> labels,
                                     const std::string& pinned = "") {
    NetworkServiceRequest req;
    auto* conn = req.mutable_connection();
    conn->set_id("conn-1");
    conn->set_network_service(kService);
    conn->set_network_service_endpoint_name(pinned);
    for (auto& [k, v] : labels) (*conn->mutable_labels())[k] = v;
    last_request_ = req;
    auto out = chain_->Request(ctx_, req);
    last_request_ = req;
    return out;
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<FakeNSRegistry> nss_ = std::make_shared<FakeNSRegistry>();
  std::shared_ptr<FakeNSERegistry> nses_ = std::make_shared<FakeNSERegistry>();
  std::shared_ptr<Capture> capture_ = std::make_shared<Capture>();
  std::shared_ptr<ServerChain> chain_ = MakeServerChain({NewServer(nss_, nses_), capture_});
  NetworkServiceRequest last_request_;
};

TEST_F(DiscoverTest, EmptySourceSelectorMatchesAnyClient) {
  AddService({FromFirewall(), FromMiddle(), FromAnywhere()});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-firewall"});
  EXPECT_EQ(capture_->candidates->network_service.name(), kService);
  EXPECT_EQ(capture_->url, "");  // roundrobin chooses the URL
}

TEST_F(DiscoverTest, FirstApplicableMatchWins) {
  AddService({FromFirewall(), FromMiddle(), FromAnywhere()});
  ASSERT_TRUE(Request({{"app", "firewall"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-middle"});

  ASSERT_TRUE(Request({{"app", "some-middle-app"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-vpn"});
}

TEST_F(DiscoverTest, EmptySourceSelectorGoingFirstShadowsTheRest) {
  AddService({FromAnywhere(), FromFirewall(), FromMiddle()});
  ASSERT_TRUE(Request({{"app", "firewall"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-firewall"});
}

TEST_F(DiscoverTest, NoApplicableMatchSelectsNothing) {
  // The v1.11.0 rule (nsmgr.md §6.2 step 3): an NS with matches, none of which applies.
  AddService({FromFirewall(), FromMiddle()});
  auto conn = Request({{"app", "unknown-app"}});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(),
            "network service endpoint candidates not found for network service "
            "secure-intranet-connectivity: no match applies to labels {app=unknown-app} (3 "
            "endpoint(s) registered, 0 expired)");
  EXPECT_EQ(capture_->requests, 0);
}

TEST_F(DiscoverTest, ServiceWithoutMatchesSelectsEveryEndpointInRegistrationOrder) {
  AddService({});
  ASSERT_TRUE(Request({{"app", "anything"}}).ok());
  EXPECT_EQ(capture_->Names(), (std::vector<std::string>{"nse-firewall", "nse-middle", "nse-vpn"}));
}

TEST_F(DiscoverTest, FallthroughMovesOnWhenAMatchSelectsNothing) {
  Match none = MatchOf({}, {{{"app", "does-not-exist"}}}, /*fallthrough=*/true);
  AddService({none, FromAnywhere()});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-firewall"});
}

TEST_F(DiscoverTest, WithoutFallthroughAnEmptyMatchFails) {
  Match none = MatchOf({}, {{{"app", "does-not-exist"}}});
  AddService({none, FromAnywhere()});
  auto conn = Request({});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(conn.status().message(),
              HasSubstr("match #1 applies to labels {} but none of its routes selects an "
                        "endpoint (3 endpoint(s) registered, 0 expired)"));
}

TEST_F(DiscoverTest, MetadataOnlyMatchSelectsEveryLiveEndpoint) {
  // v1.2.0 #1194: matches that only carry forwarder metadata must not hide the endpoints.
  Match m;
  (*m.mutable_metadata()->mutable_labels())["p2mp"] = "true";
  AddService({m});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), (std::vector<std::string>{"nse-firewall", "nse-middle", "nse-vpn"}));
}

TEST_F(DiscoverTest, AnEndpointAppearsOncePerMatchingRoute) {
  AddService({MatchOf({}, {{{"app", "vpn-gateway"}}, {}})});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(),
            (std::vector<std::string>{"nse-vpn", "nse-firewall", "nse-middle", "nse-vpn"}));
}

TEST_F(DiscoverTest, DestinationTemplatesUseTheConnectionLabels) {
  nses_->items = {Nse("nse-node-1", {{"nodeName", "node-1"}}),
                  Nse("nse-node-2", {{"nodeName", "node-2"}})};
  AddService({MatchOf({}, {{{"nodeName", "{{.nodeName}}"}}})});
  ASSERT_TRUE(Request({{"nodeName", "node-2"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-node-2"});
  ASSERT_TRUE(Request({{"nodeName", "node-1"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-node-1"});
}

TEST_F(DiscoverTest, SourceTemplatesUseTheConnectionLabels) {
  // A source selector {{.x}} renders to the connection's own value, so it always applies when
  // the key is present; with the key missing it renders "<no value>" and does not apply.
  AddService({MatchOf({{"app", "{{.app}}"}}, {{{"app", "vpn-gateway"}}}), FromAnywhere()});
  ASSERT_TRUE(Request({{"app", "x"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-vpn"});
  ASSERT_TRUE(Request({{"other", "y"}}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-firewall"});
}

TEST_F(DiscoverTest, ExpiredEndpointsAreDropped) {
  const absl::Time now = clock_->Now();
  *nses_->items[0].mutable_expiration_time() = api::ToProtoTimestamp(now - absl::Seconds(1));
  *nses_->items[1].mutable_expiration_time() = api::ToProtoTimestamp(now + absl::Seconds(30));
  AddService({});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), (std::vector<std::string>{"nse-middle", "nse-vpn"}));

  clock_->Advance(absl::Seconds(30));  // nse-middle expires exactly now: not after now
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), std::vector<std::string>{"nse-vpn"});

  *nses_->items[2].mutable_expiration_time() = api::ToProtoTimestamp(now);
  auto conn = Request({});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().message(),
            "network service endpoint candidates not found for network service "
            "secure-intranet-connectivity: 3 endpoint(s) registered, 3 expired");
}

TEST_F(DiscoverTest, EndpointsOfOtherServicesAreIgnored) {
  // The registry may match loosely (substring names); only endpoints listing the exact
  // service are candidates.
  nses_->items.push_back(Nse("nse-other", {{"app", "firewall"}}, std::string(kService) + "-2"));
  nses_->items.back().add_network_service_names(std::string(kService).substr(0, 6));
  AddService({});
  ASSERT_TRUE(Request({}).ok());
  EXPECT_EQ(capture_->Names(), (std::vector<std::string>{"nse-firewall", "nse-middle", "nse-vpn"}));
}

TEST_F(DiscoverTest, PayloadIsOverwrittenWithTheService) {
  AddService({}, "ETHERNET");
  auto conn = Request({});
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->payload(), "ETHERNET");
  EXPECT_EQ(last_request_.connection().payload(), "ETHERNET");
}

TEST_F(DiscoverTest, ServiceNotFound) {
  NetworkService other;
  other.set_name(std::string(kService) + "-wrong");  // a substring match, not the service
  nss_->items.push_back(other);
  auto conn = Request({});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(), "network service secure-intranet-connectivity is not found");
  EXPECT_EQ(capture_->requests, 0);
}

TEST_F(DiscoverTest, ServiceWithOtherPayloadIsNotFound) {
  AddService({}, "ETHERNET");
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service(kService);
  req.mutable_connection()->set_payload("IP");
  auto conn = chain_->Request(ctx_, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DiscoverTest, PinnedEndpointIsLookedUpByExactName) {
  AddService({});
  nses_->items.push_back(Nse("final-endpoint-wrong", {}));
  auto conn = Request({}, "final-endpoint");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(), "network service endpoint final-endpoint not found");
  EXPECT_EQ(UnreachableHop(conn.status()), "final-endpoint") << "heal reselects the endpoint";
  EXPECT_FALSE(IsNextHopUnreachable(conn.status()));
  EXPECT_EQ(capture_->requests, 0);

  nses_->items.push_back(Nse("final-endpoint", {}));
  conn = Request({}, "final-endpoint");
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(capture_->url, "unix:///run/nsm/final-endpoint.sock");
  EXPECT_EQ(capture_->name, "final-endpoint") << "dial names it in its errors";
  EXPECT_EQ(capture_->candidates, nullptr);
  EXPECT_EQ(nss_->finds, 0);  // no service lookup on the pinned path
}

TEST_F(DiscoverTest, PinnedEndpointWithUnusableUrl) {
  nses_->items.push_back(Nse("final-endpoint", {}));
  nses_->items.back().set_url("unix://relative.sock");
  auto conn = Request({}, "final-endpoint");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(conn.status().message(),
              HasSubstr("network service endpoint final-endpoint has an unusable url: "));
}

TEST_F(DiscoverTest, UrlAlreadyChosenPassesThrough) {
  Context ctx = clienturl::WithClientUrl(ctx_, *api::ParseNsmUrl("tcp://10.0.0.1:5000"));
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service(kService);
  ASSERT_TRUE(chain_->Request(ctx, req).ok());
  EXPECT_EQ(capture_->url, "tcp://10.0.0.1:5000");
  EXPECT_EQ(nss_->finds + nses_->finds, 0);
}

TEST_F(DiscoverTest, RegistryFailureKeepsItsCode) {
  nss_->fail = absl::UnavailableError("registry is down");
  auto conn = Request({});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "discover: find network service secure-intranet-connectivity: registry is down");
}

TEST_F(DiscoverTest, EmptyNetworkServiceIsInvalid) {
  NetworkServiceRequest req;
  auto conn = chain_->Request(ctx_, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "discover: connection.network_service is empty and no "
            "connection.network_service_endpoint_name is pinned");
}

TEST_F(DiscoverTest, CloseRoutesToTheNamedEndpoint) {
  Connection conn;
  conn.set_network_service_endpoint_name("nse-middle");
  ASSERT_TRUE(chain_->Close(ctx_, conn).ok());
  EXPECT_EQ(capture_->url, "unix:///run/nsm/nse-middle.sock");
}

TEST_F(DiscoverTest, CloseAlwaysContinues) {
  Connection conn;
  conn.set_network_service_endpoint_name("nse-gone");
  ASSERT_TRUE(chain_->Close(ctx_, conn).ok());  // unknown endpoint
  EXPECT_EQ(capture_->closes, 1);
  EXPECT_EQ(capture_->url, "");

  conn.clear_network_service_endpoint_name();  // no endpoint name (v1.1.1 failed here)
  ASSERT_TRUE(chain_->Close(ctx_, conn).ok());
  EXPECT_EQ(capture_->closes, 2);

  nses_->fail = absl::UnavailableError("registry is down");
  conn.set_network_service_endpoint_name("nse-middle");
  ASSERT_TRUE(chain_->Close(ctx_, conn).ok());
  EXPECT_EQ(capture_->closes, 3);
  EXPECT_EQ(capture_->url, "");
}

TEST(MatchEndpointsTest, DeletedNotificationsAreNotCandidates) {
  // FindAll drops deleted=true responses (a watch-capable registry may send them).
  class Deleted : public NSERegistryClient {
   public:
    absl::StatusOr<Item> Register(const Context&, Item& i, const Next&,
                                  const CallOptions&) override {
      return i;
    }
    absl::Status Find(const Context&, const Query&, const Stream& s, const Next&,
                      const CallOptions&) override {
      Response r;
      r.mutable_network_service_endpoint()->set_name("gone");
      r.set_deleted(true);
      return s->Send(r);
    }
    absl::Status Unregister(const Context&, Item&, const Next&, const CallOptions&) override {
      return absl::OkStatus();
    }
  } registry;
  auto found = FindAll<NSETraits>(registry, Context(), {});
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
}

}  // namespace
}  // namespace nsm::discover

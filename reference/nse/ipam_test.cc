// Point-to-point IPAM: pairs lowest first (NSE side .0, client side .1 as the Go NSE), routes,
// refresh keeps the pair, excluded prefixes skipped and re-checked, release on Close and on a
// failed first Request, exhaustion and the connection bound, IPv6, bad prefixes.
#include "reference/nse/ipam.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::nse {
namespace {

using ::testing::ElementsAre;

class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    if (!fail.ok()) return fail;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
  absl::Status fail;
};

class IpamTest : public ::testing::Test {
 protected:
  void Build(std::vector<std::string> prefixes, size_t max = 65536) {
    auto i = Point2PointIpam::Create(prefixes, max);
    ASSERT_TRUE(i.ok()) << i.status();
    ipam = *i;
    chain = std::make_shared<ServerChain>(ServerChain::Elements{ipam, tail});
  }
  absl::StatusOr<Connection> Do(const std::string& id, std::vector<std::string> excluded = {}) {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    for (auto& e : excluded) {
      r.mutable_connection()->mutable_context()->mutable_ip_context()->add_excluded_prefixes(e);
    }
    return chain->Request(Context(), r);
  }
  static std::vector<std::string> Src(const Connection& c) {
    const auto& ip = c.context().ip_context();
    return {ip.src_ip_addrs().begin(), ip.src_ip_addrs().end()};
  }
  static std::vector<std::string> Dst(const Connection& c) {
    const auto& ip = c.context().ip_context();
    return {ip.dst_ip_addrs().begin(), ip.dst_ip_addrs().end()};
  }

  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  std::shared_ptr<Point2PointIpam> ipam;
  std::shared_ptr<ServerChain> chain;
};

TEST_F(IpamTest, PairsLowestFirstWithRoutes) {
  Build({"169.254.0.0/16"});
  auto a = Do("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Dst(*a), ElementsAre("169.254.0.0/32"));
  EXPECT_THAT(Src(*a), ElementsAre("169.254.0.1/32"));
  const auto& ip = a->context().ip_context();
  ASSERT_EQ(ip.src_routes_size(), 1);
  EXPECT_EQ(ip.src_routes(0).prefix(), "169.254.0.0/32");
  ASSERT_EQ(ip.dst_routes_size(), 1);
  EXPECT_EQ(ip.dst_routes(0).prefix(), "169.254.0.1/32");
  auto b = Do("b");
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(Dst(*b), ElementsAre("169.254.0.2/32"));
  EXPECT_THAT(Src(*b), ElementsAre("169.254.0.3/32"));
  EXPECT_EQ(ipam->connections(), 2u);
}

TEST_F(IpamTest, RefreshKeepsThePairWithoutDuplicates) {
  Build({"10.0.0.0/24"});
  auto a = Do("a");
  ASSERT_TRUE(a.ok());
  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *a;
  auto again = chain->Request(Context(), refresh);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(Dst(*again), ElementsAre("10.0.0.0/32"));
  EXPECT_THAT(Src(*again), ElementsAre("10.0.0.1/32"));
  EXPECT_EQ(again->context().ip_context().src_routes_size(), 1);
  EXPECT_EQ(ipam->connections(), 1u);
}

TEST_F(IpamTest, CloseAndFailedFirstRequestRelease) {
  Build({"10.0.0.0/24"});
  auto a = Do("a");
  ASSERT_TRUE(a.ok());
  Connection done = *a;
  ASSERT_TRUE(chain->Close(Context(), done).ok());
  EXPECT_EQ(ipam->connections(), 0u);
  tail->fail = absl::UnavailableError("no");
  EXPECT_FALSE(Do("b").ok());
  EXPECT_EQ(ipam->connections(), 0u);
  tail->fail = absl::OkStatus();
  auto c = Do("c");
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(Dst(*c), ElementsAre("10.0.0.0/32")) << "everything was given back";
}

TEST_F(IpamTest, ExcludedPrefixesAreSkippedAndRecheckedOnRefresh) {
  Build({"10.0.0.0/24"});
  auto a = Do("a", {"10.0.0.0/31", "192.168.0.0/16", "fd00::/8"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Dst(*a), ElementsAre("10.0.0.2/32"));
  EXPECT_THAT(Src(*a), ElementsAre("10.0.0.3/32"));
  // The nsmgr now excludes the pair's addresses: a refresh moves the connection.
  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *a;
  refresh.mutable_connection()->mutable_context()->mutable_ip_context()->add_excluded_prefixes(
      "10.0.0.2/32");
  auto moved = chain->Request(Context(), refresh);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_THAT(Dst(*moved), ElementsAre("10.0.0.3/32"));
  EXPECT_THAT(Src(*moved), ElementsAre("10.0.0.4/32"));
  EXPECT_EQ(moved->context().ip_context().dst_routes_size(), 1);
  EXPECT_EQ(ipam->connections(), 1u);
  // A malformed excluded prefix is named.
  auto bad = Do("b", {"10.0.0.0/33"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("excluded_prefixes[0]"), std::string::npos) << bad.status();
}

TEST_F(IpamTest, ExhaustionMovesToTheNextPrefixThenFails) {
  Build({"10.0.0.0/31", "10.1.0.0/31"});
  auto a = Do("a");
  auto b = Do("b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(Dst(*b), ElementsAre("10.1.0.0/32"));
  auto c = Do("c");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(c.status().message().find("10.0.0.0/31, 10.1.0.0/31"), std::string::npos) << c.status();
  // Everything excluded.
  Build({"10.0.0.0/24"});
  EXPECT_EQ(Do("x", {"10.0.0.0/8"}).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(IpamTest, TheConnectionBoundHolds) {
  Build({"10.0.0.0/16"}, 2);
  ASSERT_TRUE(Do("a").ok());
  ASSERT_TRUE(Do("b").ok());
  EXPECT_EQ(Do("c").status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(IpamTest, Ipv6) {
  Build({"fd00::/126"});
  auto a = Do("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Dst(*a), ElementsAre("fd00::/128"));
  EXPECT_THAT(Src(*a), ElementsAre("fd00::1/128"));
  auto b = Do("b");
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(Src(*b), ElementsAre("fd00::3/128"));
  EXPECT_FALSE(Do("c").ok());
}

TEST_F(IpamTest, ARestartedNseRecoversThePairTheConnectionCarries) {
  Build({"10.0.0.0/24"});
  ASSERT_TRUE(Do("other").ok());  // holds .0/.1
  NetworkServiceRequest r;
  r.mutable_connection()->set_id("a");
  auto* ip = r.mutable_connection()->mutable_context()->mutable_ip_context();
  ip->add_src_ip_addrs("10.0.0.7/32");
  ip->add_dst_ip_addrs("10.0.0.6/32");
  auto a = chain->Request(Context(), r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Src(*a), ElementsAre("10.0.0.7/32"));
  EXPECT_THAT(Dst(*a), ElementsAre("10.0.0.6/32"));
  auto b = Do("b");
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(Dst(*b), ElementsAre("10.0.0.2/32")) << "the recovered pair is taken";
  Connection done = *a;
  ASSERT_TRUE(chain->Close(Context(), done).ok());
  EXPECT_EQ(ipam->connections(), 2u);
}

TEST_F(IpamTest, AHealedConnectionDropsThePairOfItsOldPath) {
  Build({"10.0.0.0/24"});
  auto old_path = Do("old");  // the old NSE-side connection, not closed yet
  ASSERT_TRUE(old_path.ok());
  // The client's connection comes back through another forwarder: a new id here, the old
  // addresses and routes still in its context, plus a route of someone else.
  NetworkServiceRequest r;
  *r.mutable_connection() = *old_path;
  r.mutable_connection()->set_id("new");
  r.mutable_connection()->mutable_context()->mutable_ip_context()->add_src_routes()->set_prefix(
      "192.168.0.0/16");
  auto healed = chain->Request(Context(), r);
  ASSERT_TRUE(healed.ok()) << healed.status();
  EXPECT_THAT(Dst(*healed), ElementsAre("10.0.0.2/32"));
  EXPECT_THAT(Src(*healed), ElementsAre("10.0.0.3/32"));
  std::vector<std::string> routes;
  for (const auto& route : healed->context().ip_context().src_routes()) {
    routes.push_back(route.prefix());
  }
  EXPECT_THAT(routes, ElementsAre("192.168.0.0/16", "10.0.0.2/32"));
  ASSERT_EQ(healed->context().ip_context().dst_routes_size(), 1);
  EXPECT_EQ(healed->context().ip_context().dst_routes(0).prefix(), "10.0.0.3/32");
}

TEST_F(IpamTest, PartialRecoveryLeaksNothing) {
  Build({"10.0.0.0/30"});
  ASSERT_TRUE(Do("x").ok());  // .0/.1
  NetworkServiceRequest r;
  r.mutable_connection()->set_id("a");
  auto* ip = r.mutable_connection()->mutable_context()->mutable_ip_context();
  ip->add_src_ip_addrs("10.0.0.3/32");  // free
  ip->add_dst_ip_addrs("10.0.0.0/32");  // held by x
  auto a = chain->Request(Context(), r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(Dst(*a), ElementsAre("10.0.0.2/32"));
  EXPECT_THAT(Src(*a), ElementsAre("10.0.0.3/32"));
}

TEST(PrefixTest, ParseAndFormat) {
  auto p = Prefix::Parse("10.1.2.3/8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ToString(), "10.0.0.0/8");
  EXPECT_EQ(p->Host(p->last), "10.255.255.255/32");
  auto all = Prefix::Parse("::/0");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->Host(all->last), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
  for (const char* bad :
       {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "x/8", "fd00::/129", ""}) {
    EXPECT_FALSE(Prefix::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(Point2PointIpam::Create({}).ok());
  EXPECT_NE(Point2PointIpam::Create({"10.0.0.0/8", "nope"}).status().message().find("\"nope\""),
            std::string::npos);
}

TEST(IpPoolTest, TakeSkipsRunsOfUsedAddressesAndEndsAtTheLast) {
  IpPool pool(*Prefix::Parse("10.0.0.0/29"));
  std::vector<absl::uint128> taken;
  for (int i = 0; i < 8; ++i) {
    auto a = pool.Take({});
    ASSERT_TRUE(a.has_value());
    taken.push_back(*a);
  }
  EXPECT_FALSE(pool.Take({}).has_value());
  pool.Release(taken[5]);
  EXPECT_EQ(pool.Take({}), taken[5]);
  pool.Release(taken[7]);
  EXPECT_FALSE(pool.Take({*Prefix::Parse("10.0.0.7/32")}).has_value());
  EXPECT_EQ(pool.in_use(), 7u);
}

}  // namespace
}  // namespace nsm::nse

// The forwarder's mechanisms: VXLAN parameters and VNI parity, uniqueness, refresh and release;
// WireGuard and VLAN when configured; what the next hop is offered for each locality and payload;
// answers without tunnel parameters refused; option validation.
#include "reference/forwarder/mechanisms.h"

#include <set>

#include "absl/strings/numbers.h"
#include "api/mechanisms.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/mechanisms/server.h"
#include "networkservice/mechanismtranslation/client.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::forwarder {
namespace {

namespace mech = api::mech;
using connection::Mechanism;

constexpr char kKey[] = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=";  // 32 bytes

std::string Param(const Mechanism& m, const std::string& key) { return mech::GetParameter(m, key); }

uint32_t Vni(const Mechanism& m) {
  uint32_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Param(m, mech::vxlan::kVNI), &v)) << m.DebugString();
  return v;
}

Mechanism VxlanOffer(const std::string& src) {
  return mech::MakeMechanism(mech::kRemote, mech::vxlan::kType,
                             {{mech::vxlan::kSrcIP, src}, {mech::vxlan::kSrcPort, "4789"}});
}

NetworkServiceRequest Req(const std::string& id, std::vector<Mechanism> prefs) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  r.mutable_connection()->set_network_service("ns");
  for (auto& p : prefs) *r.add_mechanism_preferences() = std::move(p);
  return r;
}

// The end of a chain: fails on demand.
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

class ServerSideTest : public ::testing::Test {
 protected:
  void Build(MechanismOptions o) {
    vxlan = std::make_shared<VxlanServer>(o.tunnel_ip, o.vxlan_port);
    vlan = std::make_shared<VlanServer>(o.vlan);
    chain = std::make_shared<ServerChain>(ServerChain::Elements{
        metadata::NewServer(),
        NewMechanismsServer(o),
        tail,
    });
    // The same handlers, observable.
    observed = std::make_shared<ServerChain>(ServerChain::Elements{
        metadata::NewServer(),
        mechanisms::NewServer({{mech::vxlan::kType, vxlan}, {mech::vlan::kType, vlan}}),
        tail,
    });
  }
  absl::StatusOr<Connection> Do(ServerChain& c, NetworkServiceRequest r) {
    return c.Request(Context(), r);
  }

  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  std::shared_ptr<VxlanServer> vxlan;
  std::shared_ptr<VlanServer> vlan;
  std::shared_ptr<ServerChain> chain, observed;
};

TEST_F(ServerSideTest, VxlanAnswersWithItsEndAndAnEvenVniWhenSourceIsLower) {
  Build({.tunnel_ip = "10.0.0.2", .vxlan_port = 4790});
  auto conn = Do(*chain, Req("c1", {VxlanOffer("10.0.0.1")}));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const Mechanism& m = conn->mechanism();
  EXPECT_EQ(m.type(), mech::vxlan::kType);
  EXPECT_EQ(m.cls(), mech::kRemote);
  EXPECT_EQ(Param(m, mech::vxlan::kSrcIP), "10.0.0.1");
  EXPECT_EQ(Param(m, mech::vxlan::kSrcPort), "4789");
  EXPECT_EQ(Param(m, mech::vxlan::kDstIP), "10.0.0.2");
  EXPECT_EQ(Param(m, mech::vxlan::kDstPort), "4790");
  const uint32_t vni = Vni(m);
  EXPECT_NE(vni, 0u);
  EXPECT_LE(vni, mech::vxlan::kMaxVNI);
  EXPECT_EQ(vni % 2, 0u);
}

TEST_F(ServerSideTest, VxlanVniIsOddWhenSourceIsHigherAndParityFollowsOriginalIps) {
  Build({.tunnel_ip = "10.0.0.2"});
  for (int i = 0; i < 20; ++i) {
    auto conn = Do(*chain, Req("c" + std::to_string(i), {VxlanOffer("10.0.0.3")}));
    ASSERT_TRUE(conn.ok()) << conn.status();
    EXPECT_EQ(Vni(conn->mechanism()) % 2, 1u);
  }
  // orig_src_ip wins over src_ip for the parity (NAT in between).
  Mechanism natted = VxlanOffer("10.0.0.3");
  (*natted.mutable_parameters())[mech::vxlan::kSrcOriginalIP] = "10.0.0.1";
  auto conn = Do(*chain, Req("nat", {natted}));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Vni(conn->mechanism()) % 2, 0u);
  // IPv6 ends.
  Build({.tunnel_ip = "fd00::1"});
  auto v6 = Do(*chain, Req("v6", {VxlanOffer("fd00::2")}));
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(Param(v6->mechanism(), mech::vxlan::kDstIP), "fd00::1");
  EXPECT_EQ(Vni(v6->mechanism()) % 2, 1u);
}

TEST_F(ServerSideTest, VxlanVnisAreUniquePerSourceKeptOnRefreshAndReleasedOnClose) {
  Build({.tunnel_ip = "10.0.0.2"});
  std::set<uint32_t> vnis;
  std::vector<Connection> conns;
  for (int i = 0; i < 200; ++i) {
    auto conn = Do(*observed, Req("c" + std::to_string(i), {VxlanOffer("10.0.0.1")}));
    ASSERT_TRUE(conn.ok()) << conn.status();
    vnis.insert(Vni(conn->mechanism()));
    conns.push_back(*conn);
  }
  EXPECT_EQ(vnis.size(), 200u);
  EXPECT_EQ(vxlan->leases(), 200u);

  // Refresh with the returned connection: same VNI, no new lease.
  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = conns[0];
  auto again = Do(*observed, refresh);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Vni(again->mechanism()), Vni(conns[0].mechanism()));
  // A refresh whose mechanism lost the VNI gets the remembered one.
  NetworkServiceRequest lost;
  *lost.mutable_connection() = conns[1];
  lost.mutable_connection()->mutable_mechanism()->mutable_parameters()->erase(mech::vxlan::kVNI);
  auto kept = Do(*observed, lost);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(Vni(kept->mechanism()), Vni(conns[1].mechanism()));
  EXPECT_EQ(vxlan->leases(), 200u);

  for (auto& c : conns) ASSERT_TRUE(observed->Close(Context(), c).ok());
  EXPECT_EQ(vxlan->leases(), 0u);
}

TEST_F(ServerSideTest, VxlanClientVniIsKeptUnlessAnotherConnectionHoldsIt) {
  Build({.tunnel_ip = "10.0.0.2"});
  Mechanism with_vni = VxlanOffer("10.0.0.1");
  (*with_vni.mutable_parameters())[mech::vxlan::kVNI] = "1234";
  NetworkServiceRequest a = Req("a", {});
  *a.mutable_connection()->mutable_mechanism() = with_vni;  // e.g. after this forwarder restarted
  auto conn = Do(*observed, a);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Vni(conn->mechanism()), 1234u);
  NetworkServiceRequest b = Req("b", {});
  *b.mutable_connection()->mutable_mechanism() = with_vni;
  auto clash = Do(*observed, b);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kFailedPrecondition) << clash.status();
  EXPECT_EQ(vxlan->leases(), 1u);
  // Another source may use the same VNI.
  NetworkServiceRequest c = Req("c", {});
  *c.mutable_connection()->mutable_mechanism() = with_vni;
  (*c.mutable_connection()->mutable_mechanism()->mutable_parameters())[mech::vxlan::kSrcIP] =
      "10.0.0.9";
  EXPECT_TRUE(Do(*observed, c).ok());
  EXPECT_EQ(vxlan->leases(), 2u);
}

TEST_F(ServerSideTest, VxlanRefusesAMissingSourceAndReleasesOnFailure) {
  Build({.tunnel_ip = "10.0.0.2"});
  auto no_src = Do(*observed, Req("c1", {mech::MakeMechanism(mech::kRemote, mech::vxlan::kType)}));
  EXPECT_EQ(no_src.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_src.status().message().find("src_ip"), std::string::npos) << no_src.status();
  tail->fail = absl::UnavailableError("endpoint gone");
  EXPECT_FALSE(Do(*observed, Req("c2", {VxlanOffer("10.0.0.1")})).ok());
  EXPECT_EQ(vxlan->leases(), 0u);
}

TEST_F(ServerSideTest, WireguardAnswersWithItsEndAndKey) {
  MechanismOptions o{.tunnel_ip = "10.0.0.2"};
  o.wireguard = {.enabled = true, .public_key = kKey, .port = 51821};
  Build(o);
  Mechanism offer = mech::MakeMechanism(mech::kRemote, mech::wireguard::kType,
                                        {{mech::wireguard::kSrcIP, "10.0.0.1"},
                                         {mech::wireguard::kSrcPort, "51820"},
                                         {mech::wireguard::kSrcPublicKey, kKey}});
  auto conn = Do(*chain, Req("c1", {offer}));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Param(conn->mechanism(), mech::wireguard::kDstIP), "10.0.0.2");
  EXPECT_EQ(Param(conn->mechanism(), mech::wireguard::kDstPort), "51821");
  EXPECT_EQ(Param(conn->mechanism(), mech::wireguard::kDstPublicKey), kKey);
  (*offer.mutable_parameters())[mech::wireguard::kSrcPublicKey] = "short";
  EXPECT_EQ(Do(*chain, Req("c2", {offer})).status().code(), absl::StatusCode::kInvalidArgument);
  // Not configured: not accepted.
  Build({.tunnel_ip = "10.0.0.2"});
  EXPECT_EQ(Do(*chain, Req("c3", {offer})).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ServerSideTest, VlanHandsOutTheLowestFreeIdAndReleasesIt) {
  Build({.vlan = {.enabled = true, .first_id = 100, .last_id = 101}});
  Mechanism offer = mech::MakeMechanism(mech::kRemote, mech::vlan::kType);
  auto a = Do(*observed, Req("a", {offer}));
  auto b = Do(*observed, Req("b", {offer}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Param(a->mechanism(), mech::vlan::kID), "100");
  EXPECT_EQ(Param(b->mechanism(), mech::vlan::kID), "101");
  EXPECT_EQ(Do(*observed, Req("c", {offer})).status().code(), absl::StatusCode::kResourceExhausted);
  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *a;
  auto again = Do(*observed, refresh);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Param(again->mechanism(), mech::vlan::kID), "100");
  Connection done = *a;
  ASSERT_TRUE(observed->Close(Context(), done).ok());
  EXPECT_EQ(vlan->leases(), 1u);
  auto c = Do(*observed, Req("c", {offer}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Param(c->mechanism(), mech::vlan::kID), "100");
  // An id outside the range is refused.
  NetworkServiceRequest bad = Req("d", {});
  *bad.mutable_connection()->mutable_mechanism() = offer;
  (*bad.mutable_connection()->mutable_mechanism()->mutable_parameters())[mech::vlan::kID] = "7";
  EXPECT_EQ(Do(*observed, bad).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ServerSideTest, LocalTypesPassAndUnconfiguredRemoteTypesAreRefused) {
  Build({});
  auto conn = Do(*chain, Req("c1", {VxlanOffer("10.0.0.1"), mech::MakeKernel()}));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), mech::kernel::kType) << "no tunnel IP: no VXLAN";
  EXPECT_FALSE(Do(*chain, Req("c2", {VxlanOffer("10.0.0.1")})).ok());
}

// ---------------------------------------------------------------------------------------------
// Next-hop side.

// The next hop: records the request, answers with `answer` when set.
class NextHop : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    seen = request;
    auto result = next.Request(ctx, request, opts);
    if (result.ok() && answer) *result->mutable_mechanism() = *answer;
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    ++closes;
    return next.Close(ctx, conn, opts);
  }
  NetworkServiceRequest seen;
  std::optional<Mechanism> answer;
  int closes = 0;
};

class ClientSideTest : public ::testing::Test {
 protected:
  absl::StatusOr<Connection> Do(const MechanismOptions& o, const std::string& url,
                                const std::string& payload = "ETHERNET",
                                const std::string& upstream = mech::kernel::kType) {
    ClientChain chain({metadata::NewClient(), clienturl::NewClient(*api::ParseNsmUrl(url)),
                       mechanismtranslation::NewClient(), std::make_shared<MechanismsClient>(o),
                       hop});
    NetworkServiceRequest r = Req("c1", {});
    r.mutable_connection()->set_payload(payload);
    *r.mutable_connection()->mutable_mechanism() = mech::MakeMechanism(mech::kLocal, upstream);
    return chain.Request(Context(), r);
  }
  std::vector<std::string> Offered() {
    std::vector<std::string> out;
    for (const auto& m : hop->seen.mechanism_preferences()) out.push_back(m.cls() + "/" + m.type());
    return out;
  }

  std::shared_ptr<NextHop> hop = std::make_shared<NextHop>();
};

TEST_F(ClientSideTest, UnixNextHopGetsLocalMechanismsTheCallersFirst) {
  MechanismOptions o{.tunnel_ip = "10.0.0.1"};
  ASSERT_TRUE(Do(o, "unix:///run/nse.sock").ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"LOCAL/KERNEL", "LOCAL/MEMIF"}));
  ASSERT_TRUE(Do(o, "unix:///run/nse.sock", "ETHERNET", mech::memif::kType).ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"LOCAL/MEMIF", "LOCAL/KERNEL"}));
  for (const auto& m : hop->seen.mechanism_preferences()) EXPECT_TRUE(m.parameters().empty());
}

TEST_F(ClientSideTest, TcpNextHopGetsRemoteMechanismsFirstWithThisSidesParameters) {
  MechanismOptions o{.tunnel_ip = "10.0.0.1", .vxlan_port = 4790};
  o.wireguard = {.enabled = true, .public_key = kKey};
  o.vlan = {.enabled = true, .first_id = 1, .last_id = 9};
  ASSERT_TRUE(Do(o, "tcp://10.1.0.2:5001").ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"REMOTE/VXLAN", "REMOTE/VLAN", "LOCAL/KERNEL",
                                                 "LOCAL/MEMIF"}));
  const Mechanism& vx = hop->seen.mechanism_preferences(0);
  EXPECT_EQ(Param(vx, mech::vxlan::kSrcIP), "10.0.0.1");
  EXPECT_EQ(Param(vx, mech::vxlan::kSrcPort), "4790");
  EXPECT_EQ(Param(vx, mech::vxlan::kVNI), "") << "the serving side picks the VNI";

  ASSERT_TRUE(Do(o, "tcp://10.1.0.2:5001", "IP").ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"REMOTE/WIREGUARD", "REMOTE/VXLAN", "REMOTE/VLAN",
                                                 "LOCAL/KERNEL", "LOCAL/MEMIF"}));
  const Mechanism& wg = hop->seen.mechanism_preferences(0);
  EXPECT_EQ(Param(wg, mech::wireguard::kSrcIP), "10.0.0.1");
  EXPECT_EQ(Param(wg, mech::wireguard::kSrcPort), "51820");
  EXPECT_EQ(Param(wg, mech::wireguard::kSrcPublicKey), kKey);

  o.classify = ClassifyStrictly;
  ASSERT_TRUE(Do(o, "tcp://10.1.0.2:5001").ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"REMOTE/VXLAN", "REMOTE/VLAN"}));
}

TEST_F(ClientSideTest, NothingToOfferIsAPreciseError) {
  MechanismOptions o;
  o.classify = ClassifyStrictly;
  auto r = Do(o, "tcp://10.1.0.2:5001");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("tcp://10.1.0.2:5001"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("NSM_TUNNEL_IP"), std::string::npos) << r.status();
  EXPECT_EQ(hop->seen.connection().id(), "") << "nothing was sent";
  // Without a tunnel IP a tcp next hop still gets the local types (it may be a local NSE).
  ASSERT_TRUE(Do(MechanismOptions{}, "tcp://10.1.0.2:5001").ok());
  EXPECT_EQ(Offered(), (std::vector<std::string>{"LOCAL/KERNEL", "LOCAL/MEMIF"}));
}

TEST_F(ClientSideTest, AnswerWithoutTunnelParametersIsClosedAndRefused) {
  MechanismOptions o{.tunnel_ip = "10.0.0.1"};
  hop->answer =
      mech::MakeMechanism(mech::kRemote, mech::vxlan::kType,
                          {{mech::vxlan::kSrcIP, "10.0.0.1"}, {mech::vxlan::kDstIP, "10.0.0.2"}});
  auto r = Do(o, "tcp://10.1.0.2:5001");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("vni"), std::string::npos) << r.status();
  EXPECT_EQ(hop->closes, 1);
  // A complete answer is taken; the caller gets its own mechanism back (mechanismtranslation).
  (*hop->answer->mutable_parameters())[mech::vxlan::kVNI] = "42";
  auto ok = Do(o, "tcp://10.1.0.2:5001");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->mechanism().type(), mech::kernel::kType);
}

TEST(CheckAnswerTest, RemoteMechanismsNeedTheirParameters) {
  auto m = [](const std::string& type, mech::Parameters p) {
    return mech::MakeMechanism(mech::kRemote, type, p);
  };
  EXPECT_TRUE(CheckAnswer(mech::MakeKernel()).ok());
  EXPECT_FALSE(CheckAnswer(m("VXLAN", {{"dst_ip", "x"}, {"vni", "1"}})).ok());
  EXPECT_FALSE(CheckAnswer(m("VXLAN", {{"dst_ip", "10.0.0.1"}, {"vni", "16777216"}})).ok());
  EXPECT_TRUE(CheckAnswer(m("VXLAN", {{"dst_ip", "10.0.0.1"}, {"vni", "1"}})).ok());
  EXPECT_FALSE(CheckAnswer(m("WIREGUARD", {{"dst_ip", "10.0.0.1"}})).ok());
  EXPECT_TRUE(CheckAnswer(m("WIREGUARD", {{"dst_ip", "10.0.0.1"}, {"dst_public_key", kKey}})).ok());
  EXPECT_FALSE(CheckAnswer(m("VLAN", {{"vlan-id", "0"}})).ok());
  EXPECT_TRUE(CheckAnswer(m("VLAN", {{"vlan-id", "100"}})).ok());
}

TEST(OptionsTest, ValidateNamesTheProblem) {
  EXPECT_TRUE(Validate({}).ok());
  EXPECT_TRUE(Validate({.tunnel_ip = "fd00::1"}).ok());
  EXPECT_FALSE(Validate({.local = {"KERNEL", "VXLAN"}}).ok());
  EXPECT_FALSE(Validate({.tunnel_ip = "10.0.0"}).ok());
  MechanismOptions wg{.tunnel_ip = "10.0.0.1"};
  wg.wireguard = {.enabled = true, .public_key = "bad"};
  EXPECT_NE(Validate(wg).message().find("\"bad\""), std::string::npos);
  wg.tunnel_ip = "";
  wg.wireguard.public_key = kKey;
  EXPECT_FALSE(Validate(wg).ok());
  EXPECT_FALSE(Validate({.vlan = {.enabled = true, .first_id = 10, .last_id = 5}}).ok());
  EXPECT_FALSE(Validate({.vlan = {.enabled = true, .first_id = 0, .last_id = 5}}).ok());
}

TEST(OptionsTest, RemoteTypesByPayload) {
  MechanismOptions o{.tunnel_ip = "10.0.0.1"};
  EXPECT_EQ(RemoteTypes(o, "ETHERNET"), std::vector<std::string>{"VXLAN"});
  EXPECT_EQ(RemoteTypes(o, "IP"), std::vector<std::string>{"VXLAN"});
  o.wireguard = {.enabled = true, .public_key = kKey};
  EXPECT_EQ(RemoteTypes(o, "ETHERNET"), std::vector<std::string>{"VXLAN"});
  EXPECT_EQ(RemoteTypes(o, "IP"), (std::vector<std::string>{"WIREGUARD", "VXLAN"}));
  EXPECT_EQ(RemoteTypes(o, ""), (std::vector<std::string>{"WIREGUARD", "VXLAN"}));
  EXPECT_TRUE(RemoteTypes(MechanismOptions{}, "IP").empty());
}

}  // namespace
}  // namespace nsm::forwarder

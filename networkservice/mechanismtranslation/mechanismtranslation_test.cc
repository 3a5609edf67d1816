// mechanismtranslation client: what the next hop sees on first Request, refresh and Close, what
// the caller gets back, and that failures and missing metadata change nothing.
#include <optional>
#include <string>
#include <vector>

#include "api/mechanisms.h"
#include "gtest/gtest.h"
#include "networkservice/mechanismtranslation/client.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::mechanismtranslation {
namespace {

using connection::Mechanism;

// The next hop: records what it receives and answers with `answer` as its mechanism.
class NextHop : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    requests.push_back(request);
    auto up = UpstreamMechanism(ctx);
    upstream_types.push_back(up ? up->type() : "<none>");
    if (!fail.ok()) return fail;
    auto result = next.Request(ctx, request, opts);
    if (result.ok() && answer) *result->mutable_mechanism() = *answer;
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    closes.push_back(conn);
    return next.Close(ctx, conn, opts);
  }
  std::vector<NetworkServiceRequest> requests;
  std::vector<std::string> upstream_types;
  std::vector<Connection> closes;
  std::optional<Mechanism> answer;
  absl::Status fail;
};

class MechanismTranslationTest : public ::testing::Test {
 protected:
  NetworkServiceRequest Upstream() {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id("conn-1");
    r.mutable_connection()->set_network_service("ns");
    Mechanism kernel = api::mech::MakeKernel("file:///proc/42/ns/net");
    (*kernel.mutable_parameters())[api::mech::kernel::kInterfaceName] = "nsm-1";
    *r.add_mechanism_preferences() = kernel;
    *r.add_mechanism_preferences() = api::mech::MakeMemifFilesystem("/tmp/memif.sock");
    *r.mutable_connection()->mutable_mechanism() = kernel;  // chosen by the server side
    return r;
  }
  Mechanism Vxlan(const std::string& vni) {
    return api::mech::MakeMechanism(api::mech::kRemote, api::mech::vxlan::kType,
                                    {{api::mech::vxlan::kSrcIP, "10.0.0.1"},
                                     {api::mech::vxlan::kDstIP, "10.0.0.2"},
                                     {api::mech::vxlan::kVNI, vni}});
  }

  std::shared_ptr<NextHop> hop = std::make_shared<NextHop>();
  ClientChain chain{{metadata::NewClient(), NewClient(), hop}};
};

TEST_F(MechanismTranslationTest, FirstRequestSendsNoMechanismAndRestoresTheUpstreamOne) {
  hop->answer = Vxlan("42");
  auto req = Upstream();
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();

  ASSERT_EQ(hop->requests.size(), 1u);
  EXPECT_EQ(hop->requests[0].mechanism_preferences_size(), 0);
  EXPECT_FALSE(hop->requests[0].connection().has_mechanism());
  EXPECT_EQ(hop->requests[0].connection().network_service(), "ns");
  EXPECT_EQ(hop->upstream_types[0], api::mech::kernel::kType);

  // The caller sees its own mechanism, everything else from the next hop.
  EXPECT_EQ(conn->mechanism().DebugString(), req.connection().mechanism().DebugString());
  EXPECT_EQ(conn->id(), "conn-1");
  // The caller's request has its preferences and mechanism back.
  EXPECT_EQ(req.mechanism_preferences_size(), 2);
  EXPECT_EQ(req.connection().mechanism().type(), api::mech::kernel::kType);
}

TEST_F(MechanismTranslationTest, RefreshSendsTheRememberedDownstreamMechanism) {
  hop->answer = Vxlan("42");
  auto req = Upstream();
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  hop->answer.reset();  // the next hop keeps what it gets
  auto refresh = Upstream();
  auto conn = chain.Request(Context(), refresh);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(hop->requests.size(), 2u);
  EXPECT_EQ(hop->requests[1].mechanism_preferences_size(), 0);
  EXPECT_EQ(hop->requests[1].connection().mechanism().DebugString(), Vxlan("42").DebugString());
  EXPECT_EQ(conn->mechanism().type(), api::mech::kernel::kType);
}

TEST_F(MechanismTranslationTest, CloseSendsAndForgetsTheDownstreamMechanism) {
  hop->answer = Vxlan("42");
  auto req = Upstream();
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  Connection done = *conn;
  ASSERT_TRUE(chain.Close(Context(), done).ok());
  ASSERT_EQ(hop->closes.size(), 1u);
  EXPECT_EQ(hop->closes[0].mechanism().DebugString(), Vxlan("42").DebugString());
  EXPECT_EQ(done.mechanism().type(), api::mech::kernel::kType) << "the caller's mechanism is back";

  // A Close of something unknown sends no mechanism; a new Request starts from nothing.
  Connection again = *conn;
  ASSERT_TRUE(chain.Close(Context(), again).ok());
  EXPECT_FALSE(hop->closes[1].has_mechanism());
  auto fresh = Upstream();
  ASSERT_TRUE(chain.Request(Context(), fresh).ok());
  EXPECT_FALSE(hop->requests.back().connection().has_mechanism());
}

TEST_F(MechanismTranslationTest, FailedRefreshKeepsTheRememberedMechanism) {
  hop->answer = Vxlan("42");
  auto req = Upstream();
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  hop->fail = absl::UnavailableError("next hop down");
  hop->answer = Vxlan("7");
  auto refresh = Upstream();
  EXPECT_EQ(chain.Request(Context(), refresh).status().code(), absl::StatusCode::kUnavailable);
  hop->fail = absl::OkStatus();
  hop->answer.reset();
  auto again = Upstream();
  ASSERT_TRUE(chain.Request(Context(), again).ok());
  EXPECT_EQ(hop->requests.back().connection().mechanism().DebugString(), Vxlan("42").DebugString());
}

TEST_F(MechanismTranslationTest, UpstreamWithoutMechanismGetsNoneBack) {
  hop->answer = api::mech::MakeKernel();
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("conn-2");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_FALSE(conn->has_mechanism());
  EXPECT_EQ(hop->upstream_types[0], "<none>");
}

// A server parses its request onto an arena: the caller's mechanism and preferences step aside
// and come back as the same objects (a Swap with a heap message would copy them both ways).
TEST_F(MechanismTranslationTest, ARequestOnAnArenaGetsItsOwnObjectsBack) {
  hop->answer = Vxlan("42");
  google::protobuf::Arena arena;
  auto& req = *google::protobuf::Arena::CreateMessage<NetworkServiceRequest>(&arena);
  req = Upstream();
  const Mechanism* preference = &req.mechanism_preferences(0);
  // Its strings are objects of their own, which a Swap moves and a copy makes anew.
  const std::string* type = &req.connection().mechanism().type();
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(hop->requests.size(), 1u);
  EXPECT_EQ(hop->requests[0].mechanism_preferences_size(), 0);
  EXPECT_FALSE(hop->requests[0].connection().has_mechanism());
  ASSERT_EQ(req.mechanism_preferences_size(), 2);
  EXPECT_EQ(&req.mechanism_preferences(0), preference);
  EXPECT_EQ(&req.connection().mechanism().type(), type);
  EXPECT_EQ(req.connection().mechanism().type(), api::mech::kernel::kType);

  auto& done = *google::protobuf::Arena::CreateMessage<Connection>(&arena);
  done = *conn;
  type = &done.mechanism().type();
  ASSERT_TRUE(chain.Close(Context(), done).ok());
  ASSERT_EQ(hop->closes.size(), 1u);
  EXPECT_EQ(hop->closes[0].mechanism().DebugString(), Vxlan("42").DebugString());
  EXPECT_EQ(&done.mechanism().type(), type);
  EXPECT_EQ(done.mechanism().type(), api::mech::kernel::kType);
}

TEST_F(MechanismTranslationTest, WithoutMetadataNothingIsRemembered) {
  auto bare_hop = std::make_shared<NextHop>();
  bare_hop->answer = Vxlan("42");
  ClientChain bare({NewClient(), bare_hop});
  auto req = Upstream();
  auto conn = bare.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), api::mech::kernel::kType);
  auto refresh = Upstream();
  ASSERT_TRUE(bare.Request(Context(), refresh).ok());
  EXPECT_FALSE(bare_hop->requests[1].connection().has_mechanism());
  Connection done = *conn;
  ASSERT_TRUE(bare.Close(Context(), done).ok());
  EXPECT_FALSE(bare_hop->closes[0].has_mechanism());
}

}  // namespace
}  // namespace nsm::mechanismtranslation

// authorize: allow-all default, denial code and message, checks only with a peer, the left side of
// the path, token expiry with the owner's Close exemption, owner bookkeeping, the client's
// rollback.
#include <memory>
#include <string>
#include <vector>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/authorize/client.h"
#include "networkservice/authorize/policy.h"
#include "networkservice/authorize/server.h"

namespace nsm::authorize {
namespace {

class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    ++requests;
    if (fail) return absl::UnavailableError("down");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    ++closes;
    closed = conn;
    if (fail_close) return absl::UnavailableError("close failed");
    return next.Close(ctx, conn);
  }
  int requests = 0;
  int closes = 0;
  bool fail = false;
  bool fail_close = false;
  Connection closed;
};

// Path [nsc, nsmgr, forwarder] in the nsmgr's frame (index 1), nsc token expiring at `expires`.
Connection Conn(absl::Time expires) {
  Connection c;
  c.set_id("nsmgr-id");
  c.set_network_service("ns");
  c.mutable_path()->set_index(1);
  const char* names[] = {"nsc", "nsmgr", "forwarder"};
  for (const char* n : names) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(n);
    s->set_id(std::string(n) + "-id");
  }
  *c.mutable_path()->mutable_path_segments(0)->mutable_expires() = api::ToProtoTimestamp(expires);
  return c;
}

NetworkServiceRequest Req(const Connection& c) {
  NetworkServiceRequest r;
  *r.mutable_connection() = c;
  return r;
}

const Peer kOwner{"unix:/var/lib/nsm/nsm.io.sock", {"spiffe://example.org/nsc"}};
const Peer kStranger{"unix:/var/lib/nsm/nsm.io.sock", {"spiffe://example.org/mallory"}};

std::shared_ptr<const Policy> DenyAll() {
  return FromFunction("deny_all", [](const Context&, const Input&) { return false; });
}

TEST(AuthorizeServerTest, DefaultAllowsEverythingAndTracksNothing) {
  auto auth = NewServer();
  auto tail = std::make_shared<Tail>();
  auto chain = MakeServerChain({auth, tail});
  auto clock = FakeClock::Create();
  auto req = Req(Conn(clock->Now() - absl::Hours(1)));
  auto ctx = Context::Background(clock).WithPeer(kOwner);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  Connection c = req.connection();
  ASSERT_TRUE(chain->Close(ctx, c).ok());
  EXPECT_EQ(tail->requests, 1);
  EXPECT_EQ(tail->closes, 1);
  EXPECT_EQ(auth->owners(), 0u);
}

TEST(AuthorizeServerTest, DenialIsPermissionDeniedAndStopsTheChain) {
  auto tail = std::make_shared<Tail>();
  auto chain = MakeServerChain({NewServer({DenyAll()}), tail});
  auto req = Req(Conn(absl::Now() + absl::Hours(1)));
  auto ctx = Context().WithPeer(kOwner);
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(conn.status().message(), "no sufficient privileges");
  Connection c = req.connection();
  absl::Status s = chain->Close(ctx, c);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "no sufficient privileges");
  EXPECT_EQ(tail->requests, 0);
  EXPECT_EQ(tail->closes, 0);
}

TEST(AuthorizeServerTest, CallsWithoutAPeerAreNotChecked) {
  auto tail = std::make_shared<Tail>();
  auto auth = NewServer({DenyAll()});
  auto chain = MakeServerChain({auth, tail});
  auto req = Req(Conn(absl::Now()));
  ASSERT_TRUE(chain->Request(Context(), req).ok());
  Connection c = req.connection();
  ASSERT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_EQ(tail->requests, 1);
  EXPECT_EQ(tail->closes, 1);
  EXPECT_EQ(auth->owners(), 0u);
}

TEST(AuthorizeServerTest, PoliciesSeeTheLeftSideOfThePath) {
  std::vector<std::string> names;
  uint32_t index = 99;
  bool saw_peer = false;
  auto record = FromFunction("record", [&](const Context&, const Input& in) {
    names.clear();
    for (const auto& s : in.path->path_segments()) names.push_back(s.name());
    index = in.path->index();
    saw_peer = in.peer != nullptr && in.peer->identities == kOwner.identities;
    return true;
  });
  auto chain = MakeServerChain({NewServer({record}), std::make_shared<Tail>()});
  auto req = Req(Conn(absl::Now() + absl::Hours(1)));
  ASSERT_TRUE(chain->Request(Context().WithPeer(kOwner), req).ok());
  EXPECT_THAT(names, ::testing::ElementsAre("nsc", "nsmgr"));
  EXPECT_EQ(index, 1u);
  EXPECT_TRUE(saw_peer);

  // An index beyond the path is clamped, never a crash.
  auto bad = Req(Conn(absl::Now() + absl::Hours(1)));
  bad.mutable_connection()->mutable_path()->set_index(7);
  ASSERT_TRUE(chain->Request(Context().WithPeer(kOwner), bad).ok());
  EXPECT_EQ(names.size(), 3u);
}

class ExpiryTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<Server> auth = NewServer({TokensNotExpired()});
  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  std::shared_ptr<ServerChain> chain = MakeServerChain({auth, tail});
  Context owner = Context::Background(clock).WithPeer(kOwner);
  Context stranger = Context::Background(clock).WithPeer(kStranger);
};

TEST_F(ExpiryTest, ExpiredTokenIsDeniedValidTokenAllowed) {
  auto expired = Req(Conn(clock->Now()));
  auto conn = chain->Request(owner, expired);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth->owners(), 0u);

  auto valid = Req(Conn(clock->Now() + absl::Minutes(15)));
  ASSERT_TRUE(chain->Request(owner, valid).ok());
  EXPECT_EQ(auth->owners(), 1u);
}

TEST_F(ExpiryTest, OwnerMayCloseAfterItsTokenExpired) {
  auto req = Req(Conn(clock->Now() + absl::Minutes(15)));
  ASSERT_TRUE(chain->Request(owner, req).ok());
  clock->Advance(absl::Minutes(20));

  Connection c = req.connection();
  absl::Status s = chain->Close(stranger, c);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(tail->closes, 0);
  EXPECT_EQ(auth->owners(), 1u);  // a denied Close changes nothing

  ASSERT_TRUE(chain->Close(owner, c).ok());
  EXPECT_EQ(tail->closes, 1);
  EXPECT_EQ(auth->owners(), 0u);

  // The connection is gone: a second Close after expiry is not the owner's any more.
  EXPECT_EQ(chain->Close(owner, c).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ExpiryTest, AnyoneMayCloseBeforeExpiry) {
  auto req = Req(Conn(clock->Now() + absl::Minutes(15)));
  ASSERT_TRUE(chain->Request(owner, req).ok());
  Connection c = req.connection();
  ASSERT_TRUE(chain->Close(stranger, c).ok());
  EXPECT_EQ(auth->owners(), 0u);
}

TEST_F(ExpiryTest, FailedRequestRemembersNoOwnerAndRefreshKeepsTheFirst) {
  tail->fail = true;
  auto req = Req(Conn(clock->Now() + absl::Minutes(15)));
  EXPECT_FALSE(chain->Request(owner, req).ok());
  EXPECT_EQ(auth->owners(), 0u);

  tail->fail = false;
  ASSERT_TRUE(chain->Request(owner, req).ok());
  ASSERT_TRUE(chain->Request(stranger, req).ok());  // refresh by another peer: owner unchanged
  clock->Advance(absl::Hours(1));
  Connection c = req.connection();
  EXPECT_EQ(chain->Close(stranger, c).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(chain->Close(owner, c).ok());
}

TEST_F(ExpiryTest, OwnerIsForgottenEvenWhenDownstreamCloseFails) {
  auto req = Req(Conn(clock->Now() + absl::Minutes(15)));
  ASSERT_TRUE(chain->Request(owner, req).ok());
  tail->fail_close = true;
  Connection c = req.connection();
  EXPECT_EQ(chain->Close(owner, c).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(auth->owners(), 0u);
}

TEST(AuthorizeClientTest, DeniedAnswerIsClosedDownstream) {
  auto tail = std::make_shared<Tail>();
  auto chain = MakeClientChain({NewClient({DenyAll()}), ServerToClient(tail)});
  auto req = Req(Conn(absl::Now() + absl::Hours(1)));
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(conn.status().message(), "no sufficient privileges");
  EXPECT_EQ(tail->requests, 1);
  EXPECT_EQ(tail->closes, 1);
  EXPECT_EQ(tail->closed.id(), "nsmgr-id");

  tail->fail_close = true;
  conn = chain->Request(Context(), req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(conn.status().message(),
            "no sufficient privileges; connection closed with error: close failed");
}

TEST(AuthorizeClientTest, ChecksTheWholeReturnedPathAndLetsItsOwnCloseThrough) {
  auto clock = FakeClock::Create();
  auto tail = std::make_shared<Tail>();
  auto chain = MakeClientChain({NewClient({TokensNotExpired()}), ServerToClient(tail)});
  auto req = Req(Conn(clock->Now() + absl::Minutes(10)));
  *req.mutable_connection()->mutable_path()->mutable_path_segments(2)->mutable_expires() =
      api::ToProtoTimestamp(clock->Now() - absl::Seconds(1));  // beyond the index: still checked
  auto ctx = Context::Background(clock);
  EXPECT_EQ(chain->Request(ctx, req).status().code(), absl::StatusCode::kPermissionDenied);

  auto ok = Req(Conn(clock->Now() + absl::Minutes(10)));
  ASSERT_TRUE(chain->Request(ctx, ok).ok());
  clock->Advance(absl::Hours(1));
  Connection c = ok.connection();
  EXPECT_TRUE(chain->Close(ctx, c).ok());

  auto deny = MakeClientChain({NewClient({DenyAll()}), ServerToClient(tail)});
  const int closes = tail->closes;
  EXPECT_EQ(deny->Close(ctx, c).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(tail->closes, closes);
}

TEST(AuthorizePolicyTest, OwnerKeyPrefersIdentities) {
  EXPECT_EQ(OwnerKey(Peer{"ipv4:1.2.3.4:5", {"a", "b"}}), "id:a,b");
  EXPECT_EQ(OwnerKey(Peer{"ipv4:1.2.3.4:5", {}}), "addr:ipv4:1.2.3.4:5");
  EXPECT_FALSE(HasPeer(Peer{}));
  EXPECT_TRUE(HasPeer(Peer{"unix:", {}}));
}

}  // namespace
}  // namespace nsm::authorize

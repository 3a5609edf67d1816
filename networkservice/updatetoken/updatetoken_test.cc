// updatetoken: caller token from request metadata (exactly one valid value each), own token from
// the generator for the calling peer, error messages, the client's headers, and a gRPC round trip.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "core/fake_clock.h"
#include "core/grpc_transport.h"
#include "gmock/gmock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "networkservice/updatepath/client.h"
#include "networkservice/updatepath/server.h"
#include "networkservice/updatetoken/client.h"
#include "networkservice/updatetoken/common.h"
#include "networkservice/updatetoken/server.h"

namespace nsm::updatetoken {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Issues "tok-<n>" expiring `lifetime` after the clock's now; remembers the peer it was asked for.
class CountingGenerator : public TokenGenerator {
 public:
  explicit CountingGenerator(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}
  absl::StatusOr<Token> Generate(const Peer& peer) const override {
    absl::MutexLock lock(&mu_);
    last_peer_ = peer;
    if (!fail_.ok()) return fail_;
    return Token{"tok-" + std::to_string(++count_), clock_->Now() + absl::Minutes(15)};
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(s);
  }
  Peer last_peer() const {
    absl::MutexLock lock(&mu_);
    return last_peer_;
  }

 private:
  std::shared_ptr<Clock> clock_;
  mutable absl::Mutex mu_;
  mutable int count_ ABSL_GUARDED_BY(mu_) = 0;
  mutable Peer last_peer_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

// Records the connection and the call options that reached the end of the chain.
class Probe : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    absl::MutexLock lock(&mu);
    seen = request.connection();
    ++calls;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    absl::MutexLock lock(&mu);
    seen = conn;
    ++calls;
    return next.Close(ctx, conn);
  }
  absl::Mutex mu;
  Connection seen;
  int calls = 0;
};

class OptionsProbe : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    headers = Headers(opts);
    seen = request.connection();
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    headers = Headers(opts);
    seen = conn;
    return next.Close(ctx, conn, opts);
  }
  static Metadata Headers(const CallOptions& opts) {
    grpc::ClientContext cc;
    for (const auto& apply : opts.apply) apply(cc);
    return grpc::testing::ClientContextTestPeer(&cc).GetSendInitialMetadata();
  }
  Metadata headers;
  Connection seen;
};

// A 2-segment path [nsc, nsmgr] with index 1 (the nsmgr's frame).
Connection TwoHops() {
  Connection c;
  c.set_id("id-1");
  c.set_network_service("ns");
  auto* p = c.mutable_path();
  p->set_index(1);
  p->add_path_segments()->set_name("nsc");
  p->mutable_path_segments(0)->set_id("id-0");
  p->add_path_segments()->set_name("nsmgr");
  p->mutable_path_segments(1)->set_id("id-1");
  return c;
}

Metadata TokenHeaders(const std::string& token, const std::string& expires) {
  return {{api::kTokenMetadataKey, token}, {api::kTokenExpiresMetadataKey, expires}};
}

class UpdateTokenServerTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<CountingGenerator> gen = std::make_shared<CountingGenerator>(clock);
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
  std::shared_ptr<ServerChain> chain = MakeServerChain({NewServer(gen), probe});
  Context ctx = Context::Background(clock).WithPeer(Peer{"unix:/nsc.sock", {"spiffe://nsc"}});
};

TEST_F(UpdateTokenServerTest, CallerTokenFromMetadataAndOwnTokenFromGenerator) {
  const absl::Time expires = clock->Now() + absl::Minutes(10) + absl::Nanoseconds(123);
  NetworkServiceRequest req;
  *req.mutable_connection() = TwoHops();
  auto conn = chain->Request(
      ctx.WithIncomingMetadata(TokenHeaders("caller-jwt", api::FormatRfc3339Nano(expires))), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const auto& prev = conn->path().path_segments(0);
  EXPECT_EQ(prev.token(), "caller-jwt");
  EXPECT_EQ(api::FromProtoTimestamp(prev.expires()), expires);
  const auto& own = conn->path().path_segments(1);
  EXPECT_EQ(own.token(), "tok-1");
  EXPECT_EQ(api::FromProtoTimestamp(own.expires()), clock->Now() + absl::Minutes(15));
  EXPECT_EQ(gen->last_peer().address, "unix:/nsc.sock");
  EXPECT_THAT(gen->last_peer().identities, ::testing::ElementsAre("spiffe://nsc"));
}

TEST_F(UpdateTokenServerTest, MissingRepeatedOrMalformedMetadataLeavesThePreviousSegment) {
  const std::string valid = api::FormatRfc3339Nano(clock->Now() + absl::Minutes(5));
  Metadata repeated = TokenHeaders("a", valid);
  repeated.emplace(api::kTokenMetadataKey, "b");
  const Metadata cases[] = {
      {},
      {{api::kTokenMetadataKey, "only-token"}},
      {{api::kTokenExpiresMetadataKey, valid}},
      repeated,
      TokenHeaders("jwt", "yesterday"),
      TokenHeaders("jwt", "2024-13-01T00:00:00Z"),
  };
  for (const Metadata& md : cases) {
    NetworkServiceRequest req;
    *req.mutable_connection() = TwoHops();
    auto* prev = req.mutable_connection()->mutable_path()->mutable_path_segments(0);
    prev->set_token("kept");
    *prev->mutable_expires() = api::ToProtoTimestamp(clock->Now() + absl::Minutes(1));
    auto conn = chain->Request(ctx.WithIncomingMetadata(md), req);
    ASSERT_TRUE(conn.ok()) << conn.status();
    EXPECT_EQ(conn->path().path_segments(0).token(), "kept");
    EXPECT_EQ(api::FromProtoTimestamp(conn->path().path_segments(0).expires()),
              clock->Now() + absl::Minutes(1));
    EXPECT_FALSE(conn->path().path_segments(1).token().empty());
  }
}

TEST_F(UpdateTokenServerTest, FirstSegmentHasNoPreviousToFill) {
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("id-0");
  auto* s = req.mutable_connection()->mutable_path()->add_path_segments();
  s->set_name("nse");
  s->set_id("id-0");
  auto conn = chain->Request(
      ctx.WithIncomingMetadata(TokenHeaders("x", api::FormatRfc3339Nano(clock->Now()))), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 1);
  EXPECT_EQ(conn->path().path_segments(0).token(), "tok-1");
}

TEST_F(UpdateTokenServerTest, IndexOutOfRangeIsRejectedWithoutCallingNext) {
  NetworkServiceRequest req;
  *req.mutable_connection() = TwoHops();
  req.mutable_connection()->mutable_path()->set_index(2);
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "NetworkServiceRequest.Connection.Path.Index(2) >= "
            "len(NetworkServiceRequest.Connection.Path.PathSegments)(2)");
  EXPECT_EQ(probe->calls, 0);

  NetworkServiceRequest empty;
  conn = chain->Request(ctx, empty);
  ASSERT_FALSE(conn.ok());
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("Index(0) >= "));
}

TEST_F(UpdateTokenServerTest, GeneratorErrorKeepsItsCodeAndLeavesTheConnection) {
  gen->Fail(absl::UnauthenticatedError("no SVID yet"));
  NetworkServiceRequest req;
  *req.mutable_connection() = TwoHops();
  const std::string before = req.connection().SerializeAsString();
  auto conn = chain->Request(
      ctx.WithIncomingMetadata(TokenHeaders("x", api::FormatRfc3339Nano(clock->Now()))), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(conn.status().message(), "updatetoken: cannot generate a token: no SVID yet");
  EXPECT_EQ(req.connection().SerializeAsString(), before);
  EXPECT_EQ(probe->calls, 0);
}

TEST_F(UpdateTokenServerTest, NoGeneratorIsAFailedPrecondition) {
  auto bare = MakeServerChain({NewServer(nullptr), probe});
  NetworkServiceRequest req;
  *req.mutable_connection() = TwoHops();
  auto conn = bare->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(UpdateTokenServerTest, CloseUpdatesBothSegmentsToo) {
  Connection conn = TwoHops();
  const absl::Time expires = clock->Now() + absl::Minutes(3);
  ASSERT_TRUE(
      chain
          ->Close(ctx.WithIncomingMetadata(TokenHeaders("jwt", api::FormatRfc3339Nano(expires))),
                  conn)
          .ok());
  EXPECT_EQ(probe->seen.path().path_segments(0).token(), "jwt");
  EXPECT_EQ(api::FromProtoTimestamp(probe->seen.path().path_segments(0).expires()), expires);
  EXPECT_EQ(probe->seen.path().path_segments(1).token(), "tok-1");

  Connection bad = TwoHops();
  bad.mutable_path()->set_index(5);
  EXPECT_EQ(chain->Close(ctx, bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(UpdateTokenClientTest, OwnSegmentTokenIsSentAsRequestMetadata) {
  auto clock = FakeClock::Create();
  auto gen = NewInsecureTokenGenerator("nsc", absl::Minutes(15), clock);
  auto probe = std::make_shared<OptionsProbe>();
  auto chain = MakeClientChain({updatepath::NewClient("nsc"), NewClient(gen), probe});
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service("ns");
  auto conn = chain->Request(Context::Background(clock), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  const absl::Time expires = clock->Now() + absl::Minutes(15);
  EXPECT_EQ(conn->path().path_segments(0).token(), "insecure:nsc");
  EXPECT_EQ(api::FromProtoTimestamp(conn->path().path_segments(0).expires()), expires);
  EXPECT_THAT(probe->headers, UnorderedElementsAre(Pair(api::kTokenMetadataKey, "insecure:nsc"),
                                                   Pair(api::kTokenExpiresMetadataKey,
                                                        api::FormatRfc3339Nano(expires))));

  clock->Advance(absl::Minutes(2));
  Connection c = *conn;
  ASSERT_TRUE(chain->Close(Context::Background(clock), c).ok());
  EXPECT_EQ(api::FromProtoTimestamp(probe->seen.path().path_segments(0).expires()),
            clock->Now() + absl::Minutes(15));
  EXPECT_EQ(probe->headers.count(api::kTokenMetadataKey), 1u);
  EXPECT_EQ(probe->headers.find(api::kTokenExpiresMetadataKey)->second,
            api::FormatRfc3339Nano(clock->Now() + absl::Minutes(15)));
}

TEST(UpdateTokenClientTest, BadIndexAndGeneratorErrorsStopTheCall) {
  auto gen = std::make_shared<CountingGenerator>(FakeClock::Create());
  auto probe = std::make_shared<OptionsProbe>();
  auto chain = MakeClientChain({NewClient(gen), probe});
  NetworkServiceRequest req;
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(probe->headers.size(), 0u);

  gen->Fail(absl::InternalError("boom"));
  *req.mutable_connection() = TwoHops();
  conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInternal);
  Connection c = TwoHops();
  EXPECT_EQ(chain->Close(Context(), c).code(), absl::StatusCode::kInternal);
}

// Client chain -> gRPC (unix socket) -> server chain: the server sees the client's headers.
TEST(UpdateTokenGrpcTest, CallerTokenTravelsAsHeaders) {
  char tmpl[] = "/tmp/nsm-updatetoken-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string target = "unix:" + dir + "/nsmgr.sock";
  auto clock = FakeClock::Create();
  auto probe = std::make_shared<Probe>();
  auto server_chain = MakeServerChain(
      {updatepath::NewServer("nsmgr"),
       NewServer(NewInsecureTokenGenerator("nsmgr", absl::Minutes(10), clock)), probe});
  NetworkServiceGrpcServer service(server_chain, DefaultThreadPool(), clock);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  auto client =
      MakeClientChain({updatepath::NewClient("nsc"),
                       NewClient(NewInsecureTokenGenerator("nsc", absl::Minutes(15), clock)),
                       std::make_shared<NetworkServiceGrpcClient>(
                           grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))});
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service("ns");
  auto [ctx, cancel] = Context::Background(clock).WithTimeout(absl::Seconds(30));
  auto conn = client->Request(ctx, req);
  cancel();
  ASSERT_TRUE(conn.ok()) << conn.status();
  {
    absl::MutexLock lock(&probe->mu);
    ASSERT_EQ(probe->seen.path().path_segments_size(), 2);
    const auto& nsc = probe->seen.path().path_segments(0);
    EXPECT_EQ(nsc.token(), "insecure:nsc");
    EXPECT_EQ(api::FromProtoTimestamp(nsc.expires()), clock->Now() + absl::Minutes(15));
    EXPECT_EQ(probe->seen.path().path_segments(1).token(), "insecure:nsmgr");
  }
  EXPECT_EQ(conn->path().index(), 0u);
  EXPECT_EQ(conn->path().path_segments(1).token(), "insecure:nsmgr");
  server->Shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nsm::updatetoken

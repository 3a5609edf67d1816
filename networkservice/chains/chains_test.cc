// The endpoint and client chains assembled into the 4-segment local path of nsmgr.md §1
// (nsc -> nsmgr -> forwarder -> nse) in one process: path, tokens, labels, excluded prefixes and
// mechanism end to end; refresh and expiry at every hop; bad input rolled back everywhere.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/mechanisms.h"
#include "api/path.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"
#include "networkservice/authorize/server.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/clientinfo/server.h"
#include "networkservice/excludedprefixes/server.h"
#include "networkservice/mechanisms/server.h"

namespace nsm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr absl::Duration kLifetime = absl::Minutes(15);

// The next hop as the gRPC transport would present it: a fresh server-side context (same clock,
// the caller's deadline, a peer naming the caller, the call options' headers as request
// metadata) and a copy of the request, so hops share no context values. Ends the client chain.
class InProcessHop : public NetworkServiceClient {
 public:
  InProcessHop(std::string from, std::shared_ptr<NetworkServiceServer> to)
      : from_(std::move(from)), to_(std::move(to)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext&, const CallOptions& opts) override {
    auto [server_ctx, cancel] = ServerSide(ctx, opts);
    NetworkServiceRequest wire = request;
    auto result = to_->Request(server_ctx, wire, ServerNext());
    cancel();
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext&,
                     const CallOptions& opts) override {
    auto [server_ctx, cancel] = ServerSide(ctx, opts);
    Connection wire = conn;
    absl::Status s = to_->Close(server_ctx, wire, ServerNext());
    cancel();
    return s;
  }

 private:
  std::pair<Context, Context::CancelFunc> ServerSide(const Context& ctx,
                                                     const CallOptions& opts) const {
    grpc::ClientContext cc;
    for (const auto& apply : opts.apply) apply(cc);
    Metadata headers = grpc::testing::ClientContextTestPeer(&cc).GetSendInitialMetadata();
    Context base = Context::Background(ctx.clock_ptr())
                       .WithPeer(Peer{"inproc:" + from_, {}})
                       .WithIncomingMetadata(std::move(headers));
    if (ctx.deadline()) return base.WithDeadline(*ctx.deadline());
    return base.WithCancel();
  }

  std::string from_;
  std::shared_ptr<NetworkServiceServer> to_;
};

// The NSE's KERNEL implementation: names the interface.
class KernelMechanism : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    auto* params = request.mutable_connection()->mutable_mechanism()->mutable_parameters();
    (*params)[api::mech::kernel::kInterfaceName] = "nsm-1";
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

// Counts what reaches the end of the NSE.
class Counter : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    absl::MutexLock lock(&mu_);
    ++requests_;
    seen_ = request.connection();
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    absl::MutexLock lock(&mu_);
    ++closes_;
    return next.Close(ctx, conn);
  }
  int requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  int closes() {
    absl::MutexLock lock(&mu_);
    return closes_;
  }
  Connection seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  int requests_ = 0;
  int closes_ = 0;
  Connection seen_;
};

class FourHopsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-chains-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/excluded_prefixes.yaml") << "prefixes:\n- 10.96.0.0/12\n";

    auto tokens = [&](const std::string& hop) {
      return NewInsecureTokenGenerator(hop, kLifetime, clock);
    };
    auto expiry = authorize::Policies{authorize::TokensNotExpired()};

    nse = Must(endpoint::NewServer(
        tokens("nse"),
        {.name = "nse",
         .authorize = authorize::NewServer(expiry),
         .additional = {mechanisms::NewServer(
                            {{api::mech::kernel::kType, std::make_shared<KernelMechanism>()}}),
                        nse_tail},
         .pool = pool}));
    auto forwarder_client = Must(client::NewClient(
        tokens("forwarder"), {.name = "forwarder",
                              .connect = std::make_shared<InProcessHop>("forwarder", nse),
                              .pool = pool}));
    forwarder = Must(
        endpoint::NewServer(tokens("forwarder"), {.name = "forwarder",
                                                  .authorize = authorize::NewServer(expiry),
                                                  .additional = {ClientToServer(forwarder_client)},
                                                  .pool = pool}));
    auto nsmgr_client = Must(client::NewClient(
        tokens("nsmgr"), {.name = "nsmgr",
                          .connect = std::make_shared<InProcessHop>("nsmgr", forwarder),
                          .pool = pool}));
    excluded = excludedprefixes::NewServer({.config_path = dir_ + "/excluded_prefixes.yaml",
                                            .poll_interval = absl::Minutes(1),
                                            .clock = clock});
    nsmgr = Must(endpoint::NewServer(
        tokens("nsmgr"),
        {.name = "nsmgr",
         .authorize = authorize::NewServer(expiry),
         .additional = {clientinfo::NewServer(
                            [](const std::string& var) -> std::optional<std::string> {
                              if (var == "NODE_NAME") return "node-a";
                              return std::nullopt;
                            }),
                        excluded, ClientToServer(nsmgr_client)},
         .pool = pool}));
    nsc = Must(client::NewClient(
        tokens("nsc"),
        {.name = "nsc", .connect = std::make_shared<InProcessHop>("nsc", nsmgr), .pool = pool}));
    nested = {forwarder_client, nsmgr_client};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <typename T>
  static T Must(absl::StatusOr<T> v) {
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  NetworkServiceRequest Req() {
    NetworkServiceRequest r;
    r.mutable_connection()->set_network_service("my-service");
    *r.add_mechanism_preferences() = api::mech::MakeKernel();
    return r;
  }
  Context Ctx() { return Context::Background(clock); }

  size_t HopConnections() {
    return nsmgr->connections() + forwarder->connections() + nse->connections();
  }
  std::string dir_;
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<ThreadPool> pool = std::make_shared<ThreadPool>(8);
  std::shared_ptr<Counter> nse_tail = std::make_shared<Counter>();
  std::shared_ptr<excludedprefixes::Server> excluded;
  std::shared_ptr<endpoint::Endpoint> nse, forwarder, nsmgr;
  std::shared_ptr<client::Client> nsc;
  std::vector<std::shared_ptr<client::Client>> nested;
};

TEST_F(FourHopsTest, RequestBuildsTheFourSegmentPath) {
  auto req = Req();
  auto conn = nsc->Request(Ctx(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();

  // The NSC's view: its own frame, the full path kept by the pass-through hops.
  EXPECT_EQ(conn->path().index(), 0u);
  EXPECT_EQ(conn->id(), conn->path().path_segments(0).id());
  std::vector<std::string> names;
  for (const auto& s : conn->path().path_segments()) {
    names.push_back(s.name());
    EXPECT_EQ(s.token(), "insecure:" + s.name());
    EXPECT_EQ(api::FromProtoTimestamp(s.expires()), clock->Now() + kLifetime) << s.name();
    EXPECT_FALSE(s.id().empty());
  }
  EXPECT_THAT(names, ElementsAre("nsc", "nsmgr", "forwarder", "nse"));
  EXPECT_EQ(conn->mechanism().type(), api::mech::kernel::kType);
  EXPECT_EQ(conn->mechanism().parameters().at(api::mech::kernel::kInterfaceName), "nsm-1");
  EXPECT_THAT(conn->labels(), ElementsAre(Pair("nodeName", "node-a")));
  EXPECT_THAT(conn->context().ip_context().excluded_prefixes(), ElementsAre("10.96.0.0/12"));

  // The NSE saw its own frame.
  const Connection at_nse = nse_tail->seen();
  EXPECT_EQ(at_nse.path().index(), 3u);
  EXPECT_EQ(at_nse.id(), conn->path().path_segments(3).id());

  // One connection per hop; the nested clients reuse their hop's begin and metadata.
  EXPECT_EQ(nsc->connections(), 1u);
  EXPECT_EQ(nsmgr->connections(), 1u);
  EXPECT_EQ(forwarder->connections(), 1u);
  EXPECT_EQ(nse->connections(), 1u);
  for (const auto& c : nested) EXPECT_EQ(c->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 3u + 1u);  // a timeout per hop, the prefix file poll

  Connection done = *conn;
  ASSERT_TRUE(nsc->Close(Ctx(), done).ok());
  EXPECT_EQ(nse_tail->closes(), 1);
  EXPECT_EQ(nsc->connections(), 0u);
  EXPECT_EQ(HopConnections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 1u);
}

TEST_F(FourHopsTest, RefreshReArmsEveryHopAndExpiryClosesThemAll) {
  auto req = Req();
  auto conn = nsc->Request(Ctx(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();

  clock->Advance(kLifetime / 2);
  NetworkServiceRequest refresh = Req();
  *refresh.mutable_connection() = *conn;
  auto refreshed = nsc->Request(Ctx(), refresh);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_EQ(refreshed->id(), conn->id());
  EXPECT_EQ(refreshed->path().path_segments(3).id(), conn->path().path_segments(3).id());
  EXPECT_EQ(nse_tail->requests(), 2);

  clock->Advance(kLifetime / 2);  // the first expiry: nothing closes
  EXPECT_EQ(nse_tail->closes(), 0);
  EXPECT_EQ(HopConnections(), 3u);

  clock->Advance(kLifetime / 2);  // the refreshed expiry: every hop closes its part
  ASSERT_TRUE(Eventually([&] { return HopConnections() == 0; }));
  EXPECT_EQ(nse_tail->closes(), 1);
  EXPECT_EQ(clock->PendingTimers(), 1u);

  // The NSC (no refresh element here) still holds its connection; its Close finds nothing left.
  Connection done = *refreshed;
  EXPECT_TRUE(nsc->Close(Ctx(), done).ok());
  EXPECT_EQ(nsc->connections(), 0u);
  EXPECT_EQ(nse_tail->closes(), 1);
}

TEST_F(FourHopsTest, EmptyNetworkServiceIsRejectedAtTheClient) {
  NetworkServiceRequest req;
  auto conn = nsc->Request(Ctx(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(), "connection.network_service is empty");
  EXPECT_EQ(nsc->connections() + HopConnections(), 0u);
}

TEST_F(FourHopsTest, UnsupportedMechanismIsRolledBackAtEveryHop) {
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service("my-service");
  *req.add_mechanism_preferences() = api::mech::MakeMemifFilesystem("/run/memif.sock");
  auto conn = nsc->Request(Ctx(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "cannot support any of the requested mechanism: offered [MEMIF], supported [KERNEL]");
  EXPECT_EQ(nsc->connections() + HopConnections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 1u);
}

// Requests sent straight to the nsmgr, as a broken or hostile peer would.
class DirectToNsmgrTest : public FourHopsTest {
 protected:
  NetworkServiceRequest Raw() {
    NetworkServiceRequest r = Req();
    Connection* c = r.mutable_connection();
    c->set_id("nsc-id");
    auto* s = c->mutable_path()->add_path_segments();
    s->set_name("nsc");
    s->set_id("nsc-id");
    return r;
  }
  Context FromNsc() { return Ctx().WithPeer(Peer{"inproc:raw-nsc", {}}); }
};

TEST_F(DirectToNsmgrTest, PathIndexOutOfRange) {
  auto req = Raw();
  req.mutable_connection()->mutable_path()->set_index(1);
  auto conn = nsmgr->Request(FromNsc(), req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "Path.Index+1==2 should be less or equal len(Path.PathSegments)==1");
  EXPECT_EQ(HopConnections(), 0u);
}

TEST_F(DirectToNsmgrTest, IdMismatch) {
  auto req = Raw();
  req.mutable_connection()->set_id("forged");
  auto conn = nsmgr->Request(FromNsc(), req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "Current PathSegment.Id==nsc-id should be equal Connection.Id==forged");
  EXPECT_EQ(HopConnections(), 0u);
}

TEST_F(DirectToNsmgrTest, NoCallerTokenRollsBackEveryHop) {
  auto req = Raw();  // no token headers, no expires in the caller's segment
  auto conn = nsmgr->Request(FromNsc(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()),
              HasSubstr("expiration for the previous path segment cannot be nil"));
  EXPECT_EQ(nse_tail->requests(), 1);
  EXPECT_EQ(nse_tail->closes(), 1);  // what the hops behind created was closed again
  EXPECT_EQ(HopConnections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 1u);
}

TEST_F(DirectToNsmgrTest, ExpiredCallerTokenIsDenied) {
  auto req = Raw();
  const absl::Time past = clock->Now() - absl::Seconds(1);
  auto conn = nsmgr->Request(FromNsc().WithIncomingMetadata(
                                 {{api::kTokenMetadataKey, "stale"},
                                  {api::kTokenExpiresMetadataKey, api::FormatRfc3339Nano(past)}}),
                             req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(conn.status().message(), "no sufficient privileges");
  EXPECT_EQ(nse_tail->requests(), 0);
  EXPECT_EQ(HopConnections(), 0u);
}

TEST_F(DirectToNsmgrTest, CallerTokenFromHeadersDrivesTheTimeout) {
  auto req = Raw();
  const absl::Time expires = clock->Now() + absl::Minutes(2);
  auto conn = nsmgr->Request(FromNsc().WithIncomingMetadata({{api::kTokenMetadataKey, "jwt"},
                                                             {api::kTokenExpiresMetadataKey,
                                                              api::FormatRfc3339Nano(expires)}}),
                             req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().path_segments(0).token(), "jwt");
  // The nsmgr closes first, at the caller's expiry (the hops behind would wait 15 minutes).
  clock->Advance(absl::Minutes(2) - absl::Seconds(1));
  EXPECT_EQ(HopConnections(), 3u);
  clock->Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return HopConnections() == 0; }));
  EXPECT_EQ(nse_tail->closes(), 1);
  EXPECT_EQ(clock->PendingTimers(), 1u);
}

}  // namespace
}  // namespace nsm

// endpoint chain: element order and slots, the hop's frame, tokens, expiry through begin, and bad
// input answered with precise errors and nothing left behind.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api/path.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::endpoint {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kLifetime = absl::Minutes(15);

// Logs its name on Request/Close and what it could see of the chain.
class Recorder : public NetworkServiceServer {
 public:
  Recorder(std::string name, std::vector<std::string>* log) : name_(std::move(name)), log_(log) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    {
      absl::MutexLock lock(&mu_);
      log_->push_back(name_);
      saw_metadata = metadata::FromContext(ctx) != nullptr;
      saw_events = begin::FromContext(ctx) != nullptr;
      seen = request.connection();
    }
    if (!fail.ok()) return fail;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    {
      absl::MutexLock lock(&mu_);
      log_->push_back("close:" + name_);
      ++closes;
    }
    if (closed != nullptr) closed->Notify();
    return next.Close(ctx, conn);
  }
  int close_count() {
    absl::MutexLock lock(&mu_);
    return closes;
  }
  bool saw_metadata = false;
  bool saw_events = false;
  Connection seen;
  absl::Status fail;
  absl::Notification* closed = nullptr;

 private:
  absl::Mutex mu_;
  std::string name_;
  std::vector<std::string>* log_;
  int closes = 0;
};

class EndpointTest : public ::testing::Test {
 protected:
  std::shared_ptr<Endpoint> Make(Options o = {}) {
    if (o.name.empty()) o.name = "nsmgr";
    o.monitor = monitor;
    o.additional.push_back(tail);
    auto ep = NewServer(NewInsecureTokenGenerator("nsmgr", kLifetime, clock), std::move(o));
    EXPECT_TRUE(ep.ok()) << ep.status();
    return *ep;
  }
  // As an NSC sends it: its own segment with token and expiry.
  NetworkServiceRequest Req() {
    NetworkServiceRequest r;
    Connection* c = r.mutable_connection();
    c->set_id("nsc-id");
    c->set_network_service("my-service");
    auto* s = c->mutable_path()->add_path_segments();
    s->set_name("nsc");
    s->set_id("nsc-id");
    s->set_token("insecure:nsc");
    *s->mutable_expires() = api::ToProtoTimestamp(clock->Now() + kLifetime);
    return r;
  }
  Context ctx() { return Context::Background(clock).WithPeer(Peer{"unix:/nsc.sock", {}}); }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::vector<std::string> log;
  std::shared_ptr<Recorder> monitor = std::make_shared<Recorder>("monitor", &log);
  std::shared_ptr<Recorder> tail = std::make_shared<Recorder>("tail", &log);
};

TEST_F(EndpointTest, RequiresATokenGenerator) {
  auto ep = NewServer(nullptr);
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ep.status().message()), HasSubstr("token generator"));
}

TEST_F(EndpointTest, DefaultNameIsEndpointUuid) {
  auto ep = NewServer(NewInsecureTokenGenerator("x"));
  ASSERT_TRUE(ep.ok());
  EXPECT_THAT((*ep)->name(), StartsWith("endpoint-"));
  EXPECT_EQ((*ep)->name().size(), std::string("endpoint-").size() + 36);
}

TEST_F(EndpointTest, RequestRunsTheChainInOrderAndAnswersInTheCallersFrame) {
  auto ep = Make();
  auto req = Req();
  auto conn = ep->Request(ctx(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT(log, ElementsAre("monitor", "tail"));
  EXPECT_TRUE(monitor->saw_metadata);
  EXPECT_TRUE(monitor->saw_events);
  // Downstream saw the hop's frame.
  EXPECT_EQ(tail->seen.path().index(), 1u);
  EXPECT_EQ(tail->seen.id(), tail->seen.path().path_segments(1).id());
  EXPECT_EQ(tail->seen.path().path_segments(1).name(), "nsmgr");
  EXPECT_EQ(tail->seen.path().path_segments(1).token(), "insecure:nsmgr");
  // The caller gets its own frame back.
  EXPECT_EQ(conn->id(), "nsc-id");
  EXPECT_EQ(conn->path().index(), 0u);
  ASSERT_EQ(conn->path().path_segments_size(), 2);
  EXPECT_EQ(ep->connections(), 1u);
  EXPECT_EQ(clock->PendingTimers(), 1u);  // the timeout

  Connection c = *conn;
  ASSERT_TRUE(ep->Close(ctx(), c).ok());
  EXPECT_THAT(log, ElementsAre("monitor", "tail", "close:monitor", "close:tail"));
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(EndpointTest, EndHopTrimsStaleSegments) {
  auto ep = Make();
  auto req = Req();
  // A stale tail from an older path: [nsc, old-nsmgr, old-forwarder].
  for (const char* n : {"old-nsmgr", "old-forwarder"}) {
    auto* s = req.mutable_connection()->mutable_path()->add_path_segments();
    s->set_name(n);
    s->set_id(std::string(n) + "-id");
  }
  auto conn = ep->Request(ctx(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 2);
  EXPECT_EQ(conn->path().path_segments(1).name(), "nsmgr");
  EXPECT_NE(conn->path().path_segments(1).id(), "old-nsmgr-id");
}

TEST_F(EndpointTest, CallerTokenComesFromRequestMetadata) {
  auto ep = Make();
  auto req = Req();
  const absl::Time expires = clock->Now() + absl::Minutes(3);
  auto conn = ep->Request(ctx().WithIncomingMetadata(
                              {{api::kTokenMetadataKey, "jwt-of-nsc"},
                               {api::kTokenExpiresMetadataKey, api::FormatRfc3339Nano(expires)}}),
                          req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().path_segments(0).token(), "jwt-of-nsc");
  EXPECT_EQ(clock->NextDeadline(), expires);
}

TEST_F(EndpointTest, ConnectionIsClosedAtTheCallersExpiryUnlessRefreshed) {
  auto ep = Make();
  absl::Notification closed;
  tail->closed = &closed;
  auto req = Req();
  auto conn = ep->Request(ctx(), req);
  ASSERT_TRUE(conn.ok());
  clock->Advance(kLifetime / 2);
  auto refresh = Req();  // the caller's fresh token
  *refresh.mutable_connection()->mutable_path() = conn->path();
  *refresh.mutable_connection()->mutable_path()->mutable_path_segments(0)->mutable_expires() =
      api::ToProtoTimestamp(clock->Now() + kLifetime);
  ASSERT_TRUE(ep->Request(ctx(), refresh).ok());
  clock->Advance(kLifetime / 2);
  EXPECT_EQ(tail->close_count(), 0);
  EXPECT_EQ(ep->connections(), 1u);
  clock->Advance(kLifetime / 2);
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Barrier: a Close of the same connection waits for the running event, then finds it gone.
  Connection c = *conn;
  EXPECT_TRUE(ep->Close(ctx(), c).ok());
  EXPECT_EQ(tail->close_count(), 1);
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(EndpointTest, EmptyNetworkServiceIsRejectedBeforeAnyState) {
  auto ep = Make();
  auto req = Req();
  req.mutable_connection()->clear_network_service();
  auto conn = ep->Request(ctx(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(), "connection.network_service is empty");
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_TRUE(log.empty());
}

TEST_F(EndpointTest, BadPathsGetTheSpecMessages) {
  auto ep = Make();
  auto out_of_range = Req();
  out_of_range.mutable_connection()->mutable_path()->set_index(4);
  auto conn = ep->Request(ctx(), out_of_range);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "Path.Index+1==5 should be less or equal len(Path.PathSegments)==1");

  auto mismatch = Req();
  mismatch.mutable_connection()->set_id("someone-else");
  conn = ep->Request(ctx(), mismatch);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "Current PathSegment.Id==nsc-id should be equal Connection.Id==someone-else");
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_TRUE(log.empty());
}

TEST_F(EndpointTest, MissingCallerExpiryRollsEverythingBack) {
  auto ep = Make();
  auto req = Req();
  req.mutable_connection()->mutable_path()->mutable_path_segments(0)->clear_expires();
  auto conn = ep->Request(ctx(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()),
              HasSubstr("expiration for the previous path segment cannot be nil"));
  EXPECT_THAT(log, ElementsAre("monitor", "tail", "close:monitor", "close:tail"));
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(EndpointTest, DownstreamFailureLeavesNothing) {
  auto ep = Make();
  tail->fail = absl::NotFoundError("network service my-service is not found");
  auto req = Req();
  auto conn = ep->Request(ctx(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ep->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(EndpointTest, CustomAuthorizeIsTheFifthElement) {
  class Deny : public NetworkServiceServer {
   public:
    absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                       const ServerNext&) override {
      // updatetoken ran before: this hop's segment has its token.
      saw_own_token = !request.connection().path().path_segments(1).token().empty();
      return absl::PermissionDeniedError("no sufficient privileges");
    }
    absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
      return next.Close(ctx, conn);
    }
    bool saw_own_token = false;
  };
  auto deny = std::make_shared<Deny>();
  Options o;
  o.authorize = deny;
  auto ep = Make(o);
  auto req = Req();
  auto conn = ep->Request(ctx(), req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(deny->saw_own_token);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(ep->connections(), 0u);
}

}  // namespace
}  // namespace nsm::endpoint

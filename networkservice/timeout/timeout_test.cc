// timeout: closes at the caller's token expiry (minus the request timeout), refresh re-arms, Close
// and failures disarm and leave no timer behind, bad input, and the real begin event path.
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
#include "networkservice/begin/server.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/timeout/server.h"

namespace nsm::timeout {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kLifetime = absl::Minutes(15);

// Stands in for begin: puts an event factory into the context and records the events posted to
// it synchronously, so the test sees them as soon as FakeClock::Advance returns.
class FakeEvents : public begin::EventFactory {
 public:
  std::shared_ptr<Completion> Request(begin::EventOptions) override {
    return Completion::Done(absl::OkStatus());
  }
  std::shared_ptr<Completion> Close(begin::EventOptions opts) override {
    closes.push_back(opts.cancel_ctx.value_or(Context()));
    return Completion::Done(absl::OkStatus());
  }
  std::vector<Context> closes;
};

class InjectEvents : public NetworkServiceServer {
 public:
  explicit InjectEvents(std::shared_ptr<FakeEvents> events) : events_(std::move(events)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(ctx.WithValue<begin::EventFactory>(begin::kEventFactoryKey, events_),
                        request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx.WithValue<begin::EventFactory>(begin::kEventFactoryKey, events_), conn);
  }

 private:
  std::shared_ptr<FakeEvents> events_;
};

// The end of the chain: fills the previous segment's expiry like updatetoken would, can fail.
class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    absl::MutexLock lock(&mu);
    ++requests;
    if (fail) return absl::UnavailableError("endpoint unavailable");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    absl::MutexLock lock(&mu);
    ++closes;
    if (closed != nullptr) closed->Notify();
    if (fail_close) return absl::DeadlineExceededError("close timed out");
    return next.Close(ctx, conn);
  }
  int close_count() {
    absl::MutexLock lock(&mu);
    return closes;
  }
  absl::Mutex mu;
  int requests = 0;
  int closes = 0;
  bool fail = false;
  bool fail_close = false;
  absl::Notification* closed = nullptr;
};

// [nsc, nsmgr] in the nsmgr's frame; the nsc token expires at `expires`.
NetworkServiceRequest Req(std::optional<absl::Time> expires) {
  NetworkServiceRequest r;
  Connection* c = r.mutable_connection();
  c->set_id("nsmgr-id");
  c->set_network_service("ns");
  c->mutable_path()->set_index(1);
  auto* nsc = c->mutable_path()->add_path_segments();
  nsc->set_name("nsc");
  nsc->set_id("nsc-id");
  if (expires) *nsc->mutable_expires() = api::ToProtoTimestamp(*expires);
  auto* own = c->mutable_path()->add_path_segments();
  own->set_name("nsmgr");
  own->set_id("nsmgr-id");
  return r;
}

class TimeoutTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<FakeEvents> events = std::make_shared<FakeEvents>();
  std::shared_ptr<metadata::Server> md = metadata::NewServer();
  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  std::shared_ptr<ServerChain> chain =
      MakeServerChain({std::make_shared<InjectEvents>(events), md, NewServer(), tail});
  Context ctx = Context::Background(clock);
};

TEST_F(TimeoutTest, ClosesAtTheCallersTokenExpiry) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  EXPECT_EQ(clock->PendingTimers(), 1u);
  clock->Advance(kLifetime / 2);
  EXPECT_TRUE(events->closes.empty());
  clock->Advance(kLifetime / 2);
  ASSERT_EQ(events->closes.size(), 1u);
  EXPECT_FALSE(events->closes[0].cancelled());
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(TimeoutTest, RefreshReArmsFromTheNewExpiry) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  clock->Advance(kLifetime / 2);
  auto refresh = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, refresh).ok());
  EXPECT_EQ(clock->PendingTimers(), 1u);
  clock->Advance(kLifetime / 2);  // the first expiry passes: nothing happens
  EXPECT_TRUE(events->closes.empty());
  clock->Advance(kLifetime / 2);
  EXPECT_EQ(events->closes.size(), 1u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(TimeoutTest, CloseDisarmsAndLeavesNothingPending) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  Connection conn = req.connection();
  ASSERT_TRUE(chain->Close(ctx, conn).ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(md->size(), 0u);
  clock->Advance(2 * kLifetime);
  EXPECT_TRUE(events->closes.empty());
}

TEST_F(TimeoutTest, FailedCloseStillDisarms) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  tail->fail_close = true;
  Connection conn = req.connection();
  absl::Status s = chain->Close(ctx, conn);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(clock->PendingTimers(), 0u);
  clock->Advance(2 * kLifetime);
  EXPECT_TRUE(events->closes.empty());
}

TEST_F(TimeoutTest, RequestTimeoutIsSubtractedFromTheExpiry) {
  auto req = Req(clock->Now() + kLifetime);
  {
    auto [rctx, cancel] = ctx.WithTimeout(absl::Minutes(1));
    ASSERT_TRUE(chain->Request(rctx, req).ok());
    cancel();  // releases the deadline timer of the request context
  }
  EXPECT_EQ(clock->PendingTimers(), 1u);
  EXPECT_EQ(clock->NextDeadline(), clock->Now() + kLifetime - absl::Minutes(1));
  clock->Advance(kLifetime - absl::Minutes(1));
  EXPECT_EQ(events->closes.size(), 1u);
}

TEST_F(TimeoutTest, ExpiryInThePastClosesAtTheNextTick) {
  auto req = Req(clock->Now() - absl::Seconds(1));
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  clock->Advance(absl::ZeroDuration());
  EXPECT_EQ(events->closes.size(), 1u);
}

TEST_F(TimeoutTest, ReArmingCancelsACloseEventAlreadyPosted) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  clock->Advance(kLifetime);
  ASSERT_EQ(events->closes.size(), 1u);
  // A refresh that overtook the queued Close event: the event must find its context cancelled.
  auto refresh = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, refresh).ok());
  EXPECT_TRUE(events->closes[0].cancelled());
}

TEST_F(TimeoutTest, FailedRefreshKeepsThePreviousTimer) {
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  clock->Advance(kLifetime / 2);
  tail->fail = true;
  auto refresh = Req(clock->Now() + kLifetime);
  EXPECT_FALSE(chain->Request(ctx, refresh).ok());
  EXPECT_EQ(md->size(), 1u);  // an established connection keeps its metadata
  clock->Advance(kLifetime / 2);
  EXPECT_EQ(events->closes.size(), 1u);
}

TEST_F(TimeoutTest, MissingExpiryIsAnErrorAndDownstreamIsClosed) {
  auto req = Req(std::nullopt);
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()),
              HasSubstr("expiration for the previous path segment cannot be nil"));
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("no expires"));
  EXPECT_EQ(tail->closes, 1);
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(md->size(), 0u);
}

TEST_F(TimeoutTest, NoPreviousSegmentIsAnError) {
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("nse-id");
  auto* s = req.mutable_connection()->mutable_path()->add_path_segments();
  s->set_name("nse");
  s->set_id("nse-id");
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("no previous segment"));
  EXPECT_EQ(tail->closes, 1);
}

TEST_F(TimeoutTest, InvalidExpiryTimestampIsAnError) {
  auto req = Req(clock->Now() + kLifetime);
  req.mutable_connection()->mutable_path()->mutable_path_segments(0)->mutable_expires()->set_nanos(
      -5);
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("expires"));
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST(TimeoutChainTest, WithoutBeginAndMetadataNothingIsCalled) {
  auto tail = std::make_shared<Tail>();
  auto chain = MakeServerChain({NewServer(), tail});
  auto req = Req(absl::Now() + kLifetime);
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(tail->requests, 0);
}

// With the real begin: the timer's Close runs through the chain on begin's executor.
TEST(TimeoutBeginTest, ExpiryClosesThroughBeginAndForgetsEverything) {
  auto clock = FakeClock::Create();
  auto b = begin::NewServer();
  auto md = metadata::NewServer();
  auto tail = std::make_shared<Tail>();
  absl::Notification closed;
  tail->closed = &closed;
  auto chain = MakeServerChain({b, md, NewServer(), tail});
  auto ctx = Context::Background(clock);
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());

  clock->Advance(kLifetime / 2);
  EXPECT_EQ(clock->PendingTimers(), 1u);
  auto refresh = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, refresh).ok());
  clock->Advance(kLifetime / 2);
  EXPECT_EQ(tail->close_count(), 0);
  clock->Advance(kLifetime / 2);
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // A Close of the same id waits for the event still running on begin's executor, then finds
  // the connection gone: afterwards nothing of the connection is left.
  Connection conn = refresh.connection();
  EXPECT_TRUE(chain->Close(ctx, conn).ok());
  EXPECT_EQ(tail->close_count(), 1);
  EXPECT_EQ(b->size(), 0u);
  EXPECT_EQ(md->size(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST(TimeoutBeginTest, CloseBeforeExpiryLeavesNoTimer) {
  auto clock = FakeClock::Create();
  auto b = begin::NewServer();
  auto tail = std::make_shared<Tail>();
  auto chain = MakeServerChain({b, metadata::NewServer(), NewServer(), tail});
  auto ctx = Context::Background(clock);
  auto req = Req(clock->Now() + kLifetime);
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  Connection conn = req.connection();
  ASSERT_TRUE(chain->Close(ctx, conn).ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(b->size(), 0u);
  clock->Advance(2 * kLifetime);
  EXPECT_EQ(tail->close_count(), 1);
}

}  // namespace
}  // namespace nsm::timeout

// restartgrace on the fake clock: established connections wait for their forwarder and local
// endpoint to register again, until the window ends or their context does (nsmgr.md §7.1).
#include "networkservice/restartgrace/server.h"

#include <functional>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"

namespace nsm::restartgrace {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWindow = absl::Seconds(20);

// The rest of the chain: counts what reaches it and answers with `answer`.
class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                     const ServerNext&) override {
    absl::MutexLock lock(&mu_);
    ++requests_;
    if (!answer_.ok()) return answer_;
    return request.connection();
  }
  absl::Status Close(const Context&, Connection&, const ServerNext&) override {
    absl::MutexLock lock(&mu_);
    ++closes_;
    return answer_;
  }
  void Answer(absl::Status s) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(s);
  }
  int requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  int closes() const {
    absl::MutexLock lock(&mu_);
    return closes_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status answer_ ABSL_GUARDED_BY(mu_);
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int closes_ ABSL_GUARDED_BY(mu_) = 0;
};

// The connection as the nsmgr sees it after updatepath: its own segment at index 1, followed by
// `after` (forwarder, endpoint ...).
Connection At(const std::vector<std::string>& after, const std::string& endpoint = "") {
  Connection c;
  c.set_id("conn-1");
  c.set_network_service("svc");
  c.set_network_service_endpoint_name(endpoint);
  auto* path = c.mutable_path();
  path->add_path_segments()->set_name("nsc");
  path->add_path_segments()->set_name("nsmgr");
  for (const auto& name : after) path->add_path_segments()->set_name(name);
  path->set_index(1);
  return c;
}
Connection Established() { return At({"fwd-1", "nse-1"}, "nse-1"); }

class RestartGraceTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(kWindow); }
  void Build(absl::Duration window) {
    chain_.reset();
    grace_.reset();
    grace_ = NewServer(store_, {.window = window, .clock = clock_});
    chain_ = std::make_shared<ServerChain>(ServerChain::Elements{grace_, tail_});
  }

  void Register(const std::string& name) {
    ::registry::NetworkServiceEndpoint nse;
    nse.set_name(name);
    nse.set_url("unix:///" + name);
    ASSERT_TRUE(store_->Register(ctx_, nse, NSERegistryServer::Next()).ok());
  }
  void Unregister(const std::string& name) {
    ::registry::NetworkServiceEndpoint nse;
    nse.set_name(name);
    ASSERT_TRUE(store_->Unregister(ctx_, nse, NSERegistryServer::Next()).ok());
  }

  absl::StatusOr<Connection> Request(const Context& ctx, Connection conn) {
    NetworkServiceRequest r;
    *r.mutable_connection() = std::move(conn);
    return chain_->Request(ctx, r);
  }

  // Runs `call` on a thread of its own and waits (bounded) until it is waiting in the element.
  class Call {
   public:
    explicit Call(std::function<absl::Status()> call)
        : thread_([this, call] {
            absl::Status s = call();
            absl::MutexLock lock(&mu_);
            result_ = s;
          }) {}
    ~Call() {
      if (thread_.joinable()) thread_.join();
    }
    std::optional<absl::Status> result() {
      absl::MutexLock lock(&mu_);
      return result_;
    }
    absl::Status Await() {
      thread_.join();
      thread_ = std::thread();
      absl::MutexLock lock(&mu_);
      return *result_;
    }

   private:
    absl::Mutex mu_;
    std::optional<absl::Status> result_ ABSL_GUARDED_BY(mu_);
    std::thread thread_;
  };
  std::unique_ptr<Call> Start(std::function<absl::Status()> call) {
    auto c = std::make_unique<Call>(std::move(call));
    EXPECT_TRUE(Eventually([&] { return grace_->waiting() == 1; })) << "the call waits";
    return c;
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<reg::memory::NSEServer> store_ = reg::memory::NewNSEServer();
  std::shared_ptr<Tail> tail_ = std::make_shared<Tail>();
  std::shared_ptr<Server> grace_;
  std::shared_ptr<ServerChain> chain_;
};

TEST_F(RestartGraceTest, WaitsUntilTheForwarderAndTheEndpointRegisterAgain) {
  EXPECT_EQ(store_->watchers(), 1u);
  auto call = Start([&] { return Request(ctx_, Established()).status(); });
  Register("fwd-1");
  Register("other");
  EXPECT_EQ(grace_->waiting(), 1u) << "the endpoint is still missing";
  EXPECT_EQ(tail_->requests(), 0);
  Register("nse-1");
  EXPECT_TRUE(call->Await().ok());
  EXPECT_EQ(tail_->requests(), 1);
  EXPECT_EQ(grace_->waiting(), 0u);
  EXPECT_EQ(grace_->stats().waits.load(), 1u);
  EXPECT_EQ(grace_->stats().registered.load(), 1u);
}

TEST_F(RestartGraceTest, RegisteredHopsAndNewConnectionsPassAtOnce) {
  ASSERT_TRUE(Request(ctx_, At({})).ok()) << "a new connection";
  Register("fwd-1");
  Register("nse-1");
  ASSERT_TRUE(Request(ctx_, Established()).ok());
  EXPECT_EQ(tail_->requests(), 2);
  EXPECT_EQ(grace_->stats().waits.load(), 0u);
}

TEST_F(RestartGraceTest, ARemoteEndpointIsNotWaitedFor) {
  Register("fwd-1");
  // The endpoint sits behind another nsmgr: the domain registry still knows it.
  ASSERT_TRUE(Request(ctx_, At({"fwd-1", "nsmgr-b", "fwd-b", "nse-1"}, "nse-1")).ok());
  EXPECT_EQ(grace_->stats().waits.load(), 0u);
}

TEST_F(RestartGraceTest, AHopThatRegisteredAndLeftIsNotWaitedFor) {
  Register("fwd-1");
  Register("nse-1");
  Unregister("nse-1");
  tail_->Answer(absl::NotFoundError("network service endpoint nse-1 not found"));
  auto r = Request(ctx_, Established());
  EXPECT_EQ(r.status(), absl::NotFoundError("network service endpoint nse-1 not found"))
      << "gone, not late: the usual error at once";
  EXPECT_EQ(grace_->stats().waits.load(), 0u);
}

TEST_F(RestartGraceTest, TheWindowEndReleasesTheWaitAndTheErrorSaysWhatWasMissing) {
  tail_->Answer(absl::NotFoundError("forwarder_select: no forwarder fwd-1"));
  Register("nse-1");
  clock_->Advance(absl::Seconds(5));
  auto call = Start([&] { return Request(ctx_, Established()).status(); });
  clock_->Advance(absl::Seconds(14));
  EXPECT_FALSE(call->result().has_value());
  clock_->Advance(absl::Seconds(1));
  absl::Status s = call->Await();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "restartgrace: forwarder fwd-1 did not register again within the restart grace window "
            "(waited 15s): forwarder_select: no forwarder fwd-1");
  EXPECT_EQ(tail_->requests(), 1) << "the chain went on as usual";
  EXPECT_EQ(grace_->stats().window_ended.load(), 1u);
  EXPECT_FALSE(grace_->open());
  EXPECT_TRUE(Eventually([&] { return store_->watchers() == 0; })) << "the watch ended";
}

// A hop that never comes back (a forwarder recreated under another name) holds a call for half
// its remaining time, not all of it: the rest of the chain gets the other half to go on without it.
TEST_F(RestartGraceTest, HalfTheRemainingTimeEndsTheWaitAndTheChainGoesOn) {
  auto [ctx, cancel] = ctx_.WithTimeout(absl::Seconds(3));
  auto call = Start([&, ctx = ctx] { return Request(ctx, Established()).status(); });
  clock_->Advance(absl::Milliseconds(1499));
  EXPECT_FALSE(call->result().has_value());
  clock_->Advance(absl::Milliseconds(1));
  EXPECT_TRUE(call->Await().ok());
  EXPECT_EQ(tail_->requests(), 1) << "forwarder_select and the rest choose without the old hops";
  EXPECT_EQ(grace_->stats().budget_spent.load(), 1u);
  EXPECT_EQ(grace_->waiting(), 0u);
  EXPECT_TRUE(grace_->open()) << "others may still wait";

  // A failure of the rest then says what was missing.
  tail_->Answer(absl::NotFoundError("forwarder_select: no forwarder"));
  auto [ctx2, cancel2] = ctx_.WithTimeout(absl::Seconds(10));
  auto failed = Start([&, ctx = ctx2] { return Request(ctx, Established()).status(); });
  clock_->Advance(absl::Seconds(5));
  absl::Status s = failed->Await();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "restartgrace: forwarder fwd-1 and endpoint nse-1 did not register again within half "
            "the call's time (waited 5s): forwarder_select: no forwarder");
  cancel();
  cancel2();
}

// An already expired context is not waited on: the deadline ends the call.
TEST_F(RestartGraceTest, AnExpiredDeadlineEndsTheCall) {
  auto [ctx, cancel] = ctx_.WithTimeout(absl::Seconds(3));
  clock_->Advance(absl::Seconds(3));
  absl::Status s = Request(ctx, Established()).status();
  cancel();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(),
              HasSubstr("restartgrace: gave up after 0 waiting for forwarder fwd-1 and endpoint "
                        "nse-1 to register again with the restarted nsmgr: "));
  EXPECT_EQ(tail_->requests(), 0);
  EXPECT_EQ(grace_->stats().cancelled.load(), 1u);
}

TEST_F(RestartGraceTest, ACancelledCallStopsWaiting) {
  auto [ctx, cancel] = ctx_.WithCancel();
  Register("fwd-1");
  auto call = Start([&, ctx = ctx] { return Request(ctx, Established()).status(); });
  cancel();
  absl::Status s = call->Await();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(s.message(), HasSubstr("waiting for endpoint nse-1 to register again"));
  EXPECT_EQ(tail_->requests(), 0);
  EXPECT_EQ(grace_->waiting(), 0u);
}

TEST_F(RestartGraceTest, CloseWaitsTooAndAlwaysGoesOn) {
  auto call = Start([&] {
    Connection c = Established();
    return chain_->Close(ctx_, c);
  });
  Register("nse-1");
  Register("fwd-1");
  EXPECT_TRUE(call->Await().ok());
  EXPECT_EQ(tail_->closes(), 1);

  // A Close whose caller gives up still releases this hop's state.
  auto [ctx, cancel] = ctx_.WithCancel();
  auto late = Start([&, ctx = ctx] {
    Connection c = At({"fwd-2"});
    return chain_->Close(ctx, c);
  });
  cancel();
  EXPECT_TRUE(late->Await().ok());
  EXPECT_EQ(tail_->closes(), 2);

  // So does one whose hop never comes back, after half its time.
  auto [ctx3, cancel3] = ctx_.WithTimeout(absl::Seconds(4));
  auto never = Start([&, ctx = ctx3] {
    Connection c = At({"fwd-3"});
    return chain_->Close(ctx, c);
  });
  clock_->Advance(absl::Seconds(2));
  EXPECT_TRUE(never->Await().ok());
  EXPECT_EQ(tail_->closes(), 3);
  cancel3();
}

TEST_F(RestartGraceTest, AfterTheWindowNothingWaits) {
  clock_->Advance(kWindow);
  EXPECT_FALSE(grace_->open());
  ASSERT_TRUE(Request(ctx_, Established()).ok());
  EXPECT_EQ(grace_->stats().waits.load(), 0u);
  EXPECT_TRUE(Eventually([&] { return store_->watchers() == 0; }));
}

TEST_F(RestartGraceTest, AZeroWindowIsOff) {
  Build(absl::ZeroDuration());
  EXPECT_FALSE(grace_->open());
  EXPECT_TRUE(Eventually([&] { return store_->watchers() == 0; })) << "nothing watched";
  ASSERT_TRUE(Request(ctx_, Established()).ok());
  EXPECT_EQ(grace_->stats().waits.load(), 0u);
}

TEST_F(RestartGraceTest, NothingIsLeftBehind) {
  auto call = Start([&] { return Request(ctx_, Established()).status(); });
  Register("fwd-1");
  Register("nse-1");
  ASSERT_TRUE(call->Await().ok());
  grace_.reset();
  chain_.reset();
  EXPECT_TRUE(Eventually([&] { return store_->watchers() == 0; })) << "the watch ended";
  EXPECT_EQ(clock_->PendingTimers(), 0u) << "the window's timer is gone";
}

}  // namespace
}  // namespace nsm::restartgrace

// refresh: fires before the earliest segment expiry and re-arms, jitter spreads 1,000 connections,
// failures back off (capped) and escalate to heal, Close and the chain's end leave no timer, a
// failed caller Request keeps the timer, the floor and "nothing expires" cases.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "healing/refresh/client.h"
#include "healing/refresh/trigger.h"
#include "networkservice/begin/client.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::healing::refresh {
namespace {

// Forwards to a FakeClock and records the delay of every timer armed through it.
class RecordingClock : public Clock {
 public:
  explicit RecordingClock(std::shared_ptr<FakeClock> clock) : clock_(std::move(clock)) {}
  absl::Time Now() const override { return clock_->Now(); }
  std::unique_ptr<Timer> AfterFunc(absl::Duration d, std::function<void()> fn) override {
    {
      absl::MutexLock lock(&mu_);
      delays_.push_back(d);
    }
    return clock_->AfterFunc(d, std::move(fn));
  }
  std::vector<absl::Duration> delays() const {
    absl::MutexLock lock(&mu_);
    return delays_;
  }

 private:
  std::shared_ptr<FakeClock> clock_;
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> delays_ ABSL_GUARDED_BY(mu_);
};

// Stands in for heal: keeps a trigger in the connection's client metadata and counts calls.
class FakeHeal : public NetworkServiceClient, public HealTrigger {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    auto md = metadata::FromContext(ctx);
    auto result = next.Request(ctx, request, opts);
    if (result.ok() && md) {
      md->client.Put<HealTrigger>(kHealTriggerKey,
                                  std::shared_ptr<HealTrigger>(this, [](HealTrigger*) {}));
    }
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }
  void StartHeal(const absl::Status& cause) override {
    absl::MutexLock lock(&mu);
    causes.push_back(cause);
  }
  size_t triggered() {
    absl::MutexLock lock(&mu);
    return causes.size();
  }
  absl::Mutex mu;
  std::vector<absl::Status> causes ABSL_GUARDED_BY(mu);
};

// The rest of the path: answers with segments whose tokens expire after the given lifetimes
// (measured on the request's clock), can fail, counts Requests and records their kind.
class Path : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext&, const CallOptions&) override {
    absl::MutexLock lock(&mu);
    ++requests;
    at.push_back(ctx.clock().Now());
    if (fail) return absl::UnavailableError("nsmgr unavailable");
    Connection c = request.connection();
    c.mutable_path()->clear_path_segments();
    c.mutable_path()->set_index(0);
    int i = 0;
    for (absl::Duration life : lifetimes) {
      auto* s = c.mutable_path()->add_path_segments();
      s->set_name(i == 0 ? "nsc" : absl::StrCat("hop-", i));
      s->set_id(i == 0 ? c.id() : absl::StrCat(c.id(), "-", i));
      if (life != absl::InfiniteDuration()) {
        *s->mutable_expires() = api::ToProtoTimestamp(ctx.clock().Now() + life);
      }
      ++i;
    }
    return c;
  }
  absl::Status Close(const Context&, Connection&, const ClientNext&, const CallOptions&) override {
    absl::MutexLock lock(&mu);
    ++closes;
    return absl::OkStatus();
  }
  int request_count() {
    absl::MutexLock lock(&mu);
    return requests;
  }
  void set_fail(bool f) {
    absl::MutexLock lock(&mu);
    fail = f;
  }

  absl::Mutex mu;
  std::vector<absl::Duration> lifetimes = {absl::Minutes(60), absl::Minutes(10), absl::Minutes(30)};
  int requests ABSL_GUARDED_BY(mu) = 0;
  int closes ABSL_GUARDED_BY(mu) = 0;
  bool fail ABSL_GUARDED_BY(mu) = false;
  std::vector<absl::Time> at ABSL_GUARDED_BY(mu);
};

class RefreshTest : public ::testing::Test {
 protected:
  void Build(Options options) {
    refresh = NewClient(std::move(options));
    chain = MakeClientChain({begin::NewClient(pool), metadata::NewClient(), refresh, heal, path});
  }
  NetworkServiceRequest Req(const std::string& id = "conn-1") {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    r.mutable_connection()->set_network_service("svc");
    return r;
  }
  Context Ctx() { return Context::Background(clock); }
  // Waits until the refresh that the last Advance fired has run and re-armed (the stats count a
  // refresh once its own attempt deadline is gone, just before the next timer is armed).
  bool AwaitRequests(int n) {
    return Eventually([&] {
             const auto& st = refresh->stats();
             return path->request_count() >= n &&
                    static_cast<int>(st.refreshed.load() + st.failed.load()) >= n - 1;
           }) &&
           clock->AwaitPendingTimers(1, absl::Seconds(20));
  }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<ThreadPool> pool = std::make_shared<ThreadPool>(4);
  std::shared_ptr<FakeHeal> heal = std::make_shared<FakeHeal>();
  std::shared_ptr<Path> path = std::make_shared<Path>();
  std::shared_ptr<Client> refresh;
  std::shared_ptr<ClientChain> chain;
};

TEST(RefreshPeriodTest, SpecFractionsOfTheEarliestExpiry) {
  const absl::Time now = absl::FromUnixSeconds(1000000);
  Connection c;
  auto add = [&](absl::Duration life) {
    *c.mutable_path()->add_path_segments()->mutable_expires() = api::ToProtoTimestamp(now + life);
  };
  EXPECT_FALSE(RefreshPeriod(c, now).has_value());  // nothing expires
  add(absl::Minutes(30));
  EXPECT_EQ(*RefreshPeriod(c, now), absl::Minutes(10));  // one segment: 1/3
  add(absl::Minutes(10));
  add(absl::Minutes(60));
  EXPECT_EQ(*RefreshPeriod(c, now), absl::Minutes(2));  // NSC (index 0): 0.2 of the earliest
  c.mutable_path()->set_index(1);
  EXPECT_EQ(*RefreshPeriod(c, now), absl::Seconds(160));  // 0.2 + 0.2 / 3 of 10 min
  c.mutable_path()->set_index(0);
  EXPECT_EQ(*RefreshPeriod(c, now + absl::Minutes(20)), absl::Minutes(-2));  // expired
}

TEST_F(RefreshTest, FiresBeforeTheShortestSegmentExpiryAndRearms) {
  Build({.jitter = 0});
  const absl::Time t0 = clock->Now();
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req())).ok());
  ASSERT_EQ(clock->PendingTimers(), 1u);
  EXPECT_EQ(*clock->NextDeadline(), t0 + absl::Minutes(2));  // 0.2 x the 10 min segment

  clock->Advance(absl::Minutes(2) - absl::Milliseconds(1));
  EXPECT_EQ(path->request_count(), 1);
  clock->Advance(absl::Milliseconds(1));
  ASSERT_TRUE(AwaitRequests(2));
  EXPECT_EQ(*clock->NextDeadline(), t0 + absl::Minutes(4));  // re-armed from the new expiry
  clock->Advance(absl::Minutes(2));
  ASSERT_TRUE(AwaitRequests(3));
  EXPECT_EQ(refresh->stats().refreshed.load(), 2u);
  {
    absl::MutexLock lock(&path->mu);
    EXPECT_EQ(path->at[1], t0 + absl::Minutes(2));
    EXPECT_EQ(path->at[2], t0 + absl::Minutes(4));
  }
  Connection conn;
  conn.set_id("conn-1");
  EXPECT_TRUE(chain->Close(Ctx(), conn).ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(RefreshTest, JitterSpreadsAThousandConnections) {
  auto recording = std::make_shared<RecordingClock>(clock);
  Build({.jitter = 0.1, .random = SeededRandom(2024)});
  constexpr int kConnections = 1000;
  for (int i = 0; i < kConnections; ++i) {
    NetworkServiceRequest r = Req(absl::StrCat("conn-", i));
    ASSERT_TRUE(chain->Request(Context::Background(recording), r).ok());
  }
  std::vector<absl::Duration> delays = recording->delays();
  ASSERT_EQ(delays.size(), static_cast<size_t>(kConnections));
  const double base = absl::ToDoubleSeconds(absl::Minutes(2));
  double sum = 0, sq = 0;
  std::map<int64_t, int> per_second;  // how many connections refresh in the same second
  std::vector<int> deciles(10, 0);
  for (absl::Duration d : delays) {
    const double s = absl::ToDoubleSeconds(d);
    EXPECT_GE(s, base * 0.9);
    EXPECT_LT(s, base * 1.1);
    sum += s;
    sq += s * s;
    per_second[static_cast<int64_t>(s)]++;
    deciles[std::clamp(static_cast<int>((s / base - 0.9) / 0.02), 0, 9)]++;
  }
  const double mean = sum / kConnections;
  const double stddev = std::sqrt(sq / kConnections - mean * mean);
  EXPECT_NEAR(mean, base, base * 0.01);
  // Uniform on [0.9, 1.1) x base: standard deviation 0.2 / sqrt(12) = 5.8 % of base.
  EXPECT_NEAR(stddev / base, 0.2 / std::sqrt(12.0), 0.01);
  for (int n : deciles) EXPECT_NEAR(n, kConnections / 10, 40);  // no wave in any tenth
  int busiest = 0;
  for (const auto& [second, n] : per_second) busiest = std::max(busiest, n);
  EXPECT_LE(busiest, 60);  // 24 seconds of spread: about 42 per second, never all 1,000
  EXPECT_GE(per_second.size(), 24u);
}

TEST_F(RefreshTest, FailedRefreshBacksOffCappedAndEscalatesToHeal) {
  Build({.jitter = 0,
         .retry = {.initial = absl::Milliseconds(200), .max = absl::Seconds(1), .jitter = 0},
         .heal_after_failures = 3});
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req())).ok());
  path->set_fail(true);
  clock->Advance(absl::Minutes(2));  // the first refresh fails

  const std::vector<absl::Duration> expected = {absl::Milliseconds(200), absl::Milliseconds(400),
                                                absl::Milliseconds(800), absl::Seconds(1),
                                                absl::Seconds(1)};
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == i + 1; }));
    ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
    EXPECT_EQ(*clock->NextDeadline() - clock->Now(), expected[i]) << "retry " << i;
    // Heal is asked to take over from the third failure in a row on; retries go on.
    EXPECT_EQ(heal->triggered(), i + 1 >= 3 ? i - 1 : 0u) << "after failure " << i + 1;
    clock->Advance(expected[i]);
  }
  // The retry fired by the last Advance fails too.
  ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == expected.size() + 1; }));
  ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
  {
    absl::MutexLock lock(&heal->mu);
    ASSERT_FALSE(heal->causes.empty());
    EXPECT_EQ(heal->causes[0].code(), absl::StatusCode::kUnavailable);
  }
  // Back: the next retry succeeds and the normal period resumes; the streak starts over.
  path->set_fail(false);
  const int before = path->request_count();
  clock->Advance(*clock->NextDeadline() - clock->Now());
  ASSERT_TRUE(Eventually([&] { return refresh->stats().refreshed.load() == 1; }));
  ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
  EXPECT_GT(path->request_count(), before);
  EXPECT_EQ(*clock->NextDeadline() - clock->Now(), absl::Minutes(2));
  const size_t escalations = heal->triggered();
  path->set_fail(true);
  clock->Advance(absl::Minutes(2));
  ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == expected.size() + 2; }));
  ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
  EXPECT_EQ(*clock->NextDeadline() - clock->Now(), absl::Milliseconds(200));
  EXPECT_EQ(heal->triggered(), escalations);  // one failure after a success: no escalation
}

TEST_F(RefreshTest, CallerFailureKeepsTheTimer) {
  Build({.jitter = 0});
  const absl::Time t0 = clock->Now();
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req())).ok());
  path->set_fail(true);
  clock->Advance(absl::Seconds(30));
  EXPECT_FALSE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req())).ok());
  ASSERT_EQ(clock->PendingTimers(), 1u);
  EXPECT_EQ(*clock->NextDeadline(), t0 + absl::Minutes(2));
  EXPECT_EQ(refresh->stats().failed.load(), 0u);  // only its own refreshes count
  EXPECT_EQ(heal->triggered(), 0u);
}

TEST_F(RefreshTest, CloseAndChainEndLeaveNoTimer) {
  auto [chain_ctx, end_chain] = Context().WithCancel();
  Build({.jitter = 0, .chain_ctx = chain_ctx});
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req("a"))).ok());
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req("b"))).ok());
  ASSERT_EQ(clock->PendingTimers(), 2u);

  // Close while a retry is armed.
  path->set_fail(true);
  clock->Advance(absl::Minutes(2));
  ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == 2; }));
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));
  Connection a;
  a.set_id("a");
  EXPECT_TRUE(chain->Close(Ctx(), a).ok());
  EXPECT_EQ(clock->PendingTimers(), 1u);

  // The chain's end stops the other one, without closing it.
  end_chain();
  EXPECT_EQ(clock->PendingTimers(), 0u);
  const int requests = path->request_count();
  clock->Advance(absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(20));  // nothing may be queued; give a stray event a chance
  EXPECT_EQ(path->request_count(), requests);
  {
    absl::MutexLock lock(&path->mu);
    EXPECT_EQ(path->closes, 1);
  }
}

TEST_F(RefreshTest, ExpiredPathRefreshesAtTheFloorAndNoExpiryArmsNothing) {
  Build({.jitter = 0, .min_period = absl::Milliseconds(100)});
  path->lifetimes = {absl::Minutes(10), absl::ZeroDuration()};
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req("a"))).ok());
  ASSERT_EQ(clock->PendingTimers(), 1u);
  EXPECT_EQ(*clock->NextDeadline() - clock->Now(), absl::Milliseconds(100));
  Connection a;
  a.set_id("a");
  ASSERT_TRUE(chain->Close(Ctx(), a).ok());

  path->lifetimes = {absl::InfiniteDuration(), absl::InfiniteDuration()};
  ASSERT_TRUE(chain->Request(Ctx(), *std::make_unique<NetworkServiceRequest>(Req("b"))).ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(RefreshTest, NeedsBeginAndMetadata) {
  auto alone = MakeClientChain({NewClient(), path});
  NetworkServiceRequest r = Req();
  auto result = alone->Request(Ctx(), r);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace nsm::healing::refresh

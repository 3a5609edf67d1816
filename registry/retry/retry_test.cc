// retry with the FakeClock: retryable failures are repeated after jittered, capped backoff;
// other errors and a cancelled caller end at once; watch Finds pass through.
#include "registry/retry/retry.h"

#include <atomic>
#include <thread>

#include "core/fake_clock.h"
#include "gtest/gtest.h"

namespace nsm::reg::retry {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;

// Fails the first `failures` calls with `error`.
class Flaky : public NSERegistryClient {
 public:
  absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&, const CallOptions&) override {
    if (calls++ < failures) return error;
    return nse;
  }
  absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&,
                    const CallOptions&) override {
    return calls++ < failures ? error : absl::OkStatus();
  }
  absl::Status Unregister(const Context&, NSE&, const Next&, const CallOptions&) override {
    return calls++ < failures ? error : absl::OkStatus();
  }
  std::atomic<int> calls{0};
  int failures = 0;
  absl::Status error = absl::UnavailableError("registry down");
};

class RetryTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  std::shared_ptr<Flaky> flaky_ = std::make_shared<Flaky>();
  NSERegistryClientChain chain_{{NewNSEClient(), flaky_}};
};

TEST(Backoff, GrowsJitteredAndCapped) {
  Backoff b(BackoffOptions{.initial = absl::Milliseconds(100), .max = absl::Seconds(1)});
  const absl::Duration expected[] = {absl::Milliseconds(100), absl::Milliseconds(200),
                                     absl::Milliseconds(400), absl::Milliseconds(800),
                                     absl::Seconds(1),        absl::Seconds(1)};
  for (absl::Duration e : expected) {
    absl::Duration d = b.Next();
    EXPECT_GE(d, e * 0.9);
    EXPECT_LE(d, e * 1.1);
  }
  b.Reset();
  EXPECT_LE(b.Next(), absl::Milliseconds(110));
}

TEST_F(RetryTest, RetriesUntilSuccess) {
  flaky_->failures = 3;
  absl::StatusOr<NSE> result;
  std::atomic<bool> done{false};
  std::thread t([&] {
    NSE nse;
    nse.set_name("nse-1");
    result = chain_.Register(Context::Background(clock_), nse);
    done = true;
  });
  // Move time whenever the retry loop waits on the clock (bounded: the test must not hang).
  for (int i = 0; i < 1000 && !done; ++i) {
    if (clock_->AwaitPendingTimers(1, absl::Milliseconds(20))) clock_->Advance(absl::Seconds(1));
  }
  t.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(flaky_->calls.load(), 4);
}

TEST_F(RetryTest, NonRetryableErrorsReturnAtOnce) {
  flaky_->failures = 1;
  flaky_->error = absl::InvalidArgumentError("bad name");
  NSE nse;
  EXPECT_EQ(chain_.Register(Context::Background(clock_), nse).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(flaky_->calls.load(), 1);
}

TEST_F(RetryTest, CancelledCallerStopsRetrying) {
  flaky_->failures = 1000;
  auto [ctx, cancel] = Context::Background(clock_).WithCancel();
  absl::Status result;
  std::thread t([&, ctx = ctx] {
    NSE nse;
    nse.set_name("nse-1");
    result = chain_.Unregister(ctx, nse);
  });
  ASSERT_TRUE(clock_->AwaitPendingTimers(1, absl::Seconds(30)));
  cancel();
  t.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << "the last error is returned";
  EXPECT_EQ(flaky_->calls.load(), 1);
}

TEST_F(RetryTest, WatchFindPassesThrough) {
  flaky_->failures = 1;
  NSEQuery q;
  q.set_watch(true);
  auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
  EXPECT_EQ(chain_.Find(Context::Background(clock_), q, s).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(flaky_->calls.load(), 1);
}

}  // namespace
}  // namespace nsm::reg::retry

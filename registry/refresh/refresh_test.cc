// refresh with the FakeClock against an in-process registry (serialize, expire, memory): the
// registration is renewed at 2/3 of the remaining time with jitter, keeps its first registration
// time, re-sends a requested duration, retries failures with backoff, stops on Unregister.
#include "registry/refresh/refresh.h"

#include <atomic>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/expire/expire.h"
#include "registry/memory/memory.h"
#include "registry/serialize/serialize.h"
#include "registry/setregistrationtime/setregistrationtime.h"

namespace nsm::reg::refresh {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;

// Counts Registers on the way to the registry and fails them on demand.
class Gate : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    ++registers;
    sent.push_back(nse);
    if (fail) return absl::UnavailableError("registry down");
    return next.Register(ctx, nse);
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    return next.Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    return next.Unregister(ctx, nse);
  }
  std::atomic<int> registers{0};
  std::atomic<bool> fail{false};
  std::vector<NSE> sent;
};

class RefreshTest : public ::testing::Test {
 protected:
  RefreshTest() {
    auto registry = std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
        gate_, serialize::NewNSEServer(), setregistrationtime::NewNSEServer(),
        expire::NewNSEServer(absl::Minutes(1)), store_});
    chain_ = std::make_shared<NSERegistryClientChain>(NSERegistryClientChain::Elements{
        std::make_shared<RegistryServerToClient<NSETraits>>(serialize_), refresh_,
        std::make_shared<RegistryServerToClient<NSETraits>>(registry)});
  }

  absl::StatusOr<NSE> Register(std::optional<absl::Duration> requested = std::nullopt) {
    NSE nse;
    nse.set_name("nse-1");
    if (requested) {
      *nse.mutable_expiration_time() = api::ToProtoTimestamp(clock_->Now() + *requested);
    }
    return chain_->Register(ctx_, nse);
  }
  // Advances the clock and waits for the refresh work it queued on the name.
  void Advance(absl::Duration d) {
    clock_->Advance(d);
    serialize_->executor()->RunSync("nse-1", [] {});
  }
  // Fires only the earliest timer (and waits for its work); returns how far the clock moved.
  absl::Duration FireNext() {
    absl::Duration d = *clock_->NextDeadline() - clock_->Now();
    Advance(d);
    return d;
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::shared_ptr<memory::NSEServer> store_ = memory::NewNSEServer();
  std::shared_ptr<serialize::NSEServer> serialize_ = serialize::NewNSEServer();
  std::shared_ptr<NSEClient> refresh_ = NewNSEClient();
  std::shared_ptr<NSERegistryClientChain> chain_;
};

TEST_F(RefreshTest, FirstRefreshAtTwoThirdsWithJitter) {
  const absl::Time start = clock_->Now();
  ASSERT_TRUE(Register().ok());
  // Timers: the registry's expiry at 60 s and the refresh at 40 s +- 10%.
  auto next = clock_->NextDeadline();
  ASSERT_TRUE(next.has_value());
  EXPECT_GE(*next, start + absl::Seconds(36));
  EXPECT_LE(*next, start + absl::Seconds(44));
}

TEST_F(RefreshTest, KeepsTheRegistrationAliveAndItsFirstRegistrationTime) {
  const absl::Time start = clock_->Now();
  ASSERT_TRUE(Register().ok());
  for (int i = 0; i < 20; ++i) Advance(absl::Seconds(15));  // 5 minutes
  EXPECT_EQ(store_->size(), 1u) << "without refresh it would have expired after 1 minute";
  EXPECT_GE(gate_->registers.load(), 7);  // every ~40 s
  auto stored = store_->Get("nse-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(api::FromProtoTimestamp(stored->initial_registration_time()), start);
  EXPECT_FALSE(gate_->sent.back().has_expiration_time())
      << "no duration was requested: the registry applies its own cap";
}

TEST_F(RefreshTest, ResendsTheRequestedDuration) {
  ASSERT_TRUE(Register(absl::Seconds(30)).ok());
  const absl::Duration waited = FireNext();  // 2/3 of 30 s, jittered
  EXPECT_GE(waited, absl::Seconds(18));
  EXPECT_LE(waited, absl::Seconds(22));
  ASSERT_EQ(gate_->registers.load(), 2);
  EXPECT_NEAR(absl::ToDoubleSeconds(api::FromProtoTimestamp(gate_->sent.back().expiration_time()) -
                                    clock_->Now()),
              30.0, 1e-6)
      << "now + the requested 30 s";
}

TEST_F(RefreshTest, FailedRefreshIsRetriedWithBackoffThenResumes) {
  ASSERT_TRUE(Register().ok());
  gate_->fail = true;
  FireNext();  // the refresh at ~40 s fails
  EXPECT_EQ(gate_->registers.load(), 2);
  const absl::Duration first = FireNext();  // retried after ~200 ms
  EXPECT_GE(first, absl::Milliseconds(180));
  EXPECT_LE(first, absl::Milliseconds(220));
  EXPECT_EQ(gate_->registers.load(), 3);
  const absl::Duration second = FireNext();  // then ~400 ms
  EXPECT_GE(second, absl::Milliseconds(360));
  EXPECT_LE(second, absl::Milliseconds(440));
  EXPECT_EQ(gate_->registers.load(), 4);
  gate_->fail = false;
  FireNext();  // ~800 ms later it succeeds
  EXPECT_EQ(gate_->registers.load(), 5);
  EXPECT_EQ(store_->size(), 1u);
  const absl::Duration resumed = FireNext();  // back to 2/3 of the new minute
  EXPECT_GE(resumed, absl::Seconds(36));
  EXPECT_LE(resumed, absl::Seconds(44));
  EXPECT_EQ(gate_->registers.load(), 6);
}

TEST_F(RefreshTest, UnregisterStopsRefreshing) {
  ASSERT_TRUE(Register().ok());
  NSE nse;
  nse.set_name("nse-1");
  ASSERT_TRUE(chain_->Unregister(ctx_, nse).ok());
  EXPECT_EQ(refresh_->size(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 0u);
  Advance(absl::Minutes(5));
  EXPECT_EQ(gate_->registers.load(), 1);
}

TEST_F(RefreshTest, TimersDieWithTheElement) {
  ASSERT_TRUE(Register().ok());
  EXPECT_EQ(refresh_->Registrations().size(), 1u);
  chain_.reset();
  refresh_.reset();
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(RefreshTest, NeedsSerializeInFront) {
  NSERegistryClientChain chain({NewNSEClient()});
  NSE nse;
  nse.set_name("nse-1");
  EXPECT_EQ(chain.Register(ctx_, nse).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace nsm::reg::refresh

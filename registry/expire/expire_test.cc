// expire with the FakeClock: the cap, a requested earlier expiration, the response winning, expiry
// removing the entry and telling watchers, re-registration extending, timers owned by entries.
#include "registry/expire/expire.h"

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"
#include "registry/serialize/serialize.h"

namespace nsm::reg::expire {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

// Counts calls and can be told to fail.
class Recorder : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    ++registers;
    if (!fail.ok()) return fail;
    return next.Register(ctx, nse);
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    return next.Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    ++unregisters;
    if (!fail.ok()) return fail;
    return next.Unregister(ctx, nse);
  }
  int registers = 0;
  int unregisters = 0;
  absl::Status fail;
};

class ExpireTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(absl::Minutes(1)); }

  void Build(absl::Duration max_lifetime, std::shared_ptr<NSERegistryServer> after = nullptr) {
    serialize_ = serialize::NewNSEServer();
    expire_ = NewNSEServer(max_lifetime);
    NSERegistryServerChain::Elements elements{serialize_, expire_, recorder_};
    if (after) elements.push_back(after);
    elements.push_back(store_);
    chain_ = std::make_shared<NSERegistryServerChain>(elements);
  }

  absl::StatusOr<NSE> Register(const std::string& name,
                               std::optional<absl::Duration> requested = std::nullopt) {
    NSE nse;
    nse.set_name(name);
    if (requested)
      *nse.mutable_expiration_time() = api::ToProtoTimestamp(clock_->Now() + *requested);
    return chain_->Register(ctx_, nse);
  }
  // Advances the clock and waits until the expiry work queued for `name` has run.
  void Advance(absl::Duration d, const std::string& name = "nse-1") {
    clock_->Advance(d);
    serialize_->executor()->RunSync(name, [] {});
  }
  absl::Time Expiration(const NSE& nse) { return api::FromProtoTimestamp(nse.expiration_time()); }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
  std::shared_ptr<memory::NSEServer> store_ = memory::NewNSEServer();
  std::shared_ptr<serialize::NSEServer> serialize_;
  std::shared_ptr<NSEServer> expire_;
  std::shared_ptr<NSERegistryServerChain> chain_;
};

TEST_F(ExpireTest, CapsExpirationAtNowPlusPeriod) {
  auto r = Register("nse-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Expiration(*r), clock_->Now() + absl::Minutes(1));
  r = Register("nse-1", absl::Hours(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Expiration(*r), clock_->Now() + absl::Minutes(1)) << "a later request is capped";
}

TEST_F(ExpireTest, EarlierRequestedExpirationIsKeptAndRemovesTheEntry) {
  auto watch = BufferedFindStream<NSEResponse>::Create(ctx_);
  NSEQuery q;
  q.set_watch(true);
  ASSERT_TRUE(chain_->Find(ctx_, q, watch).ok());
  auto r = Register("nse-1", absl::Seconds(30));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Expiration(*r), clock_->Now() + absl::Seconds(30));
  Advance(absl::Seconds(29));
  EXPECT_EQ(store_->size(), 1u);
  Advance(absl::Seconds(1));
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(expire_->size(), 0u);
  auto events = watch->Drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].deleted());
  EXPECT_TRUE(events[1].deleted()) << "expiry is a deletion for watchers";
  EXPECT_EQ(events[1].network_service_endpoint().name(), "nse-1");
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(ExpireTest, ReRegistrationExtends) {
  ASSERT_TRUE(Register("nse-1").ok());
  Advance(absl::Seconds(40));
  ASSERT_TRUE(Register("nse-1").ok());  // now expires at 100 s
  Advance(absl::Seconds(30));           // 70 s: the first timer would have fired at 60 s
  EXPECT_EQ(store_->size(), 1u);
  EXPECT_EQ(clock_->PendingTimers(), 1u) << "one timer per registration";
  Advance(absl::Seconds(30));  // 100 s
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(ExpireTest, ExpirationInThePastIsRejectedAndChangesNothing) {
  auto first = Register("nse-1");
  ASSERT_TRUE(first.ok());
  auto r = Register("nse-1", -absl::Seconds(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("expiration_time"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("nse-1"), std::string::npos) << r.status();
  r = Register("nse-1", absl::ZeroDuration());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(recorder_->registers, 1);
  EXPECT_EQ(store_->Get("nse-1")->expiration_time().seconds(), first->expiration_time().seconds());
  Advance(absl::Minutes(1));
  EXPECT_EQ(store_->size(), 0u) << "the original timer still runs";
}

TEST_F(ExpireTest, ResponseExpirationWins) {
  // A downstream registry with a shorter cap: its answer sets our timer.
  Build(absl::Hours(1), NewNSEServer(absl::Minutes(10)));
  auto r = Register("nse-1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Expiration(*r), clock_->Now() + absl::Minutes(10));
  Advance(absl::Minutes(10));
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(ExpireTest, FailedReRegistrationKeepsTheOldTimer) {
  ASSERT_TRUE(Register("nse-1").ok());
  Advance(absl::Seconds(30));
  recorder_->fail = absl::UnavailableError("down");
  EXPECT_FALSE(Register("nse-1").ok());
  recorder_->fail = absl::OkStatus();
  EXPECT_EQ(expire_->size(), 1u);
  Advance(absl::Seconds(30));  // the original expiration
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(expire_->size(), 0u);
}

TEST_F(ExpireTest, UnregisterOfUnknownNameDoesNotCallNext) {
  NSE nse;
  nse.set_name("ghost");
  EXPECT_TRUE(chain_->Unregister(ctx_, nse).ok());
  EXPECT_EQ(recorder_->unregisters, 0);
}

TEST_F(ExpireTest, UnregisterStopsTheTimer) {
  ASSERT_TRUE(Register("nse-1").ok());
  EXPECT_EQ(clock_->PendingTimers(), 1u);
  NSE nse;
  nse.set_name("nse-1");
  ASSERT_TRUE(chain_->Unregister(ctx_, nse).ok());
  EXPECT_EQ(clock_->PendingTimers(), 0u);
  EXPECT_EQ(recorder_->unregisters, 1);
  Advance(absl::Minutes(2));
  EXPECT_EQ(recorder_->unregisters, 1);
}

TEST_F(ExpireTest, FailedUnregisterKeepsTheTimer) {
  ASSERT_TRUE(Register("nse-1").ok());
  recorder_->fail = absl::UnavailableError("down");
  NSE nse;
  nse.set_name("nse-1");
  EXPECT_FALSE(chain_->Unregister(ctx_, nse).ok());
  recorder_->fail = absl::OkStatus();
  EXPECT_EQ(expire_->size(), 1u);
  Advance(absl::Minutes(1));
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(ExpireTest, TimersDieWithTheElement) {
  ASSERT_TRUE(Register("nse-1").ok());
  ASSERT_TRUE(Register("nse-2").ok());
  EXPECT_EQ(clock_->PendingTimers(), 2u);
  chain_.reset();
  expire_.reset();
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(ExpireTest, NeedsSerializeInFront) {
  auto chain = std::make_shared<NSERegistryServerChain>(
      NSERegistryServerChain::Elements{NewNSEServer(absl::Minutes(1)), store_});
  NSE nse;
  nse.set_name("nse-1");
  EXPECT_EQ(chain->Register(ctx_, nse).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store_->size(), 0u);
}

}  // namespace
}  // namespace nsm::reg::expire

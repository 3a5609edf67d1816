// The insecure token generator: names the hop, expires after the max lifetime on the given clock.
#include "core/token.h"

#include "core/fake_clock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

TEST(InsecureTokenGeneratorTest, NamesTheHopAndExpiresOnTheChainClock) {
  auto clock = FakeClock::Create();
  auto gen = NewInsecureTokenGenerator("nsmgr-1", absl::Minutes(15), clock);
  auto t = gen->Generate(Peer{"unix:/x", {}});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->token, "insecure:nsmgr-1");
  EXPECT_EQ(t->expires, clock->Now() + absl::Minutes(15));
  clock->Advance(absl::Minutes(1));
  EXPECT_EQ(gen->Generate(Peer{})->expires, clock->Now() + absl::Minutes(15));
}

TEST(InsecureTokenGeneratorTest, NonPositiveLifetimeIsAnError) {
  auto gen = NewInsecureTokenGenerator("nse", absl::ZeroDuration(), FakeClock::Create());
  auto t = gen->Generate(Peer{});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(t.status().message().find("nse"), absl::string_view::npos);
}

}  // namespace
}  // namespace nsm

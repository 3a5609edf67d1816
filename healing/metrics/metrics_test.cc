// heal metrics on the FakeClock: episodes by outcome, attempts by result, time-to-heal observed
// from detection to the end of the episode, and the wrapped observer still called (issue #8).
#include "healing/metrics/metrics.h"

#include "core/fake_clock.h"
#include "core/metrics/read.h"
#include "gtest/gtest.h"

namespace nsm::healing::metrics {
namespace {

using nsm::metrics::ValueOf;

Connection Conn(const std::string& id) {
  Connection c;
  c.set_id(id);
  return c;
}

TEST(HealStatsTest, EpisodesAttemptsAndTimeToHeal) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto clock = FakeClock::Create();
  auto stats = HealStats::Create(registry, clock);
  int healed_calls = 0;
  heal::Observer o = stats->Wrap({.healed = [&](const Connection&, int) { ++healed_calls; }});

  o.started(Conn("a"), absl::UnavailableError("stream lost"));
  clock->Advance(absl::Milliseconds(200));
  o.attempt_failed(Conn("a"), absl::UnavailableError("nsmgr down"));
  clock->Advance(absl::Milliseconds(300));
  o.healed(Conn("a"), 2);
  EXPECT_EQ(healed_calls, 1);

  o.started(Conn("b"), absl::UnavailableError("DOWN"));
  clock->Advance(absl::Seconds(5));
  o.attempt_failed(Conn("b"), absl::DeadlineExceededError("attempt timed out"));
  o.failed(Conn("b"), absl::DeadlineExceededError("not healed within 5s"));

  EXPECT_EQ(ValueOf(*registry, "nsm_heal_episodes_total", {{"outcome", "started"}}), 2);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_episodes_total", {{"outcome", "healed"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_episodes_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_attempts_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_attempts_total", {{"result", "UNAVAILABLE"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_attempts_total", {{"result", "DEADLINE_EXCEEDED"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_duration_seconds_count", {{"outcome", "healed"}}), 1);
  EXPECT_DOUBLE_EQ(*ValueOf(*registry, "nsm_heal_duration_seconds_sum", {{"outcome", "healed"}}),
                   0.5);
  EXPECT_DOUBLE_EQ(*ValueOf(*registry, "nsm_heal_duration_seconds_sum", {{"outcome", "failed"}}),
                   5);
  EXPECT_EQ(stats->tracked(), 0u);
}

TEST(HealStatsTest, HealWithoutStartIsCountedNotTimed) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto stats = HealStats::Create(registry, FakeClock::Create());
  heal::Observer o = stats->Wrap();
  o.healed(Conn("x"), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_episodes_total", {{"outcome", "healed"}}), 1);
  EXPECT_EQ(ValueOf(*registry, "nsm_heal_duration_seconds_count", {{"outcome", "healed"}}), 0);
}

}  // namespace
}  // namespace nsm::healing::metrics

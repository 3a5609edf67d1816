// Backoff and jitter: capped doubling, jitter bounds, deterministic seeded sources.
#include "core/backoff.h"

#include "gtest/gtest.h"

namespace nsm {
namespace {

TEST(BackoffTest, DoublesUpToTheCapWithoutJitter) {
  Backoff b({.initial = absl::Milliseconds(200), .max = absl::Seconds(1), .jitter = 0});
  EXPECT_EQ(b.Next(), absl::Milliseconds(200));
  EXPECT_EQ(b.Next(), absl::Milliseconds(400));
  EXPECT_EQ(b.Next(), absl::Milliseconds(800));
  EXPECT_EQ(b.Next(), absl::Seconds(1));
  EXPECT_EQ(b.Next(), absl::Seconds(1));
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Milliseconds(200));
}

TEST(BackoffTest, JitterStaysWithinTenPercent) {
  Backoff b({.initial = absl::Seconds(1), .max = absl::Seconds(1), .jitter = 0.1}, SeededRandom(7));
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = b.Next();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, absl::Milliseconds(900));
  EXPECT_LT(hi, absl::Milliseconds(1100));
  EXPECT_LT(lo, absl::Milliseconds(920));  // the range is actually used
  EXPECT_GT(hi, absl::Milliseconds(1080));
}

TEST(BackoffTest, SeededSourcesRepeat) {
  RandomSource a = SeededRandom(42), b = SeededRandom(42), c = SeededRandom(43);
  double x = a(), y = b(), z = c();
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  EXPECT_GE(x, 0.0);
  EXPECT_LT(x, 1.0);
}

TEST(BackoffTest, NoJitterReturnsTheDuration) {
  EXPECT_EQ(Jitter(absl::Seconds(3), 0), absl::Seconds(3));
  absl::Duration d = Jitter(absl::Seconds(3), 0.1);
  EXPECT_GE(d, absl::Milliseconds(2700));
  EXPECT_LT(d, absl::Milliseconds(3300));
}

}  // namespace
}  // namespace nsm

// FakeClock ordering, cancellation and re-arming; the real clock's timers fire and stop.
#include "core/clock.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

using ::testing::ElementsAre;

TEST(FakeClockTest, TimeMovesOnlyWhenAdvanced) {
  auto clock = FakeClock::Create();
  absl::Time start = clock->Now();
  EXPECT_EQ(clock->Now(), start);
  clock->Advance(absl::Seconds(5));
  EXPECT_EQ(clock->Now(), start + absl::Seconds(5));
  clock->Advance(absl::Seconds(-3));  // negative counts as zero
  EXPECT_EQ(clock->Now(), start + absl::Seconds(5));
  clock->Set(start);  // the past: no change
  EXPECT_EQ(clock->Now(), start + absl::Seconds(5));
}

TEST(FakeClockTest, TimersFireInDeadlineOrderEachAtItsOwnTime) {
  auto clock = FakeClock::Create();
  absl::Time start = clock->Now();
  std::vector<std::string> fired;
  auto record = [&](std::string name) {
    return [&, name] {
      fired.push_back(name + "@" + std::to_string(absl::ToInt64Seconds(clock->Now() - start)));
    };
  };
  auto t3 = clock->AfterFunc(absl::Seconds(3), record("c"));
  auto t1 = clock->AfterFunc(absl::Seconds(1), record("a"));
  auto t2a = clock->AfterFunc(absl::Seconds(2), record("b1"));
  auto t2b = clock->AfterFunc(absl::Seconds(2), record("b2"));  // same deadline: creation order
  auto t9 = clock->AfterFunc(absl::Seconds(9), record("z"));
  EXPECT_EQ(clock->PendingTimers(), 5u);
  clock->Advance(absl::Seconds(3));
  EXPECT_THAT(fired, ElementsAre("a@1", "b1@2", "b2@2", "c@3"));
  EXPECT_EQ(clock->Now(), start + absl::Seconds(3));
  EXPECT_EQ(clock->PendingTimers(), 1u);
  EXPECT_EQ(clock->NextDeadline(), start + absl::Seconds(9));
}

TEST(FakeClockTest, DeadlineIsInclusive) {
  auto clock = FakeClock::Create();
  bool fired = false;
  auto t = clock->AfterFunc(absl::Seconds(10), [&] { fired = true; });
  clock->Advance(absl::Seconds(10) - absl::Nanoseconds(1));
  EXPECT_FALSE(fired);
  clock->Advance(absl::Nanoseconds(1));
  EXPECT_TRUE(fired);
}

TEST(FakeClockTest, StoppedAndDestroyedTimersDoNotFire) {
  auto clock = FakeClock::Create();
  int fired = 0;
  auto a = clock->AfterFunc(absl::Seconds(1), [&] { ++fired; });
  auto b = clock->AfterFunc(absl::Seconds(1), [&] { ++fired; });
  EXPECT_TRUE(a->Stop());
  EXPECT_FALSE(a->Stop());  // already stopped
  b.reset();                // RAII
  EXPECT_EQ(clock->PendingTimers(), 0u);
  clock->Advance(absl::Seconds(2));
  EXPECT_EQ(fired, 0);
}

TEST(FakeClockTest, StopAfterFiringReturnsFalse) {
  auto clock = FakeClock::Create();
  auto t = clock->AfterFunc(absl::Seconds(1), [] {});
  clock->Advance(absl::Seconds(1));
  EXPECT_FALSE(t->Stop());
}

TEST(FakeClockTest, TimersArmedByCallbacksFireWithinTheSameAdvance) {
  auto clock = FakeClock::Create();
  absl::Time start = clock->Now();
  std::vector<int64_t> ticks;
  std::function<void()> tick;
  std::unique_ptr<Timer> timer;
  tick = [&] {
    ticks.push_back(absl::ToInt64Seconds(clock->Now() - start));
    timer = clock->AfterFunc(absl::Seconds(2), tick);
  };
  timer = clock->AfterFunc(absl::Seconds(2), tick);
  clock->Advance(absl::Seconds(7));
  EXPECT_THAT(ticks, ElementsAre(2, 4, 6));
  EXPECT_EQ(clock->NextDeadline(), start + absl::Seconds(8));
}

TEST(FakeClockTest, ZeroDelayFiresOnTheNextAdvance) {
  auto clock = FakeClock::Create();
  bool fired = false;
  auto t = clock->AfterFunc(absl::ZeroDuration(), [&] { fired = true; });
  EXPECT_FALSE(fired);
  clock->Advance(absl::ZeroDuration());
  EXPECT_TRUE(fired);
}

TEST(FakeClockTest, AtSchedulesAnAbsoluteTime) {
  auto clock = FakeClock::Create();
  absl::Time when = clock->Now() + absl::Minutes(1);
  bool fired = false;
  auto t = clock->At(when, [&] { fired = true; });
  clock->Set(when);
  EXPECT_TRUE(fired);
  EXPECT_EQ(clock->Until(when), absl::ZeroDuration());
}

TEST(FakeClockTest, AwaitPendingTimersIsBounded) {
  auto clock = FakeClock::Create();
  EXPECT_FALSE(clock->AwaitPendingTimers(1, absl::Milliseconds(10)));
  auto t = clock->AfterFunc(absl::Seconds(1), [] {});
  EXPECT_TRUE(clock->AwaitPendingTimers(1, absl::Milliseconds(10)));
}

TEST(RealClockTest, TimerFiresAndStopPreventsFiring) {
  auto clock = RealClock();
  absl::Notification fired;
  auto t = clock->AfterFunc(absl::Milliseconds(1), [&] { fired.Notify(); });
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(t->Stop());

  std::atomic<bool> late{false};
  auto stopped = clock->AfterFunc(absl::Hours(1), [&] { late = true; });
  EXPECT_TRUE(stopped->Stop());
  EXPECT_FALSE(late);
}

// A call's deadline timer is stopped when the call ends: it must not stay queued until its
// deadline (15 s of calls under load), and neither may a timer that fired.
TEST(RealClockTest, StoppedAndFiredTimersLeaveTheQueue) {
  auto clock = RealClock();
  const size_t before = RealClockQueuedTimers();
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 1000; ++i) timers.push_back(clock->AfterFunc(absl::Hours(1), [] {}));
  EXPECT_EQ(RealClockQueuedTimers(), before + 1000);
  for (auto& t : timers) EXPECT_TRUE(t->Stop());
  EXPECT_EQ(RealClockQueuedTimers(), before);
  timers.clear();

  absl::Notification fired;
  auto t = clock->AfterFunc(absl::Milliseconds(1), [&] { fired.Notify(); });
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(RealClockQueuedTimers(), before);
  EXPECT_FALSE(t->Stop());
}

TEST(RealClockTest, TimersFireInDeadlineOrder) {
  auto clock = RealClock();
  std::vector<int> order;
  absl::Mutex mu;
  absl::Notification done;
  auto push = [&](int i) {
    absl::MutexLock lock(&mu);
    order.push_back(i);
    if (order.size() == 3) done.Notify();
  };
  auto c = clock->AfterFunc(absl::Milliseconds(30), [&] { push(3); });
  auto a = clock->AfterFunc(absl::Milliseconds(10), [&] { push(1); });
  auto b = clock->AfterFunc(absl::Milliseconds(20), [&] { push(2); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
}

}  // namespace
}  // namespace nsm

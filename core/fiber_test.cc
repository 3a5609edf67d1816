// Fibers: a call runs on its own stack, parks in Event::Wait without holding its thread, and goes
// on on the thread that signals it; Blocking moves a long wait off the fiber's thread.
#include "core/fiber.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "gtest/gtest.h"

namespace nsm::fiber {
namespace {

// The thread now. std::this_thread::get_id() is pthread_self(), which the compiler may treat as
// constant within a function and so reuse across a park; this reads it afresh.
__attribute__((noinline)) std::thread::id ThreadNow() {
  asm volatile("" ::: "memory");
  return std::this_thread::get_id();
}

TEST(FiberTest, ACallThatNeverWaitsEndsWithinRun) {
  const size_t alive = Alive();  // other tests' fibers, if one failed to end
  bool on_fiber = false;
  fiber::Run([&] { on_fiber = OnFiber(); });
  EXPECT_TRUE(on_fiber);
  EXPECT_FALSE(OnFiber());
  EXPECT_EQ(Alive(), alive);
}

TEST(FiberTest, ASignalBeforeTheWaitDoesNotPark) {
  const size_t alive = Alive();
  auto event = Event::Create();
  bool done = false;
  fiber::Run([&] {
    event->Signal();
    event->Wait();
    done = true;
  });
  EXPECT_TRUE(done);
  EXPECT_EQ(Alive(), alive);
}

TEST(FiberTest, AWaitParksAndTheSignallingThreadRunsTheRest) {
  const size_t alive = Alive();
  auto event = Event::Create();
  std::thread::id before, after;
  std::atomic<bool> done{false};
  fiber::Run([&] {
    before = ThreadNow();
    event->Wait();
    after = ThreadNow();
    done = true;
  });
  EXPECT_FALSE(done) << "Run returns when the fiber parks";
  EXPECT_EQ(Alive(), alive + 1);
  std::thread::id signaller;
  std::thread t([&] {
    signaller = std::this_thread::get_id();
    event->Signal();  // runs the fiber to its end, here
    EXPECT_TRUE(done);
  });
  t.join();
  EXPECT_EQ(before, std::this_thread::get_id());
  EXPECT_EQ(after, signaller);
  EXPECT_EQ(Alive(), alive);
}

TEST(FiberTest, AThousandParkedCallsHoldNoThread) {
  constexpr int kCalls = 1000;
  const size_t alive = Alive();
  std::vector<std::shared_ptr<Event>> events;
  std::atomic<int> done{0};
  for (int i = 0; i < kCalls; ++i) {
    events.push_back(Event::Create());
    fiber::Run([&, e = events.back()] {
      e->Wait();
      done++;
    });
  }
  EXPECT_EQ(Alive(), alive + kCalls);
  EXPECT_EQ(done.load(), 0);
  std::thread odd([&] {
    for (int i = 1; i < kCalls; i += 2) events[i]->Signal();
  });
  for (int i = 0; i < kCalls; i += 2) events[i]->Signal();
  odd.join();
  EXPECT_EQ(done.load(), kCalls);
  EXPECT_EQ(Alive(), alive);
}

// A signal may come while the fiber is still on its way to park (gRPC answers before the caller's
// thread has switched away): the fiber goes on exactly once, wherever the race ends.
TEST(FiberTest, ASignalRacingWithTheParkResumesTheFiberOnce) {
  constexpr int kRounds = 2000;
  const size_t alive = Alive();
  std::atomic<int> resumed{0};
  for (int i = 0; i < kRounds; ++i) {
    auto event = Event::Create();
    absl::Notification go;
    std::thread t([&] {
      go.WaitForNotification();
      event->Signal();
    });
    fiber::Run([&, event] {
      go.Notify();
      for (int spin = 0; spin < i % 64; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
      event->Wait();
      resumed++;
    });
    t.join();
  }
  ASSERT_TRUE(Eventually([&] { return Alive() == alive; }, absl::Seconds(10)));
  EXPECT_EQ(resumed.load(), kRounds);
}

TEST(FiberTest, AFiberMayResumeAnother) {
  const size_t alive = Alive();
  auto event = Event::Create();
  std::vector<int> order;
  fiber::Run([&] {
    event->Wait();
    order.push_back(1);
  });
  fiber::Run([&] {
    order.push_back(0);
    event->Signal();  // the first fiber runs to its end inside this one
    order.push_back(2);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(Alive(), alive);
}

TEST(FiberTest, AWaitOffAFiberBlocksTheThreadUntilTheSignal) {
  auto event = Event::Create();
  std::atomic<bool> signalled{false}, returned_early{false};
  std::thread t([&] {
    event->Wait();
    returned_early = !signalled.load();
  });
  signalled = true;
  event->Signal();
  t.join();
  EXPECT_FALSE(returned_early) << "Wait returned before the signal";
}

TEST(FiberTest, BlockingRunsOnAWorkerWhileTheFiberParks) {
  const size_t alive = Alive();
  std::thread::id fiber_thread, blocking_thread;
  absl::Notification release;
  std::atomic<bool> done{false};
  fiber::Run([&] {
    fiber_thread = ThreadNow();
    Blocking([&] {
      blocking_thread = ThreadNow();
      release.WaitForNotification();
    });
    done = true;
  });
  EXPECT_FALSE(done) << "the fiber's thread is free while the worker blocks";
  release.Notify();
  ASSERT_TRUE(Eventually([&] { return done.load() && Alive() == alive; }));
  EXPECT_NE(blocking_thread, fiber_thread);

  std::thread::id here;
  Blocking([&] { here = std::this_thread::get_id(); });
  EXPECT_EQ(here, std::this_thread::get_id()) << "off a fiber, it runs in place";
}

// Calls nest deeply on a fiber's stack: ~100 KiB of frames fit (the deepest chain measured needed
// 28 KiB, docs/core.md), in fresh stacks and in stacks reused from ended fibers.
TEST(FiberTest, DeepCallsFitTheStack) {
  std::function<int(int)> depth = [&](int n) {
    volatile char frame[512];
    frame[0] = static_cast<char>(n);
    return n == 0 ? frame[0] : depth(n - 1) + 1;
  };
  int result = 0;
  for (int i = 0; i < 3; ++i) fiber::Run([&] { result = depth(200); });  // ~100 KiB of frames
  EXPECT_EQ(result, 200);
}

}  // namespace
}  // namespace nsm::fiber

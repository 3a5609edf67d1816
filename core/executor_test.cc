// Executors: serial order and exclusivity under concurrency, keyed executors cleaned up.
#include "core/executor.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/fiber.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

TEST(ThreadPoolTest, RunsEverythingPostedBeforeDestruction) {
  std::atomic<int> count{0};
  {
    ThreadPool pool(3);
    for (int i = 0; i < 100; ++i) pool.Post([&] { ++count; });
  }
  EXPECT_EQ(count, 100);
}

// Tasks that block until released, and a count of those running.
class Blockers {
 public:
  ~Blockers() { Release(); }
  std::function<void()> Task() {
    return [this] {
      ++running_;
      release_.WaitForNotification();
    };
  }
  void Release() {  // from any thread, any number of times
    std::call_once(once_, [this] { release_.Notify(); });
  }
  bool released() const { return release_.HasBeenNotified(); }
  int running() const { return running_; }

 private:
  std::atomic<int> running_{0};
  std::once_flag once_;
  absl::Notification release_;
};

// An elastic pool on a fake clock (stall 20 ms, linger 10 s). Blocked tasks are released before
// the pool is destroyed, however a test ends.
class ElasticPoolTest : public ::testing::Test {
 protected:
  void TearDown() override {
    blockers.Release();
    first.Release();
    second.Release();
    pool.reset();
  }
  ThreadPool& Start(size_t threads, size_t max) {
    pool = std::make_unique<ThreadPool>(ThreadPool::Options{.threads = threads,
                                                            .max_threads = max,
                                                            .stall = absl::Milliseconds(20),
                                                            .linger = absl::Seconds(10),
                                                            .clock = clock});
    return *pool;
  }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  Blockers blockers, first, second;
  std::unique_ptr<ThreadPool> pool;
};

TEST_F(ElasticPoolTest, AWorkerIsAddedWhenEveryWorkerIsBlockedForAStall) {
  ThreadPool& pool = Start(2, 4);
  pool.Post(blockers.Task());
  pool.Post(blockers.Task());
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 2; }));
  absl::Notification ran;
  pool.Post([&] { ran.Notify(); });
  EXPECT_EQ(clock->PendingTimers(), 1u);  // the stall watch

  clock->Advance(absl::Milliseconds(19));
  EXPECT_EQ(pool.stats().threads, 2u);
  EXPECT_FALSE(ran.HasBeenNotified());
  clock->Advance(absl::Milliseconds(1));
  EXPECT_EQ(pool.stats().added, 1u);
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(pool.stats().threads, 3u);
}

TEST_F(ElasticPoolTest, APoolWhoseTasksFinishDoesNotGrow) {
  ThreadPool& pool = Start(1, 4);
  pool.Post(first.Task());
  pool.Post(second.Task());
  absl::Notification ran;
  pool.Post([&] { ran.Notify(); });
  ASSERT_TRUE(Eventually([&] { return first.running() == 1 && clock->PendingTimers() == 1; }));

  first.Release();  // a task finishes within the window: busy, not blocked
  ASSERT_TRUE(Eventually([&] { return second.running() == 1; }));
  clock->Advance(absl::Milliseconds(20));
  EXPECT_EQ(pool.stats().threads, 1u);
  EXPECT_EQ(clock->PendingTimers(), 1u);  // watching the next window

  clock->Advance(absl::Milliseconds(20));  // nothing finished in this one
  EXPECT_EQ(pool.stats().added, 1u);
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST_F(ElasticPoolTest, GrowsOneWorkerPerStallUpToItsMaximum) {
  ThreadPool& pool = Start(1, 3);
  for (int i = 0; i < 5; ++i) pool.Post(blockers.Task());
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 1; }));
  clock->Advance(absl::Milliseconds(20));
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 2; }));
  EXPECT_EQ(pool.stats().threads, 2u);
  clock->Advance(absl::Milliseconds(20));
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 3; }));
  clock->Advance(absl::Seconds(1));
  EXPECT_EQ(pool.stats().threads, 3u);
  EXPECT_EQ(pool.stats().queued, 2u);
  EXPECT_EQ(clock->PendingTimers(), 1u);  // only the linger watch: no stall watch at the maximum
}

TEST_F(ElasticPoolTest, AFixedPoolNeverWatches) {
  ThreadPool& pool = Start(1, 1);
  pool.Post(blockers.Task());
  pool.Post(blockers.Task());
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 1; }));
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(ElasticPoolTest, AddedWorkersLeaveAfterALingerInWhichTheyWereNotNeeded) {
  ThreadPool& pool = Start(1, 4);
  pool.Post(blockers.Task());
  pool.Post(blockers.Task());
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 1; }));
  clock->Advance(absl::Milliseconds(20));
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 2; }));
  blockers.Release();
  ASSERT_TRUE(Eventually([&] { return pool.stats().idle == 2; }));

  clock->Advance(absl::Seconds(10));  // both were busy at the start of this window
  EXPECT_EQ(pool.stats().threads, 2u);
  clock->Advance(absl::Seconds(10));  // idle for the whole of this one
  EXPECT_TRUE(Eventually([&] { return pool.stats().threads == 1; }));
  EXPECT_EQ(clock->PendingTimers(), 0u);

  absl::Notification ran;  // the worker left is still a worker
  pool.Post([&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST_F(ElasticPoolTest, AGrownPoolRunsWhatIsQueuedBeforeItIsDestroyed) {
  std::atomic<int> count{0};
  Start(1, 4).Post(blockers.Task());
  for (int i = 0; i < 50; ++i) pool->Post([&] { ++count; });
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 1; }));
  clock->Advance(absl::Milliseconds(20));
  ASSERT_TRUE(Eventually([&] { return count == 50; }));
  blockers.Release();
  for (int i = 0; i < 50; ++i) pool->Post([&] { ++count; });
  pool.reset();
  EXPECT_EQ(count, 100);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

// The destructor runs what is queued. When the workers wait for a queued task, only a new worker
// can run it, so the stall watch goes on while the destructor waits.
TEST_F(ElasticPoolTest, ADestroyedPoolStillGrowsForTheTaskItsWorkersWaitFor) {
  Start(1, 3).Post(blockers.Task());
  pool->Post(blockers.Task());
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 1; }));
  clock->Advance(absl::Milliseconds(20));  // a second worker: the linger watch is armed
  ASSERT_TRUE(Eventually([&] { return blockers.running() == 2; }));
  pool->Post([this] { blockers.Release(); });  // what both workers wait for
  ASSERT_EQ(clock->PendingTimers(), 2u);       // linger and stall
  std::thread destroy([raw = pool.release()] { delete raw; });
  // The destructor has begun once it stopped the linger watch; the stall watch stays.
  const bool begun = Eventually([&] { return clock->PendingTimers() < 2; });
  const size_t pending = clock->PendingTimers();
  const bool ran = Eventually([&] {
    clock->Advance(absl::Milliseconds(20));
    return blockers.released();
  });
  blockers.Release();  // lets the destructor end if the watch did not
  destroy.join();
  EXPECT_TRUE(begun);
  EXPECT_EQ(pending, 1u);
  EXPECT_TRUE(ran);
}

TEST(SerialExecutorTest, AsyncRunsInSubmissionOrderOneAtATime) {
  auto pool = std::make_shared<ThreadPool>(4);
  SerialExecutor ex(pool);
  std::vector<int> order;
  std::atomic<int> running{0};
  std::atomic<bool> overlap{false};
  absl::Notification done;
  for (int i = 0; i < 200; ++i) {
    ex.Async([&, i] {
      if (running.fetch_add(1) != 0) overlap = true;
      order.push_back(i);
      running.fetch_sub(1);
      if (i == 199) done.Notify();
    });
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(overlap);
  ASSERT_EQ(order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
}

TEST(SerialExecutorTest, RunSyncWaitsForEarlierWorkAndRunsOnTheCaller) {
  auto pool = std::make_shared<ThreadPool>(2);
  SerialExecutor ex(pool);
  absl::Notification release;
  std::vector<std::string> order;
  ex.Async([&] {
    release.WaitForNotification();
    order.push_back("async");
  });
  std::thread::id ran_on;
  std::thread caller([&] {
    ex.RunSync([&] {
      ran_on = std::this_thread::get_id();
      order.push_back("sync");
    });
  });
  std::thread::id caller_id = caller.get_id();
  release.Notify();
  caller.join();
  EXPECT_EQ(ran_on, caller_id);
  EXPECT_THAT(order, ::testing::ElementsAre("async", "sync"));
}

TEST(SerialExecutorTest, MixedSyncAndAsyncNeverOverlap) {
  auto pool = std::make_shared<ThreadPool>(4);
  SerialExecutor ex(pool);
  std::atomic<int> running{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> ran{0};
  auto body = [&] {
    if (running.fetch_add(1) != 0) overlap = true;
    std::this_thread::yield();
    running.fetch_sub(1);
    ++ran;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (i % 2 == 0) {
          ex.RunSync(body);
        } else {
          ex.Async(body);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // Drain: a RunSync queued last runs after every earlier Async.
  ex.RunSync([] {});
  EXPECT_FALSE(overlap);
  EXPECT_EQ(ran, 400);
}

TEST(MultiExecutorTest, SerializesPerKeyAndDropsDrainedKeys) {
  auto pool = std::make_shared<ThreadPool>(4);
  MultiExecutor ex(pool);
  constexpr int kKeys = 8;
  std::atomic<int> running[kKeys] = {};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        int k = (t + i) % kKeys;
        ex.RunSync("key-" + std::to_string(k), [&, k] {
          if (running[k].fetch_add(1) != 0) overlap = true;
          std::this_thread::yield();
          running[k].fetch_sub(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap);
  EXPECT_EQ(ex.active_keys(), 0u);

  absl::Notification done;
  ex.Async("k", [&] { done.Notify(); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ex.RunSync("k", [] {});  // after the async one released its key
  EXPECT_EQ(ex.active_keys(), 0u);
}

TEST(CompletionTest, FirstSetWins) {
  auto c = Completion::Create();
  EXPECT_FALSE(c->done());
  EXPECT_FALSE(c->WaitFor(absl::Milliseconds(1)));
  c->Set(absl::NotFoundError("x"));
  c->Set(absl::OkStatus());
  EXPECT_TRUE(c->done());
  EXPECT_EQ(c->Wait().code(), absl::StatusCode::kNotFound);
}

// A fiber waiting for its turn parks: it holds neither its thread nor a worker (the pool's only
// worker runs other work meanwhile), and the thread that ends the turn before it resumes it.
TEST(SerialExecutorTest, AFiberWaitingForItsTurnHoldsNoThread) {
  const size_t alive = fiber::Alive();
  auto pool = std::make_shared<ThreadPool>(1);
  SerialExecutor ex(pool);
  auto hold = fiber::Event::Create();
  std::atomic<bool> first_done{false}, second_ran{false};
  fiber::Run([&] {
    ex.RunSync([&] { hold->Wait(); });  // parks inside its turn
    first_done = true;
  });
  fiber::Run([&] { ex.RunSync([&] { second_ran = true; }); });  // parks for its turn
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(fiber::Alive(), alive + 2);
  absl::Notification worker_free;
  pool->Post([&] { worker_free.Notify(); });
  EXPECT_TRUE(worker_free.WaitForNotificationWithTimeout(absl::Seconds(30)));
  hold->Signal();  // the first turn ends on this thread, which then runs the second
  EXPECT_TRUE(first_done);
  EXPECT_TRUE(second_ran);
  EXPECT_EQ(fiber::Alive(), alive);
}

TEST(CompletionTest, AFiberWaitingParksAndAWorkerResumesIt) {
  const size_t alive = fiber::Alive();
  auto c = Completion::Create();
  absl::Status seen;
  std::atomic<bool> done{false};
  fiber::Run([&] {
    seen = c->Wait();
    done = true;
  });
  EXPECT_FALSE(done) << "parked, not blocking this thread";
  c->Set(absl::AbortedError("x"));
  ASSERT_TRUE(Eventually([&] { return done.load() && fiber::Alive() == alive; }));
  EXPECT_EQ(seen.code(), absl::StatusCode::kAborted);
  fiber::Run([&] { seen = c->Wait(); });  // already done: no park
  EXPECT_EQ(fiber::Alive(), alive);
}

}  // namespace
}  // namespace nsm

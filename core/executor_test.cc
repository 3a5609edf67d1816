// Executors: serial order and exclusivity under concurrency, keyed executors cleaned up.
#include "core/executor.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
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

}  // namespace
}  // namespace nsm

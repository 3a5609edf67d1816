// Tests of the callback-thread limit (core/callback_threads.h) against this process's gRPC.
#include "core/callback_threads.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <set>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace nsm::callback_threads {
namespace {

TEST(CallbackThreadsTest, TheSettingIsACountFrom0To64) {
  EXPECT_EQ(*ParseSetting(nullptr), 1);
  EXPECT_EQ(*ParseSetting("0"), 0);
  EXPECT_EQ(*ParseSetting("64"), 64);
  for (const char* bad : {"-1", "65", "one", ""}) {
    auto parsed = ParseSetting(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string(kVariable) + "=\"" + bad + "\""),
              std::string::npos)
        << parsed.status().message();
  }
}

TEST(CallbackThreadsTest, KeepingNoThreadIsRefused) {
  auto limit = Limit::Apply(0, absl::Seconds(5));
  ASSERT_FALSE(limit.ok());
  EXPECT_EQ(limit.status().code(), absl::StatusCode::kInvalidArgument);
}

// The threads that run `n` callbacks of calls that fail at once.
std::set<pthread_t> CallbackThreads(int n) {
  auto stub = std::make_unique<grpc::GenericStub>(grpc::CreateChannel(
      "unix:/nonexistent/callback-threads-test", grpc::InsecureChannelCredentials()));
  absl::Mutex mu;
  std::set<pthread_t> threads;
  int done = 0;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1), response;
  for (int i = 0; i < n; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now());
    stub->UnaryCall(contexts.back().get(), "/test.Test/Call", grpc::StubOptions(), &request,
                    &response, [&](const grpc::Status&) {
                      absl::MutexLock lock(&mu);
                      threads.insert(pthread_self());
                      ++done;
                    });
  }
  absl::MutexLock lock(&mu);
  auto all_done = [&] {
    mu.AssertReaderHeld();
    return done == n;
  };
  mu.Await(absl::Condition(&all_done));
  return threads;
}

// With the limit, every callback runs on the one thread left; the pool's other threads are parked,
// and come back when the limit goes.
TEST(CallbackThreadsTest, AllButOneThreadAreParkedUntilTheLimitGoes) {
  {
    auto limit = Limit::Apply(1, absl::Seconds(10));
    ASSERT_TRUE(limit.ok()) << limit.status();
    const int pool = (*limit)->pool();
    ASSERT_GE(pool, 2) << "gRPC 1.51 runs at least two callback threads";
    EXPECT_EQ(pool, CountPoolThreads());
    EXPECT_EQ((*limit)->parked(), pool - 1);
    EXPECT_EQ(CallbackThreads(200).size(), 1u);
    EXPECT_NE(Describe(limit->get(), 1).find("1 of " + std::to_string(pool)), std::string::npos)
        << Describe(limit->get(), 1);
    // A second limit finds one thread left to park nothing with.
    auto again = Limit::Apply(1, absl::Seconds(10));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->parked(), 0);
  }  // released here; the destructor returns only when every parked thread is back
  // Keeping as many threads as the pool has parks nothing.
  auto all = Limit::Apply(64, absl::Seconds(10));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)->parked(), 0);
}

}  // namespace
}  // namespace nsm::callback_threads

// Admission of calls to a worker pool: priority order (Close, refresh, new Request), refusals at
// the limits with RESOURCE_EXHAUSTED, calls whose caller gave up while waiting (DESIGN.md §7).
#include "core/admission.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/fiber.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

::networkservice::NetworkServiceRequest WithPath(int segments, int index) {
  ::networkservice::NetworkServiceRequest r;
  auto* path = r.mutable_connection()->mutable_path();
  path->set_index(index);
  for (int i = 0; i < segments; ++i)
    path->add_path_segments()->set_name("hop-" + std::to_string(i));
  return r;
}

TEST(PriorityOfTest, APathEndingAtTheCallerIsANewRequest) {
  EXPECT_EQ(PriorityOf(WithPath(0, 0)), CallPriority::kRequest);
  EXPECT_EQ(PriorityOf(WithPath(1, 0)), CallPriority::kRequest);  // an NSC's first Request
  EXPECT_EQ(PriorityOf(WithPath(2, 1)), CallPriority::kRequest);  // an nsmgr's, at the forwarder
  EXPECT_EQ(PriorityOf(WithPath(2, 0)), CallPriority::kRefresh);  // a heal keeping the nsmgr
  EXPECT_EQ(PriorityOf(WithPath(4, 0)), CallPriority::kRefresh);  // an NSC's refresh
  EXPECT_EQ(PriorityOf(WithPath(4, 1)), CallPriority::kRefresh);  // the same, at the forwarder
  auto reselect = WithPath(2, 1);  // a heal's reselect as the nsmgr sends it to a forwarder
  reselect.mutable_connection()->set_state(::connection::State::RESELECT_REQUESTED);
  EXPECT_EQ(PriorityOf(reselect), CallPriority::kRefresh);
}

// One worker, or with fibers one running call, held by a first call until released; what runs
// is recorded in order. The same rules hold in both modes.
class AdmissionTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(admission_
                    .Submit(
                        CallPriority::kRequest, Context(),
                        [this] {
                          running_.Notify();
                          release_->Wait();  // a fiber parks, a worker blocks
                        },
                        [](const absl::Status&) {})
                    .ok());
    running_.WaitForNotification();
  }
  // Everything queued has run (one worker: FIFO; a fiber runs the queue before it ends) before
  // the fixture goes.
  void TearDown() override {
    Release();
    absl::Notification drained;
    pool_->Post([&] { drained.Notify(); });
    drained.WaitForNotification();
  }

  absl::Status Submit(CallPriority p, const std::string& name, Context ctx = Context()) {
    return admission_.Submit(
        p, std::move(ctx),
        [this, name] {
          absl::MutexLock lock(&mu_);
          ran_.push_back(name);
        },
        [this, name](const absl::Status& s) {
          absl::MutexLock lock(&mu_);
          skipped_.push_back(name + ": " + s.ToString());
        });
  }
  std::vector<std::string> Ran() {
    absl::MutexLock lock(&mu_);
    return ran_;
  }
  std::vector<std::string> Skipped() {
    absl::MutexLock lock(&mu_);
    return skipped_;
  }
  // With fibers, the held call goes on here, on the test's thread, and runs what waits.
  void Release() {
    if (!released_.exchange(true)) release_->Signal();
  }
  const char* WaitFor() const { return GetParam() ? "wait to start" : "wait for a worker"; }

  std::shared_ptr<ThreadPool> pool_ = std::make_shared<ThreadPool>(1);
  absl::Mutex mu_;
  std::atomic<int> gauge_{0};  // what on_queued reports
  std::vector<std::string> shed_ ABSL_GUARDED_BY(mu_);
  Admission admission_{pool_,
                       {.max_queued = 2,
                        .prioritize_from = 3,
                        .name = "nsmgr-1",
                        .fibers = GetParam(),
                        .max_running = 1,
                        .on_queued = [this](int delta) { gauge_ += delta; },
                        .on_shed =
                            [this](CallPriority p, bool refused) {
                              absl::MutexLock lock(&mu_);
                              shed_.push_back(absl::StrCat(CallPriorityName(p), " ",
                                                           refused ? "refused" : "expired"));
                            }}};
  absl::Notification running_;
  std::shared_ptr<fiber::Event> release_ = fiber::Event::Create();
  std::atomic<bool> released_{false};
  std::vector<std::string> ran_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> skipped_ ABSL_GUARDED_BY(mu_);
};

TEST_P(AdmissionTest, WithABacklogClosesRunFirstThenRefreshesThenNewRequests) {
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kRefresh, "refresh-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kClose, "close-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kRefresh, "refresh-2").ok());
  ASSERT_TRUE(Submit(CallPriority::kClose, "close-2").ok());
  EXPECT_EQ(admission_.queued(), 5u);
  Release();
  ASSERT_TRUE(Eventually([&] { return Ran().size() == 5; }));
  // 5, 4 and 3 waiting: by priority; then 2 and 1 waiting: in arrival order.
  EXPECT_THAT(Ran(), ElementsAre("close-1", "close-2", "refresh-1", "request-1", "refresh-2"));
  EXPECT_EQ(admission_.queued(), 0u);
}

// A call may wait in one class and be limited as another: it queues behind its class's earlier
// calls, but the limit it meets is the other class's (none for a Close).
TEST_P(AdmissionTest, ACallLimitedAsACloseIsNeverRefusedWhereverItWaits) {
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-2").ok());
  ASSERT_FALSE(Submit(CallPriority::kRequest, "request-3").ok()) << "2 wait: the limit";
  auto run = [this] {
    absl::MutexLock lock(&mu_);
    ran_.push_back("limited-as-close");
  };
  EXPECT_TRUE(admission_
                  .Submit(
                      CallPriority::kRequest, Context(), run, [](const absl::Status&) {},
                      CallPriority::kClose)
                  .ok());
  ASSERT_TRUE(Submit(CallPriority::kClose, "close-1").ok());
  Release();
  ASSERT_TRUE(Eventually([&] { return Ran().size() == 4; }));
  // 4 waiting: the Close first; then the rest of the Request class in arrival order.
  EXPECT_THAT(Ran(), ElementsAre("close-1", "request-1", "request-2", "limited-as-close"));
}

// inline_calls: each call runs at once on the submitting thread, even while the pool is busy;
// a call whose caller already gave up is answered without running.
TEST(AdmissionInlineTest, CallsRunAtOnceOnTheSubmittingThread) {
  absl::Notification release;  // outlives the pool, whose worker waits on it
  auto pool = std::make_shared<ThreadPool>(1);
  pool->Post([&] { release.WaitForNotification(); });
  Admission admission(pool, {.max_queued = 1, .inline_calls = true});
  std::vector<std::thread::id> ran;
  for (CallPriority p : {CallPriority::kRequest, CallPriority::kRequest, CallPriority::kClose}) {
    EXPECT_TRUE(admission
                    .Submit(
                        p, Context(), [&] { ran.push_back(std::this_thread::get_id()); },
                        [](const absl::Status&) {})
                    .ok());
  }
  EXPECT_EQ(ran, std::vector<std::thread::id>(3, std::this_thread::get_id()));
  EXPECT_EQ(admission.queued(), 0u);

  auto [ctx, cancel] = Context().WithCancel();
  cancel();
  absl::Status skipped;
  EXPECT_TRUE(admission
                  .Submit(
                      CallPriority::kRequest, ctx, [&] { ran.push_back({}); },
                      [&](const absl::Status& s) { skipped = s; })
                  .ok());
  EXPECT_EQ(skipped.code(), absl::StatusCode::kCancelled) << skipped;
  EXPECT_EQ(ran.size(), 3u);
  release.Notify();
}

TEST_P(AdmissionTest, WithoutABacklogCallsRunInArrivalOrder) {
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kClose, "close-1").ok());
  Release();
  ASSERT_TRUE(Eventually([&] { return Ran().size() == 2; }));
  EXPECT_THAT(Ran(), ElementsAre("request-1", "close-1"));
}

TEST_P(AdmissionTest, NewRequestsAreRefusedFirstRefreshesAtTwiceTheLimitClosesNever) {
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kRequest, "request-2").ok());
  absl::Status refused = Submit(CallPriority::kRequest, "request-3");  // 2 wait: the limit
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(),
            absl::StrCat("nsmgr-1: overloaded: 2 calls ", WaitFor(),
                         "; new Requests are refused until fewer than 2 wait (new Requests below "
                         "2, refreshes below 4, Closes always)"));
  ASSERT_TRUE(Submit(CallPriority::kRefresh, "refresh-1").ok());
  ASSERT_TRUE(Submit(CallPriority::kRefresh, "refresh-2").ok());
  refused = Submit(CallPriority::kRefresh, "refresh-3");  // 4 wait
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(
      refused.message(),
      HasSubstr(absl::StrCat("4 calls ", WaitFor(), "; refreshes are refused until fewer than 4")));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Submit(CallPriority::kClose, "close-" + std::to_string(i)).ok());
  }
  EXPECT_EQ(admission_.stats().refused_requests.load(), 1u);
  EXPECT_EQ(admission_.stats().refused_refreshes.load(), 1u);
  EXPECT_EQ(admission_.queued(), 14u);
  EXPECT_EQ(gauge_.load(), 14);
  {
    absl::MutexLock lock(&mu_);
    EXPECT_THAT(shed_, ElementsAre("request refused", "refresh refused"));
  }

  Release();
  ASSERT_TRUE(Eventually([&] { return Ran().size() == 14; }));
  // Once fewer wait, new Requests are accepted again.
  EXPECT_TRUE(Submit(CallPriority::kRequest, "request-4").ok());
}

TEST_P(AdmissionTest, ACallWhoseCallerGaveUpWhileWaitingIsNotRun) {
  auto clock = FakeClock::Create();
  auto [expiring, cancel_expiring] = Context::Background(clock).WithTimeout(absl::Seconds(1));
  auto [cancelled, cancel] = Context().WithCancel();
  ASSERT_TRUE(Submit(CallPriority::kRequest, "expiring", expiring).ok());
  ASSERT_TRUE(Submit(CallPriority::kClose, "cancelled", cancelled).ok());
  ASSERT_TRUE(Submit(CallPriority::kRefresh, "live").ok());
  clock->Advance(absl::Seconds(1));  // its deadline passes while it waits
  cancel();                          // its caller went away
  Release();
  ASSERT_TRUE(Eventually([&] { return Ran().size() + Skipped().size() == 3; }));
  EXPECT_THAT(Ran(), ElementsAre("live"));
  ASSERT_EQ(Skipped().size(), 2u);
  EXPECT_THAT(Skipped()[0], HasSubstr("cancelled: CANCELLED"));
  EXPECT_THAT(Skipped()[1], HasSubstr("expiring: DEADLINE_EXCEEDED"));
  EXPECT_EQ(admission_.stats().expired.load(), 2u);
  EXPECT_EQ(gauge_.load(), 0);
  {
    absl::MutexLock lock(&mu_);
    EXPECT_THAT(shed_, ElementsAre("close expired", "request expired"));
  }
  cancel_expiring();
}

INSTANTIATE_TEST_SUITE_P(PoolAndFibers, AdmissionTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Fibers" : "Pool"; });

// With fibers, calls start at once on the submitting thread while fewer than max_running run;
// a parked call counts, and the call that ends starts the next one due, on its own fiber.
TEST(AdmissionFiberTest, ParkedCallsCountAsRunningAndTheEndingOneStartsTheNext) {
  const size_t alive = fiber::Alive();
  Admission admission(std::make_shared<ThreadPool>(1), {.fibers = true, .max_running = 2});
  std::vector<std::shared_ptr<fiber::Event>> holds;
  std::vector<std::string> ran;  // on this thread only: each call starts or resumes here
  for (int i = 0; i < 3; ++i) {
    holds.push_back(fiber::Event::Create());
    ASSERT_TRUE(admission
                    .Submit(
                        CallPriority::kRequest, Context(),
                        [&, i] {
                          ran.push_back(absl::StrCat("start-", i));
                          holds[i]->Wait();
                          ran.push_back(absl::StrCat("end-", i));
                        },
                        [](const absl::Status&) {})
                    .ok());
  }
  EXPECT_THAT(ran, ElementsAre("start-0", "start-1"));
  EXPECT_EQ(admission.running(), 2u);
  EXPECT_EQ(admission.queued(), 1u);
  EXPECT_EQ(fiber::Alive(), alive + 2);
  holds[1]->Signal();  // call 1 ends; its fiber starts call 2, which parks
  EXPECT_THAT(ran, ElementsAre("start-0", "start-1", "end-1", "start-2"));
  EXPECT_EQ(admission.running(), 2u);
  EXPECT_EQ(admission.queued(), 0u);
  holds[0]->Signal();
  holds[2]->Signal();
  EXPECT_THAT(ran, ElementsAre("start-0", "start-1", "end-1", "start-2", "end-0", "end-2"));
  EXPECT_EQ(admission.running(), 0u);
  EXPECT_EQ(fiber::Alive(), alive);
}

TEST(AdmissionLimitTest, ZeroMeansNoLimit) {
  absl::Notification release;  // outlives the pool, which joins its worker
  auto pool = std::make_shared<ThreadPool>(1);
  Admission admission(pool, {.max_queued = 0});
  ASSERT_TRUE(admission
                  .Submit(
                      CallPriority::kRequest, Context(), [&] { release.WaitForNotification(); },
                      [](const absl::Status&) {})
                  .ok());
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(admission
                    .Submit(
                        CallPriority::kRequest, Context(), [] {}, [](const absl::Status&) {})
                    .ok());
  }
  release.Notify();
}

}  // namespace
}  // namespace nsm

// Tests of the metrics core: bounded labels, result names, NSM_METRICS_LISTEN_ON parsing and a
// real /metrics server on port 0 scraped over HTTP/1.0 (issue #8, docs/metrics.md).
#include "core/metrics/metrics.h"

#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/metrics/read.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"

namespace nsm::metrics {
namespace {

using ::testing::HasSubstr;

env::Value V(std::string value) { return {"NSM_METRICS_LISTEN_ON", std::move(value), true}; }

TEST(LabelCapTest, FirstValuesPassThenOther) {
  LabelCap cap(2);
  EXPECT_EQ(cap("a"), "a");
  EXPECT_EQ(cap("b"), "b");
  EXPECT_EQ(cap("c"), kOther);
  EXPECT_EQ(cap("a"), "a");
  EXPECT_EQ(cap.size(), 2u);
}

TEST(SeriesCacheTest, MakesASeriesOnceAndStaysBounded) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("t_total").Help("t").Register(registry);
  SeriesCache<std::string, prometheus::Counter> cache(1);
  int made = 0;
  auto get = [&](const std::string& v) -> prometheus::Counter& {
    return cache.Get(v, [&]() -> prometheus::Counter& {
      ++made;
      return family.Add({{"v", v}});
    });
  };
  prometheus::Counter& a = get("a");
  EXPECT_EQ(&get("a"), &a);
  EXPECT_EQ(made, 1);
  // Past the bound the series is made each time, and it is still the same one.
  prometheus::Counter& b = get("b");
  EXPECT_EQ(&get("b"), &b);
  EXPECT_EQ(made, 3);
  EXPECT_NE(&a, &b);
}

TEST(ResultLabelTest, OkOrCodeName) {
  EXPECT_EQ(ResultLabel(absl::OkStatus()), "ok");
  EXPECT_EQ(ResultLabel(absl::NotFoundError("x")), "NOT_FOUND");
  EXPECT_EQ(ResultLabel(absl::DeadlineExceededError("x")), "DEADLINE_EXCEEDED");
}

TEST(LatencyBucketsTest, From100MicrosecondsTo10Seconds) {
  EXPECT_DOUBLE_EQ(LatencyBuckets().front(), 0.0001);
  EXPECT_DOUBLE_EQ(LatencyBuckets().back(), 10);
}

TEST(ParseListenOnTest, AcceptedForms) {
  EXPECT_EQ(*ParseListenOn(V("")), "");
  EXPECT_EQ(*ParseListenOn(V("127.0.0.1:9090")), "127.0.0.1:9090");
  EXPECT_EQ(*ParseListenOn(V("tcp://127.0.0.1:9090")), "127.0.0.1:9090");
  EXPECT_EQ(*ParseListenOn(V(":9090")), "0.0.0.0:9090");
  EXPECT_EQ(*ParseListenOn(V("localhost:0")), "127.0.0.1:0");
  EXPECT_EQ(*ParseListenOn(V("[::1]:9090")), "[::1]:9090");
}

TEST(ParseListenOnTest, RejectedFormsNameTheVariable) {
  for (const char* bad : {"9090", "unix:///tmp/m.sock", "127.0.0.1", "127.0.0.1:99999",
                          "metrics.example:9090", "http://127.0.0.1:9090"}) {
    auto r = ParseListenOn(V(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(),
                HasSubstr(absl::StrCat("NSM_METRICS_LISTEN_ON=\"", bad, "\" is invalid")));
  }
}

TEST(HttpServerTest, ServesTheRegistryOnAChosenPort) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family =
      prometheus::BuildCounter().Name("nsm_test_total").Help("a test counter").Register(*registry);
  family.Add({{"network_service", "ns-1"}}).Increment(3);
  auto server = HttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), absl::StrCat("127.0.0.1:", (*server)->port()));

  auto page = HttpGet((*server)->address());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, HasSubstr("# TYPE nsm_test_total counter"));
  EXPECT_EQ(ValueInText(*page, "nsm_test_total", {{"network_service", "ns-1"}}), 3);
  EXPECT_EQ(ValueOf(*registry, "nsm_test_total", {{"network_service", "ns-1"}}), 3);
  EXPECT_EQ(ValueOf(*registry, "nsm_test_total", {{"network_service", "ns-2"}}), std::nullopt);
}

TEST(HttpServerTest, BusyPortIsUnavailable) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto first = HttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = HttpServer::Start((*first)->address(), registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address()));
}

TEST(StartFromConfigTest, EmptyIsOffWithARegistry) {
  auto m = StartFromConfig("", "test");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->enabled());
  EXPECT_NE(m->registry, nullptr);
}

TEST(PoolCollectorTest, ReportsWorkersQueueAndGrowth) {
  auto clock = FakeClock::Create();
  absl::Notification release;
  auto pool = std::make_shared<ThreadPool>(ThreadPool::Options{
      .threads = 1, .max_threads = 2, .stall = absl::Milliseconds(20), .clock = clock});
  struct Releaser {  // however the test ends, before the pool waits for its tasks
    absl::Notification& release;
    ~Releaser() {
      if (!release.HasBeenNotified()) release.Notify();
    }
  } releaser{release};
  pool->Post([&] { release.WaitForNotification(); });
  pool->Post([&] { release.WaitForNotification(); });
  pool->Post([] {});
  const Labels kChains = {{"pool", "chains"}};
  PoolCollector collector;
  collector.Add("chains", pool);
  ASSERT_TRUE(
      Eventually([&] { return ValueOf(collector, "nsm_pool_queued_tasks", kChains) == 2; }));
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads", kChains), 1);
  EXPECT_EQ(ValueOf(collector, "nsm_pool_idle_threads", kChains), 0);
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads_added_total", kChains), 0);

  clock->Advance(absl::Milliseconds(20));  // the only worker is blocked: one more
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads", kChains), 2);
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads_added_total", kChains), 1);
  release.Notify();
  EXPECT_TRUE(
      Eventually([&] { return ValueOf(collector, "nsm_pool_queued_tasks", kChains) == 0; }));
  EXPECT_TRUE(
      Eventually([&] { return ValueOf(collector, "nsm_pool_idle_threads", kChains) == 2; }));
}

TEST(HttpServerTest, ServesThePoolNextToTheRegistry) {
  auto m = StartFromConfig("127.0.0.1:0", "test");
  ASSERT_TRUE(m.ok()) << m.status();
  auto page = HttpGet(m->server->address());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, HasSubstr("# TYPE nsm_pool_threads_added_total counter"));
  EXPECT_GE(ValueInText(*page, "nsm_pool_threads", {{"pool", "process"}}).value_or(0), 4);
}

TEST(PoolCollectorTest, ReportsEveryPoolUnderItsName) {
  PoolCollector collector;
  EXPECT_TRUE(collector.Collect().empty());
  collector.Add("process", std::make_shared<ThreadPool>(2));
  collector.Add("registry", std::make_shared<ThreadPool>(3));
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads", {{"pool", "process"}}), 2);
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads", {{"pool", "registry"}}), 3);
  EXPECT_EQ(ValueOf(collector, "nsm_pool_threads_added_total", {{"pool", "registry"}}), 0);
  EXPECT_EQ(collector.Collect().size(), 4u);  // one family per series, one sample per pool
}

}  // namespace
}  // namespace nsm::metrics

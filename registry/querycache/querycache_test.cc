// querycache with the FakeClock over an in-process store: misses go to the registry, lookups by
// name then come from the cache, kept fresh by watches (updates, deletions), and expire after the
// timeout without use.
#include "registry/querycache/querycache.h"

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"

namespace nsm::reg::querycache {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

// Counts the non-watch Finds that reach the registry.
class Counter : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    return next.Register(ctx, nse);
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    if (!q.watch()) {
      ++finds;
    } else {
      absl::MutexLock lock(&mu);
      watches.push_back(s);
    }
    return next.Find(ctx, q, s);
  }
  // As registry/heal does when it opened a broken watch again.
  void ReopenWatches() {
    std::vector<Stream> open;
    {
      absl::MutexLock lock(&mu);
      open = watches;
    }
    for (auto& s : open) s->Reopened();
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    return next.Unregister(ctx, nse);
  }
  std::atomic<int> finds{0};
  absl::Mutex mu;
  std::vector<Stream> watches ABSL_GUARDED_BY(mu);
};

class QueryCacheTest : public ::testing::Test {
 protected:
  QueryCacheTest() {
    auto registry = std::make_shared<NSERegistryServerChain>(
        NSERegistryServerChain::Elements{counter_, store_});
    chain_ = std::make_shared<NSERegistryClientChain>(NSERegistryClientChain::Elements{
        cache_, std::make_shared<RegistryServerToClient<NSETraits>>(registry)});
  }
  void Store(const std::string& name, const std::string& url) {
    NSE nse;
    nse.set_name(name);
    nse.set_url(url);
    ASSERT_TRUE(store_->Register(ctx_, nse, {}).ok());
  }
  std::vector<std::string> Urls(const std::string& name) {
    NSEQuery q;
    q.mutable_network_service_endpoint()->set_name(name);
    auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
    EXPECT_TRUE(chain_->Find(ctx_, q, s).ok());
    std::vector<std::string> urls;
    for (const auto& r : s->Drain()) urls.push_back(r.network_service_endpoint().url());
    return urls;
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<Counter> counter_ = std::make_shared<Counter>();
  std::shared_ptr<memory::NSEServer> store_ = memory::NewNSEServer();
  std::shared_ptr<NSEClient> cache_ = NewNSEClient(ctx_);
  std::shared_ptr<NSERegistryClientChain> chain_;
};

TEST_F(QueryCacheTest, SecondLookupByNameComesFromTheCache) {
  Store("a", "tcp://1.1.1.1:1");
  EXPECT_EQ(Urls("a"), std::vector<std::string>{"tcp://1.1.1.1:1"});
  EXPECT_EQ(Urls("a"), std::vector<std::string>{"tcp://1.1.1.1:1"});
  EXPECT_EQ(counter_->finds.load(), 1);
  EXPECT_EQ(cache_->size(), 1u);
  EXPECT_EQ(store_->watchers(), 1u) << "one watch keeps the entry fresh";
}

TEST_F(QueryCacheTest, UpdatesReachTheCache) {
  Store("a", "tcp://1.1.1.1:1");
  Urls("a");
  Store("a", "tcp://2.2.2.2:2");
  EXPECT_EQ(Urls("a"), std::vector<std::string>{"tcp://2.2.2.2:2"});
  EXPECT_EQ(counter_->finds.load(), 1);
}

TEST_F(QueryCacheTest, DeletionDropsTheEntry) {
  Store("a", "tcp://1.1.1.1:1");
  Urls("a");
  NSE nse;
  nse.set_name("a");
  ASSERT_TRUE(store_->Unregister(ctx_, nse, {}).ok());
  EXPECT_EQ(cache_->size(), 0u);
  EXPECT_TRUE(Urls("a").empty());
  EXPECT_EQ(counter_->finds.load(), 2);
}

// A deletion during a break of the watch was never sent: a reopened watch drops the entry.
TEST_F(QueryCacheTest, AReopenedWatchDropsTheEntry) {
  Store("a", "tcp://1.1.1.1:1");
  Urls("a");
  EXPECT_EQ(cache_->size(), 1u);
  counter_->ReopenWatches();
  EXPECT_EQ(cache_->size(), 0u);
  Urls("a");
  EXPECT_EQ(counter_->finds.load(), 2) << "the next lookup goes to the registry again";
}

TEST_F(QueryCacheTest, EntriesExpireWhenUnused) {
  Store("a", "tcp://1.1.1.1:1");
  Urls("a");
  clock_->Advance(absl::Seconds(40));
  Urls("a");  // a hit extends the entry to 100 s
  EXPECT_EQ(counter_->finds.load(), 1);
  clock_->Advance(absl::Seconds(40));  // 80 s: the sweep at 60 s kept it
  Urls("a");
  EXPECT_EQ(counter_->finds.load(), 1);
  clock_->Advance(absl::Seconds(100));  // 180 s: swept at 120 or 180 s
  EXPECT_EQ(cache_->size(), 0u);
  Urls("a");
  EXPECT_EQ(counter_->finds.load(), 2);
}

TEST_F(QueryCacheTest, BroadQueriesPopulateByName) {
  Store("a", "tcp://1.1.1.1:1");
  Store("b", "tcp://2.2.2.2:2");
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(chain_->Find(ctx_, NSEQuery(), s).ok());
  EXPECT_EQ(s->Drain().size(), 2u);
  EXPECT_EQ(Urls("b"), std::vector<std::string>{"tcp://2.2.2.2:2"});
  EXPECT_EQ(counter_->finds.load(), 1);
}

TEST_F(QueryCacheTest, WatchesPassThrough) {
  NSEQuery q;
  q.set_watch(true);
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(chain_->Find(ctx_, q, s).ok());
  Store("a", "tcp://1.1.1.1:1");
  EXPECT_EQ(s->Drain().size(), 1u);
  EXPECT_EQ(cache_->size(), 0u);
}

}  // namespace
}  // namespace nsm::reg::querycache

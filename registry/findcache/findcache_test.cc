// findcache with the FakeClock over an in-process store: repeated queries come from the cache,
// the watch applies changes made elsewhere, registrations through the cache are seen at once,
// and entries end with their watch, when idle, at max_age and with the cache.
#include "registry/findcache/findcache.h"

#include <atomic>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"

namespace nsm::reg::findcache {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

// Counts the non-watch Finds that pass, and can end the open watches as a broken stream would.
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
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    return next.Unregister(ctx, nse);
  }
  void BreakWatches() {
    std::vector<Stream> open;
    {
      absl::MutexLock lock(&mu);
      open.swap(watches);
    }
    for (auto& s : open) s->Finish(absl::UnavailableError("registry went away"));
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
  std::atomic<int> finds{0};
  absl::Mutex mu;
  std::vector<Stream> watches ABSL_GUARDED_BY(mu);
};

class FindCacheTest : public ::testing::Test {
 protected:
  FindCacheTest() { Build({}); }
  void Build(Options options) {
    cache_ = NewNSEServer(clock_, options);
    chain_ = std::make_shared<NSERegistryServerChain>(
        NSERegistryServerChain::Elements{cache_, counter_, store_});
  }
  static NSE Make(const std::string& name, const std::string& service, const std::string& url) {
    NSE nse;
    nse.set_name(name);
    nse.add_network_service_names(service);
    nse.set_url(url);
    return nse;
  }
  // Registered behind the cache's back: only the watch tells it.
  void StoreDirectly(const NSE& nse) {
    NSE copy = nse;
    ASSERT_TRUE(store_->Register(ctx_, copy, {}).ok());
  }
  std::vector<std::string> Find(const std::string& service) {
    NSEQuery q;
    q.mutable_network_service_endpoint()->add_network_service_names(service);
    auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
    EXPECT_TRUE(chain_->Find(ctx_, q, s).ok());
    std::vector<std::string> names;
    for (const auto& r : s->Drain()) names.push_back(r.network_service_endpoint().name());
    return names;
  }
  using Names = std::vector<std::string>;
  // The store forgets a cancelled watcher on its pool: wait (bounded, real time) for that.
  size_t WatchersSettled(size_t want) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (store_->watchers() != want && absl::Now() < give_up)
      absl::SleepFor(absl::Milliseconds(1));
    return store_->watchers();
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<Counter> counter_ = std::make_shared<Counter>();
  std::shared_ptr<memory::NSEServer> store_ = memory::NewNSEServer();
  std::shared_ptr<NSEServer> cache_;
  std::shared_ptr<NSERegistryServerChain> chain_;
};

TEST_F(FindCacheTest, RepeatedQueryIsAnsweredFromTheCache) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  StoreDirectly(Make("b", "svc", "tcp://2.2.2.2:2"));
  EXPECT_EQ(Find("svc"), (Names{"a", "b"}));
  EXPECT_EQ(Find("svc"), (Names{"a", "b"}));
  EXPECT_EQ(Find("svc"), (Names{"a", "b"}));
  EXPECT_EQ(counter_->finds.load(), 1);
  EXPECT_EQ(cache_->hits(), 2u);
  EXPECT_EQ(cache_->size(), 1u);
  EXPECT_EQ(store_->watchers(), 1u) << "one watch per cached query";
}

// Zero or negative lifetimes would spin the sweep timer: they turn the cache off instead.
TEST_F(FindCacheTest, NonPositiveLifetimesTurnCachingOff) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  for (Options options : {Options{.idle_timeout = absl::ZeroDuration()},
                          Options{.max_age = -absl::Seconds(1)}, Options{.max_entries = 0}}) {
    cache_.reset();
    chain_.reset();
    const int before = counter_->finds.load();
    Build(options);
    EXPECT_EQ(clock_->PendingTimers(), 0u);
    EXPECT_EQ(Find("svc"), Names{"a"});
    EXPECT_EQ(Find("svc"), Names{"a"});
    EXPECT_EQ(counter_->finds.load() - before, 2) << "both Finds went to the registry";
    EXPECT_EQ(cache_->size(), 0u);
    EXPECT_EQ(cache_->hits(), 0u);
    EXPECT_EQ(store_->watchers(), 0u);
  }
}

TEST_F(FindCacheTest, DistinctQueriesHaveTheirOwnEntries) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  StoreDirectly(Make("b", "other", "tcp://2.2.2.2:2"));
  EXPECT_EQ(Find("svc"), (Names{"a"}));
  EXPECT_EQ(Find("other"), (Names{"b"}));
  EXPECT_EQ(Find("other"), (Names{"b"}));
  EXPECT_EQ(counter_->finds.load(), 2);
  EXPECT_EQ(cache_->size(), 2u);
}

TEST_F(FindCacheTest, TheWatchAppliesChangesMadeElsewhere) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  Find("svc");
  StoreDirectly(Make("b", "svc", "tcp://2.2.2.2:2"));
  StoreDirectly(Make("a", "svc", "tcp://3.3.3.3:3"));
  NSE gone = Make("b", "svc", "");
  ASSERT_TRUE(store_->Unregister(ctx_, gone, {}).ok());

  NSEQuery q;
  q.mutable_network_service_endpoint()->add_network_service_names("svc");
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(chain_->Find(ctx_, q, s).ok());
  auto results = s->Drain();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].network_service_endpoint().url(), "tcp://3.3.3.3:3");
  EXPECT_EQ(counter_->finds.load(), 1);
}

TEST_F(FindCacheTest, RegistrationsThroughTheCacheAreSeenAtOnce) {
  Find("svc");  // an empty entry
  NSE a = Make("a", "svc", "tcp://1.1.1.1:1");
  NSE unrelated = Make("u", "other", "tcp://9.9.9.9:9");
  ASSERT_TRUE(chain_->Register(ctx_, a).ok());
  ASSERT_TRUE(chain_->Register(ctx_, unrelated).ok());
  EXPECT_EQ(Find("svc"), (Names{"a"}));
  ASSERT_TRUE(chain_->Unregister(ctx_, a).ok());
  EXPECT_TRUE(Find("svc").empty());
  EXPECT_EQ(counter_->finds.load(), 1);
}

TEST_F(FindCacheTest, ExpiredEndpointsAreLeftOut) {
  NSE a = Make("a", "svc", "tcp://1.1.1.1:1");
  *a.mutable_expiration_time() = api::ToProtoTimestamp(clock_->Now() + absl::Seconds(10));
  StoreDirectly(a);
  StoreDirectly(Make("b", "svc", "tcp://2.2.2.2:2"));
  EXPECT_EQ(Find("svc"), (Names{"a", "b"}));
  clock_->Advance(absl::Seconds(11));
  EXPECT_EQ(Find("svc"), (Names{"b"}));
  EXPECT_EQ(counter_->finds.load(), 1);
}

TEST_F(FindCacheTest, AnEndedWatchDropsTheEntry) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  Find("svc");
  counter_->BreakWatches();
  EXPECT_EQ(cache_->size(), 0u);
  Find("svc");
  EXPECT_EQ(counter_->finds.load(), 2) << "the next query goes to the registry again";
}

// Deletions during a break of the watch were never sent (a forwarder's watch through its
// registry heal client, after an nsmgr restart): a reopened watch drops the entry.
TEST_F(FindCacheTest, AReopenedWatchDropsTheEntry) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  Find("svc");
  EXPECT_EQ(cache_->size(), 1u);
  counter_->ReopenWatches();
  EXPECT_EQ(cache_->size(), 0u);
  Find("svc");
  EXPECT_EQ(counter_->finds.load(), 2) << "the next query goes to the registry again";
}

TEST_F(FindCacheTest, OldEntriesAreDroppedWithTheirWatch) {
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  Find("svc");
  clock_->Advance(absl::Seconds(30));
  Find("svc");
  EXPECT_EQ(counter_->finds.load(), 1);
  // The sweep at 60 s: 30 s since the last hit, but created 60 s ago (max_age).
  clock_->Advance(absl::Seconds(31));
  EXPECT_EQ(cache_->size(), 0u) << "max_age (60 s) reached";
  EXPECT_EQ(WatchersSettled(0), 0u);
}

TEST_F(FindCacheTest, IdleEntriesAreDroppedWithTheirWatch) {
  Build({.idle_timeout = absl::Seconds(10), .max_age = absl::Hours(1)});
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  Find("svc");
  clock_->Advance(absl::Seconds(9));
  Find("svc");  // a hit: idle again from here
  clock_->Advance(absl::Seconds(9));
  EXPECT_EQ(cache_->size(), 1u);
  EXPECT_EQ(counter_->finds.load(), 1);
  clock_->Advance(absl::Seconds(11));  // 11 s without a hit: swept
  EXPECT_EQ(cache_->size(), 0u);
  EXPECT_EQ(WatchersSettled(0), 0u);
}

TEST_F(FindCacheTest, MaxAgeRebuildsEvenAHotEntry) {
  Build({.idle_timeout = absl::Minutes(10), .max_age = absl::Seconds(20)});
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  for (int i = 0; i < 5; ++i) {
    Find("svc");
    clock_->Advance(absl::Seconds(9));
  }
  // Finds at 0, 9, 18 s from the first entry; at 27 s it is too old: a second entry, then 36 s.
  EXPECT_EQ(counter_->finds.load(), 2);
  EXPECT_EQ(WatchersSettled(1), 1u) << "the old entry's watch ended";
}

TEST_F(FindCacheTest, BeyondMaxEntriesQueriesPassThrough) {
  Build({.max_entries = 1});
  Find("svc");
  Find("other");
  Find("other");
  EXPECT_EQ(cache_->size(), 1u);
  EXPECT_EQ(counter_->finds.load(), 3);
}

TEST_F(FindCacheTest, WatchQueriesPassThrough) {
  NSEQuery q;
  q.set_watch(true);
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(chain_->Find(ctx_, q, s).ok());
  StoreDirectly(Make("a", "svc", "tcp://1.1.1.1:1"));
  EXPECT_EQ(s->Drain().size(), 1u);
  EXPECT_EQ(cache_->size(), 0u);
  s->Finish(absl::OkStatus());
}

TEST_F(FindCacheTest, AFailedFindIsNotCached) {
  class Failing : public NSERegistryServer {
   public:
    absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&) override { return nse; }
    absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
      return absl::UnavailableError("registry at tcp://10.0.0.1:5002 is unreachable");
    }
    absl::Status Unregister(const Context&, NSE&, const Next&) override { return absl::OkStatus(); }
  };
  chain_ = std::make_shared<NSERegistryServerChain>(
      NSERegistryServerChain::Elements{cache_, std::make_shared<Failing>()});
  NSEQuery q;
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  auto status = chain_->Find(ctx_, q, s);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache_->size(), 0u);
}

TEST_F(FindCacheTest, DestroyingTheCacheEndsItsWatches) {
  Find("svc");
  Find("other");
  EXPECT_EQ(store_->watchers(), 2u);
  chain_.reset();
  cache_.reset();
  EXPECT_EQ(WatchersSettled(0), 0u);
}

TEST(FindCacheNSTest, NetworkServicesAreCachedToo) {
  auto clock = FakeClock::Create();
  Context ctx = Context::Background(clock);
  auto store = memory::NewNSServer();
  auto cache = NewNSServer(clock);
  auto chain =
      std::make_shared<NSRegistryServerChain>(NSRegistryServerChain::Elements{cache, store});
  ::registry::NetworkService ns;
  ns.set_name("svc");
  ns.set_payload("ETHERNET");
  ASSERT_TRUE(store->Register(ctx, ns, {}).ok());
  ::registry::NetworkServiceQuery q;
  q.mutable_network_service()->set_name("svc");
  for (int i = 0; i < 2; ++i) {
    auto s = BufferedFindStream<::registry::NetworkServiceResponse>::Create(ctx);
    ASSERT_TRUE(chain->Find(ctx, q, s).ok());
    auto results = s->Drain();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].network_service().payload(), "ETHERNET");
  }
  EXPECT_EQ(cache->hits(), 1u);
}

}  // namespace
}  // namespace nsm::reg::findcache

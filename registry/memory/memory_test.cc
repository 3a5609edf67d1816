// The memory store: exact Find, registration order, watch = snapshot then changes in store order,
// deleted events for NSE and NS, watcher clean-up on cancel and on failed Send.
#include "registry/memory/memory.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace nsm::reg::memory {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using NSQuery = ::registry::NetworkServiceQuery;
using NSResponse = ::registry::NetworkServiceResponse;

NSE Endpoint(const std::string& name, const std::string& url = "tcp://10.0.0.1:5001",
             const std::string& service = "ns-1") {
  NSE nse;
  nse.set_name(name);
  nse.set_url(url);
  nse.add_network_service_names(service);
  return nse;
}

NSEQuery Query(const std::string& name = "", bool watch = false) {
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name(name);
  q.set_watch(watch);
  return q;
}

std::vector<std::string> Names(const std::vector<NSEResponse>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) {
    out.push_back((r.deleted() ? "-" : "") + r.network_service_endpoint().name());
  }
  return out;
}

// Fails every call; placed after memory to check nothing is stored when next fails.
class FailingNSE : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context&, NSE&, const Next&) override {
    return absl::UnavailableError("down");
  }
  absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
    return absl::UnavailableError("down");
  }
  absl::Status Unregister(const Context&, NSE&, const Next&) override {
    return absl::UnavailableError("down");
  }
};

class MemoryTest : public ::testing::Test {
 protected:
  void Register(const NSE& nse) {
    NSE copy = nse;
    ASSERT_TRUE(store_->Register(ctx_, copy, {}).ok());
  }
  void Unregister(const std::string& name) {
    NSE nse;
    nse.set_name(name);
    ASSERT_TRUE(store_->Unregister(ctx_, nse, {}).ok());
  }
  std::vector<std::string> Find(const NSEQuery& q) {
    auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
    EXPECT_TRUE(store_->Find(ctx_, q, s, {}).ok());
    return Names(s->Drain());
  }

  Context ctx_;
  std::shared_ptr<ThreadPool> pool_ = std::make_shared<ThreadPool>(1);
  std::shared_ptr<NSEServer> store_ = NewNSEServer(Options{.pool = pool_});
};

TEST_F(MemoryTest, FindMatchesNamesExactly) {
  Register(Endpoint("nse-1"));
  Register(Endpoint("nse-10"));
  EXPECT_EQ(Find(Query("nse-1")), (std::vector<std::string>{"nse-1"}));
  EXPECT_EQ(Find(Query("nse")), (std::vector<std::string>{}));
  EXPECT_EQ(Find(Query()), (std::vector<std::string>{"nse-1", "nse-10"}));
}

TEST_F(MemoryTest, SubstringMatchingIsAnOption) {
  auto store = NewNSEServer(Options{.match = {.substring_names = true}});
  NSE a = Endpoint("nse-1"), b = Endpoint("nse-10");
  ASSERT_TRUE(store->Register(ctx_, a, {}).ok());
  ASSERT_TRUE(store->Register(ctx_, b, {}).ok());
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store->Find(ctx_, Query("nse-1"), s, {}).ok());
  EXPECT_EQ(Names(s->Drain()), (std::vector<std::string>{"nse-1", "nse-10"}));
}

TEST_F(MemoryTest, ReRegistrationReplacesInPlace) {
  Register(Endpoint("a", "tcp://1.1.1.1:1"));
  Register(Endpoint("b"));
  Register(Endpoint("a", "tcp://2.2.2.2:2"));
  EXPECT_EQ(Find(Query()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(store_->Get("a")->url(), "tcp://2.2.2.2:2");
  EXPECT_EQ(store_->size(), 2u);
}

// MaybeContains never waits for the store: while a watcher is being written to (under the
// store's lock) it answers true, "maybe stored".
TEST_F(MemoryTest, MaybeContainsAnswersWithoutWaitingForTheStore) {
  class Blocking : public FindStream<NSEResponse> {  // holds the store in its second Send
   public:
    const Context& context() const override { return ctx; }
    absl::Status Send(const NSEResponse&) override {
      if (++sends == 2) {
        sending.Notify();
        release.WaitForNotification();
      }
      return absl::OkStatus();
    }
    void Finish(absl::Status) override {}
    Context ctx;
    int sends = 0;  // Sends are serialized by the store
    absl::Notification sending, release;
  };
  Register(Endpoint("stored"));
  EXPECT_TRUE(store_->MaybeContains("stored"));
  EXPECT_FALSE(store_->MaybeContains("absent"));

  auto watcher = std::make_shared<Blocking>();
  ASSERT_TRUE(store_->Find(ctx_, Query("", /*watch=*/true), watcher, {}).ok());  // sends "stored"
  std::thread changing([&] { Register(Endpoint("other")); });  // the second Send, under the lock
  watcher->sending.WaitForNotification();
  EXPECT_TRUE(store_->MaybeContains("absent")) << "busy: maybe";
  watcher->release.Notify();
  changing.join();
  EXPECT_FALSE(store_->MaybeContains("absent"));
  EXPECT_TRUE(store_->MaybeContains("other"));
}

TEST_F(MemoryTest, FindBySeveralFields) {
  Register(Endpoint("a", "tcp://1.1.1.1:1", "ns-1"));
  Register(Endpoint("b", "tcp://2.2.2.2:2", "ns-2"));
  NSEQuery q;
  q.mutable_network_service_endpoint()->add_network_service_names("ns-2");
  EXPECT_EQ(Find(q), (std::vector<std::string>{"b"}));
  q = NSEQuery();
  q.mutable_network_service_endpoint()->set_url("1.1.1.1");
  EXPECT_EQ(Find(q), (std::vector<std::string>{"a"}));
}

TEST_F(MemoryTest, WatchSendsSnapshotThenChangesInOrder) {
  Register(Endpoint("a"));
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("", true), s, {}).ok());
  Register(Endpoint("b"));
  Register(Endpoint("a", "tcp://9.9.9.9:9"));
  Unregister("b");
  Unregister("never-registered");
  auto got = s->Drain();
  EXPECT_EQ(Names(got), (std::vector<std::string>{"a", "b", "a", "-b"}));
  EXPECT_EQ(got[2].network_service_endpoint().url(), "tcp://9.9.9.9:9");
  EXPECT_EQ(got[3].network_service_endpoint().url(), "tcp://10.0.0.1:5001")
      << "a deletion carries the last stored copy";
  EXPECT_FALSE(s->finished()) << "a watch stays open";
}

TEST_F(MemoryTest, WatchByNameSeesOnlyThatName) {
  auto by_name = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("a", true), by_name, {}).ok());
  NSEQuery by_service = Query("", true);
  by_service.mutable_network_service_endpoint()->add_network_service_names("ns-2");
  auto by_svc = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, by_service, by_svc, {}).ok());
  Register(Endpoint("a", "tcp://1.1.1.1:1", "ns-1"));
  Register(Endpoint("ab", "tcp://1.1.1.1:1", "ns-2"));
  Unregister("ab");
  Unregister("a");
  EXPECT_EQ(Names(by_name->Drain()), (std::vector<std::string>{"a", "-a"}));
  EXPECT_EQ(Names(by_svc->Drain()), (std::vector<std::string>{"ab", "-ab"}));
}

TEST_F(MemoryTest, NetworkServiceUnregisterTellsWatchers) {
  auto store = NewNSServer();
  NSQuery q;
  q.set_watch(true);
  auto s = BufferedFindStream<NSResponse>::Create(ctx_);
  ASSERT_TRUE(store->Find(ctx_, q, s, {}).ok());
  NS ns;
  ns.set_name("ns-1");
  ns.set_payload("IP");
  ASSERT_TRUE(store->Register(ctx_, ns, {}).ok());
  ASSERT_TRUE(store->Unregister(ctx_, ns, {}).ok());
  auto got = s->Drain();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].deleted());
  EXPECT_TRUE(got[1].deleted());
  EXPECT_EQ(got[1].network_service().payload(), "IP");
  EXPECT_EQ(store->size(), 0u);
}

TEST_F(MemoryTest, NothingStoredWhenNextFails) {
  auto chain = std::make_shared<NSERegistryServerChain>(
      NSERegistryServerChain::Elements{store_, std::make_shared<FailingNSE>()});
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("", true), s, {}).ok());
  NSE nse = Endpoint("a");
  EXPECT_EQ(chain->Register(ctx_, nse).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_TRUE(s->Drain().empty());
}

TEST_F(MemoryTest, CancelledWatcherIsRemoved) {
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("a", true), s, {}).ok());
  auto t = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("", true), t, {}).ok());
  EXPECT_EQ(store_->watchers(), 2u);
  s->Cancel();
  t->Cancel();
  // The clean-up runs on the store's one-thread pool: a task queued after it is a barrier.
  auto barrier = Completion::Create();
  pool_->Post([barrier] { barrier->Set(absl::OkStatus()); });
  ASSERT_TRUE(barrier->Wait().ok());
  EXPECT_EQ(store_->watchers(), 0u);
}

TEST_F(MemoryTest, WatcherWhoseSendFailsIsDropped) {
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("", true), s, {}).ok());
  s->Finish(absl::OkStatus());  // later Sends fail
  Register(Endpoint("a"));
  EXPECT_EQ(store_->watchers(), 0u);
}

TEST_F(MemoryTest, DestroyingTheStoreEndsWatches) {
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(store_->Find(ctx_, Query("", true), s, {}).ok());
  store_.reset();
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->final_status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(MemoryTest, FindCallsNextAfterLocalResults) {
  Register(Endpoint("a"));
  auto chain = std::make_shared<NSERegistryServerChain>(
      NSERegistryServerChain::Elements{store_, std::make_shared<FailingNSE>()});
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  EXPECT_EQ(chain->Find(ctx_, Query(), s).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Names(s->Drain()), (std::vector<std::string>{"a"}));
  auto w = BufferedFindStream<NSEResponse>::Create(ctx_);
  EXPECT_EQ(chain->Find(ctx_, Query("", true), w).code(), absl::StatusCode::kUnavailable)
      << "watch: next first, its error ends the Find before the snapshot";
  EXPECT_TRUE(w->Drain().empty());
  EXPECT_EQ(store_->watchers(), 0u);
}

}  // namespace
}  // namespace nsm::reg::memory

// serialize: one call per name at a time, different names in parallel, the executor in the
// context, and a caller that gave up while waiting never reaches the chain.
#include "registry/serialize/serialize.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace nsm::reg::serialize {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;

// Records concurrency per call and can block calls for one name.
class Probe : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    Enter(ctx, nse);
    auto r = next.Register(ctx, nse);
    --inside;
    return r;
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    return next.Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    Enter(ctx, nse);
    auto r = next.Unregister(ctx, nse);
    --inside;
    return r;
  }

  void Enter(const Context& ctx, const NSE& nse) {
    int now = ++inside;
    int seen = max_inside.load();
    while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
    }
    had_executor = had_executor && ExecutorFromContext(ctx) != nullptr;
    ++calls;
    if (nse.name() == block_name) {
      entered.Notify();
      release.WaitForNotification();
    }
    std::this_thread::yield();
  }

  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<int> calls{0};
  std::atomic<bool> had_executor{true};
  std::string block_name;
  absl::Notification entered, release;
};

TEST(Serialize, OneCallPerNameAtATime) {
  auto probe = std::make_shared<Probe>();
  NSERegistryServerChain chain({NewNSEServer(), probe});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&chain, t] {
      for (int i = 0; i < 50; ++i) {
        NSE nse;
        nse.set_name("same");
        if ((i + t) % 2 == 0) {
          EXPECT_TRUE(chain.Register(Context(), nse).ok());
        } else {
          EXPECT_TRUE(chain.Unregister(Context(), nse).ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(probe->max_inside.load(), 1);
  EXPECT_EQ(probe->calls.load(), 400);
  EXPECT_TRUE(probe->had_executor.load()) << "later elements find the executor in the context";
}

TEST(Serialize, DifferentNamesRunInParallel) {
  auto probe = std::make_shared<Probe>();
  probe->block_name = "x";
  NSERegistryServerChain chain({NewNSEServer(), probe});
  std::thread blocked([&] {
    NSE nse;
    nse.set_name("x");
    EXPECT_TRUE(chain.Register(Context(), nse).ok());
  });
  probe->entered.WaitForNotification();
  NSE other;
  other.set_name("y");
  EXPECT_TRUE(chain.Register(Context(), other).ok()) << "y does not wait for x";
  probe->release.Notify();
  blocked.join();
}

TEST(Serialize, CallerThatGaveUpWhileWaitingDoesNotReachTheChain) {
  auto probe = std::make_shared<Probe>();
  probe->block_name = "x";
  NSERegistryServerChain chain({NewNSEServer(), probe});
  std::thread first([&] {
    NSE nse;
    nse.set_name("x");
    EXPECT_TRUE(chain.Register(Context(), nse).ok());
  });
  probe->entered.WaitForNotification();
  auto [ctx, cancel] = Context().WithCancel();
  cancel();
  NSE second;
  second.set_name("x");
  absl::StatusOr<NSE> result;
  std::thread waiter([&, ctx = ctx] { result = chain.Register(ctx, second); });
  probe->release.Notify();
  first.join();
  waiter.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(probe->calls.load(), 1);
}

TEST(Serialize, FindIsNotSerialized) {
  auto probe = std::make_shared<Probe>();
  probe->block_name = "x";
  NSERegistryServerChain chain({NewNSEServer(), probe});
  std::thread blocked([&] {
    NSE nse;
    nse.set_name("x");
    EXPECT_TRUE(chain.Register(Context(), nse).ok());
  });
  probe->entered.WaitForNotification();
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("x");
  auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
  EXPECT_TRUE(chain.Find(Context(), q, s).ok());
  probe->release.Notify();
  blocked.join();
}

}  // namespace
}  // namespace nsm::reg::serialize

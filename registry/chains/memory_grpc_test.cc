// registry-memory over real gRPC on unix sockets in a temp dir: register/find/watch/unregister,
// expiry told to remote watchers (FakeClock), 1,000 concurrent Register/Unregister calls on 100
// names leaving a store that agrees with the last operation per name and with the watch stream,
// and inter-domain names proxied to a second registry.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/random/random.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/chains/memory.h"
#include "registry/transport/server.h"

namespace nsm::reg::chains {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

constexpr absl::Duration kWait = absl::Seconds(30);  // bound for network round trips

NSE Endpoint(const std::string& name, const std::string& url = "tcp://10.0.0.1:5001") {
  NSE nse;
  nse.set_name(name);
  nse.set_url(url);
  nse.add_network_service_names("ns-1");
  return nse;
}

NSEQuery Query(const std::string& name = "", bool watch = false) {
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name(name);
  q.set_watch(watch);
  return q;
}

// A registry-memory served on a unix socket, with a client to it.
struct Registry {
  Registry(const std::string& dir, const std::string& name, std::shared_ptr<Clock> clock,
           MemoryRegistryOptions options = {}) {
    url = "unix://" + dir + "/" + name + ".sock";
    chains = NewMemoryRegistry(options);
    transport::ServerOptions so;
    so.listen_on = {url};
    so.credentials = MakeInsecureCredentials();
    so.service.clock = std::move(clock);
    auto s = transport::RegistryGrpcServer::Start(chains.ns, chains.nse, so);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) server = std::move(*s);
    auto channel = channels->Get(url);
    nse = std::make_shared<transport::NSERegistryGrpcClient>(*channel, url);
    ns = std::make_shared<transport::NSRegistryGrpcClient>(*channel, url);
  }

  std::map<std::string, std::string> FindAll() {
    auto s = BufferedFindStream<NSEResponse>::Create(Context());
    EXPECT_TRUE(nse->Find(Context(), Query(), s, {}, {}).ok());
    std::map<std::string, std::string> out;
    for (const auto& r : s->Drain()) {
      EXPECT_TRUE(
          out.emplace(r.network_service_endpoint().name(), r.network_service_endpoint().url())
              .second)
          << "duplicate " << r.network_service_endpoint().name();
    }
    return out;
  }

  std::string url;
  MemoryRegistry chains;
  std::unique_ptr<transport::RegistryGrpcServer> server;
  std::shared_ptr<transport::ChannelPool> channels =
      std::make_shared<transport::ChannelPool>(MakeInsecureCredentials());
  std::shared_ptr<transport::NSERegistryGrpcClient> nse;
  std::shared_ptr<transport::NSRegistryGrpcClient> ns;
};

class MemoryGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-regmem-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
};

TEST_F(MemoryGrpcTest, RegisterFindWatchUnregister) {
  Registry reg(dir_, "registry", clock_);
  auto watch = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(reg.nse->Find(Context(), Query("nse-1", true), watch, {}, {}).ok());
  // The server adds the watcher on its own pool: wait, or the Unregister may come first.
  ASSERT_TRUE(Eventually([&] { return reg.chains.nse_store->watchers() == 1u; }));
  NSE nse = Endpoint("nse-1");
  auto r = reg.nse->Register(Context(), nse, {}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->expiration_time().seconds(), absl::ToUnixSeconds(clock_->Now() + absl::Minutes(1)));
  EXPECT_EQ(reg.FindAll(), (std::map<std::string, std::string>{{"nse-1", "tcp://10.0.0.1:5001"}}));
  ASSERT_TRUE(reg.nse->Unregister(Context(), nse, {}, {}).ok());
  EXPECT_TRUE(reg.FindAll().empty());
  auto added = watch->Recv(kWait);
  auto removed = watch->Recv(kWait);
  ASSERT_TRUE(added && removed);
  EXPECT_FALSE(added->deleted());
  EXPECT_TRUE(removed->deleted());

  NS ns;
  ns.set_name("ns-1");
  auto nsr = reg.ns->Register(Context(), ns, {}, {});
  ASSERT_TRUE(nsr.ok());
  EXPECT_EQ(nsr->payload(), "IP");
  watch->Cancel();
}

TEST_F(MemoryGrpcTest, BadInputIsAnsweredWithThePreciseStatus) {
  Registry reg(dir_, "registry", clock_);
  NSE empty;
  auto r = reg.nse->Register(Context(), empty, {}, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("network_service_endpoint.name"), std::string::npos);
  auto s = BufferedFindStream<NSEResponse>::Create(Context());
  EXPECT_EQ(reg.nse->Find(Context(), Query("has space"), s, {}, {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(reg.FindAll().empty());
}

TEST_F(MemoryGrpcTest, ExpiryIsToldToRemoteWatchers) {
  Registry reg(dir_, "registry", clock_);
  auto watch = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(reg.nse->Find(Context(), Query("", true), watch, {}, {}).ok());
  NSE nse = Endpoint("nse-1");
  ASSERT_TRUE(reg.nse->Register(Context(), nse, {}, {}).ok());
  auto added = watch->Recv(kWait);
  ASSERT_TRUE(added.has_value());
  clock_->Advance(absl::Minutes(1));
  auto removed = watch->Recv(kWait);
  ASSERT_TRUE(removed.has_value());
  EXPECT_TRUE(removed->deleted());
  EXPECT_EQ(removed->network_service_endpoint().name(), "nse-1");
  EXPECT_TRUE(reg.FindAll().empty());
  watch->Cancel();
}

TEST_F(MemoryGrpcTest, ConcurrentRegisterUnregisterLeaveAConsistentStore) {
  Registry reg(dir_, "registry", clock_);
  constexpr int kNames = 100, kOps = 1000, kThreads = 16;
  auto name = [](int i) { return "nse-" + std::to_string(i); };

  // Phase 1: each name belongs to one thread, so "the last operation" of a name is defined; the
  // threads (and so the names) run concurrently.
  std::vector<std::string> last(kNames);  // "" = unregistered, else the URL registered last
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        absl::BitGen rng;
        for (int op = t; op < kOps; op += kThreads) {
          const int n = op % kNames;
          if (n % kThreads != t) continue;
          NSE nse = Endpoint(name(n), "tcp://10.0.0." + std::to_string(op % 250 + 1) + ":5001");
          if (absl::Bernoulli(rng, 0.6)) {
            ASSERT_TRUE(reg.nse->Register(Context(), nse, {}, {}).ok());
            last[n] = nse.url();
          } else {
            ASSERT_TRUE(reg.nse->Unregister(Context(), nse, {}, {}).ok());
            last[n] = "";
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  auto found = reg.FindAll();
  for (int n = 0; n < kNames; ++n) {
    auto it = found.find(name(n));
    if (last[n].empty()) {
      EXPECT_EQ(it, found.end()) << name(n) << " was unregistered last";
    } else {
      ASSERT_NE(it, found.end()) << name(n) << " was registered last";
      EXPECT_EQ(it->second, last[n]) << name(n);
    }
  }

  // Phase 2: every thread hits every name; a watcher sees the store's order. The final store must
  // equal what the watch stream says, and every stored URL must be one that was sent.
  auto watch = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(reg.nse->Find(Context(), Query("", true), watch, {}, {}).ok());
  std::atomic<int> failures{0};
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        absl::BitGen rng;
        for (int op = t; op < kOps; op += kThreads) {
          NSE nse = Endpoint(name(absl::Uniform(rng, 0, kNames)),
                             "tcp://10.1.0." + std::to_string(op % 250 + 1) + ":5001");
          bool ok = absl::Bernoulli(rng, 0.5) ? reg.nse->Register(Context(), nse, {}, {}).ok()
                                              : reg.nse->Unregister(Context(), nse, {}, {}).ok();
          if (!ok) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  NSE marker = Endpoint("zz-marker");
  ASSERT_TRUE(reg.nse->Register(Context(), marker, {}, {}).ok());
  std::map<std::string, std::string> watched;
  for (;;) {
    auto r = watch->Recv(kWait);
    ASSERT_TRUE(r.has_value()) << "the watch stream ended or stalled";
    const auto& e = r->network_service_endpoint();
    if (r->deleted()) {
      watched.erase(e.name());
    } else {
      watched[e.name()] = e.url();
    }
    if (e.name() == "zz-marker") break;
  }
  watch->Cancel();
  EXPECT_EQ(reg.FindAll(), watched);
  EXPECT_EQ(reg.chains.nse_expire->size(), reg.chains.nse_store->size())
      << "one expiry timer per stored endpoint";
  EXPECT_EQ(clock_->PendingTimers(), reg.chains.nse_store->size());
}

TEST_F(MemoryGrpcTest, InterdomainNamesGoToTheProxyRegistry) {
  // The proxy registry: a plain store served over gRPC (in a cluster: registry-proxy-dns).
  auto proxy_store = memory::NewNSEServer();
  auto proxy_ns_store = memory::NewNSServer();
  transport::ServerOptions so;
  std::string proxy_url = "unix://" + dir_ + "/proxy.sock";
  so.listen_on = {proxy_url};
  so.credentials = MakeInsecureCredentials();
  auto proxy = transport::RegistryGrpcServer::Start(proxy_ns_store, proxy_store, so);
  ASSERT_TRUE(proxy.ok());

  Registry reg(dir_, "registry", clock_, MemoryRegistryOptions{.proxy_registry_url = proxy_url});
  NSE nse = Endpoint("nse-1@domain.b");
  ASSERT_TRUE(reg.nse->Register(Context(), nse, {}, {}).ok());
  EXPECT_EQ(proxy_store->size(), 1u);
  EXPECT_EQ(reg.chains.channels->size(), 1u) << "the proxy channel lives with the registration";
  // Local names do not go to the proxy.
  NSE local = Endpoint("nse-2");
  ASSERT_TRUE(reg.nse->Register(Context(), local, {}, {}).ok());
  EXPECT_EQ(proxy_store->size(), 1u);
  // Find of an inter-domain name reaches the proxy registry.
  auto s = BufferedFindStream<NSEResponse>::Create(Context());
  NSE other = Endpoint("nse-9@domain.b");
  ASSERT_TRUE(proxy_store->Register(Context(), other, {}).ok());
  ASSERT_TRUE(reg.nse->Find(Context(), Query("nse-9@domain.b"), s, {}, {}).ok());
  auto got = s->Drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].network_service_endpoint().name(), "nse-9@domain.b");
  ASSERT_TRUE(reg.nse->Unregister(Context(), nse, {}, {}).ok());
  EXPECT_EQ(proxy_store->size(), 1u) << "only nse-9 is left";
  // The Find's stream reader is released on the pool just after Find returns and holds the
  // channel until then: wait for that (bounded, real time).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (reg.chains.channels->size() != 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(reg.chains.channels->size(), 0u) << "no registration or Find uses the proxy now";
}

}  // namespace
}  // namespace nsm::reg::chains

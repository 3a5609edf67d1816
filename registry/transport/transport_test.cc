// Registry chains over real gRPC on a unix socket: unary calls, Find and watch through the client
// reactor, large results, cancel reaching the store, a stalled watcher ended with
// RESOURCE_EXHAUSTED, shutdown ending watches, unreachable peers, health statuses.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "core/gate.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"
#include "registry/transport/server.h"

namespace nsm::reg::transport {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using NSQuery = ::registry::NetworkServiceQuery;
using NSResponse = ::registry::NetworkServiceResponse;

constexpr absl::Duration kWait = absl::Seconds(20);  // bound for network round trips

NSE Endpoint(const std::string& name) {
  NSE nse;
  nse.set_name(name);
  nse.set_url("tcp://10.0.0.1:5001");
  nse.add_network_service_names("ns-1");
  return nse;
}

NSEQuery Query(const std::string& name = "", bool watch = false) {
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name(name);
  q.set_watch(watch);
  return q;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-reg-XXXXXX";
    dir_ = mkdtemp(tmpl);
    url_ = "unix://" + dir_ + "/registry.sock";
    Start(1024);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Start(size_t max_backlog) {
    server_.reset();
    ServerOptions options;
    options.listen_on = {url_};
    options.credentials = MakeInsecureCredentials();
    options.service.max_backlog = max_backlog;
    auto server = RegistryGrpcServer::Start(ns_store_, nse_store_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = channels_->Get(url_);
    ASSERT_TRUE(channel.ok());
    nse_ = std::make_shared<NSERegistryGrpcClient>(*channel, url_);
    ns_ = std::make_shared<NSRegistryGrpcClient>(*channel, url_);
  }
  std::vector<std::string> FindNames(const NSEQuery& q) {
    auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
    EXPECT_TRUE(nse_->Find(ctx_, q, s, {}, {}).ok());
    std::vector<std::string> names;
    for (const auto& r : s->Drain()) names.push_back(r.network_service_endpoint().name());
    return names;
  }

  std::string dir_, url_;
  Context ctx_;
  std::shared_ptr<memory::NSServer> ns_store_ = memory::NewNSServer();
  std::shared_ptr<memory::NSEServer> nse_store_ = memory::NewNSEServer();
  std::unique_ptr<RegistryGrpcServer> server_;
  std::shared_ptr<ChannelPool> channels_ = std::make_shared<ChannelPool>(MakeInsecureCredentials());
  std::shared_ptr<NSERegistryGrpcClient> nse_;
  std::shared_ptr<NSRegistryGrpcClient> ns_;
};

TEST_F(TransportTest, RegisterFindUnregister) {
  NSE nse = Endpoint("nse-1");
  auto r = nse_->Register(ctx_, nse, {}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name(), "nse-1");
  EXPECT_EQ(FindNames(Query("nse-1")), (std::vector<std::string>{"nse-1"}));
  ASSERT_TRUE(nse_->Unregister(ctx_, nse, {}, {}).ok());
  EXPECT_TRUE(FindNames(Query()).empty());

  NS ns;
  ns.set_name("ns-1");
  ASSERT_TRUE(ns_->Register(ctx_, ns, {}, {}).ok());
  NSQuery q;
  q.mutable_network_service()->set_name("ns-1");
  auto s = BufferedFindStream<NSResponse>::Create(ctx_);
  ASSERT_TRUE(ns_->Find(ctx_, q, s, {}, {}).ok());
  auto got = s->Drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].network_service().name(), "ns-1");
}

TEST_F(TransportTest, WatchStreamsSnapshotThenChanges) {
  NSE a = Endpoint("a");
  ASSERT_TRUE(nse_->Register(ctx_, a, {}, {}).ok());
  auto watch = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(nse_->Find(ctx_, Query("", true), watch, {}, {}).ok());
  auto first = watch->Recv(kWait);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->network_service_endpoint().name(), "a");
  ASSERT_TRUE(Eventually([&] { return nse_store_->watchers() == 1; }));
  NSE b = Endpoint("b");
  ASSERT_TRUE(nse_->Register(ctx_, b, {}, {}).ok());
  ASSERT_TRUE(nse_->Unregister(ctx_, a, {}, {}).ok());
  auto second = watch->Recv(kWait);
  auto third = watch->Recv(kWait);
  ASSERT_TRUE(second && third);
  EXPECT_EQ(second->network_service_endpoint().name(), "b");
  EXPECT_FALSE(second->deleted());
  EXPECT_EQ(third->network_service_endpoint().name(), "a");
  EXPECT_TRUE(third->deleted());
  watch->Cancel();
  EXPECT_TRUE(Eventually([&] { return nse_store_->watchers() == 0; }))
      << "cancelling the client stream removes the watcher from the store";
  EXPECT_TRUE(Eventually([&] { return server_->nse_service().open_streams() == 0; }));
}

TEST_F(TransportTest, LargeResultsAreNotLimitedByTheBacklog) {
  Start(4);
  for (int i = 0; i < 3000; ++i) {
    NSE nse = Endpoint("nse-" + std::to_string(i));
    ASSERT_TRUE(nse_store_->Register(ctx_, nse, {}).ok());
  }
  EXPECT_EQ(FindNames(Query()).size(), 3000u);
  auto watch = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(nse_->Find(ctx_, Query("", true), watch, {}, {}).ok());
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(watch->Recv(kWait).has_value()) << i;
  watch->Cancel();
}

TEST_F(TransportTest, StalledWatcherIsEndedWithResourceExhausted) {
  Start(4);
  auto channel = channels_->Get(url_);
  auto stub = ::registry::NetworkServiceEndpointRegistry::NewStub(*channel);
  grpc::ClientContext cc;
  auto reader = stub->Find(&cc, Query("", true));  // never read until the end
  ASSERT_TRUE(Eventually([&] { return nse_store_->watchers() == 1; }));
  // Large updates fill the HTTP/2 windows quickly; then the backlog overflows.
  std::string big(256 * 1024, 'x');
  for (int i = 0; i < 64 && nse_store_->watchers() == 1; ++i) {
    NSE nse = Endpoint("big-" + std::to_string(i));
    (*(*nse.mutable_network_service_labels())["ns-1"].mutable_labels())["blob"] = big;
    ASSERT_TRUE(nse_store_->Register(ctx_, nse, {}).ok());
  }
  EXPECT_TRUE(Eventually([&] { return nse_store_->watchers() == 0; }))
      << "the store no longer feeds the stalled watcher";
  NSEResponse r;
  while (reader->Read(&r)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
}

TEST_F(TransportTest, ShutdownEndsWatchesWithUnavailable) {
  auto watch = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(nse_->Find(ctx_, Query("", true), watch, {}, {}).ok());
  ASSERT_TRUE(Eventually([&] { return nse_store_->watchers() == 1; }));
  server_->Shutdown(absl::Seconds(1));
  EXPECT_FALSE(watch->Recv(kWait).has_value());
  EXPECT_TRUE(watch->finished());
  EXPECT_EQ(watch->final_status().code(), absl::StatusCode::kUnavailable) << watch->final_status();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/registry.sock"));
}

TEST_F(TransportTest, UnreachableRegistryIsUnavailableNamingTheTarget) {
  std::string url = "unix://" + dir_ + "/nobody.sock";
  auto channel = channels_->Get(url);
  ASSERT_TRUE(channel.ok());
  NSERegistryGrpcClient client(*channel, url,
                               ClientOptions{.dial_timeout = absl::Milliseconds(200)});
  NSE nse = Endpoint("a");
  auto r = client.Register(ctx_, nse, {}, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status();
}

TEST_F(TransportTest, ChannelsAreSharedPerUrl) {
  auto a = channels_->Get(url_);
  auto b = channels_->Get(url_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(channels_->Get("http://x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TransportTest, ErrorsKeepTheirCodeAndMessage) {
  class Refuse : public NSERegistryServer {
   public:
    absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&) override {
      return absl::InvalidArgumentError("name \"" + nse.name() + "\" refused");
    }
    absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
      return absl::NotFoundError("no such thing");
    }
    absl::Status Unregister(const Context&, NSE&, const Next&) override {
      return absl::PermissionDeniedError("not yours");
    }
  };
  server_.reset();
  ServerOptions options;
  options.listen_on = {url_};
  options.credentials = MakeInsecureCredentials();
  auto server = RegistryGrpcServer::Start(ns_store_, std::make_shared<Refuse>(), options);
  ASSERT_TRUE(server.ok());
  NSE nse = Endpoint("x");
  auto r = nse_->Register(ctx_, nse, {}, {});
  EXPECT_EQ(r.status(), absl::InvalidArgumentError("name \"x\" refused"));
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  EXPECT_EQ(nse_->Find(ctx_, Query(), s, {}, {}), absl::NotFoundError("no such thing"));
  auto w = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(nse_->Find(ctx_, Query("", true), w, {}, {}).ok());
  EXPECT_FALSE(w->Recv(kWait).has_value());
  EXPECT_EQ(w->final_status(), absl::NotFoundError("no such thing"));
  EXPECT_EQ(nse_->Unregister(ctx_, nse, {}, {}), absl::PermissionDeniedError("not yours"));
}

// Registers that hang in the chain (an upstream registry that never answers) hold one worker of
// the service each. More of them than it starts workers (max(4, 2 x cores)) must not stall other
// calls: the service's pool grows (core/executor.h). With a fixed pool the Find waits for them.
TEST_F(TransportTest, HangingRegistersDoNotStallOtherCalls) {
  class HoldRegister : public NSERegistryServer {  // a registry chain that answers no Register
   public:
    absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next&) override {
      if (absl::Status s = gate.Pass(ctx); !s.ok()) return s;
      return nse;
    }
    absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
      return absl::OkStatus();
    }
    absl::Status Unregister(const Context&, NSE&, const Next&) override { return absl::OkStatus(); }
    Gate gate;
  };
  server_.reset();
  auto hold = std::make_shared<HoldRegister>();
  ServerOptions options;
  options.listen_on = {url_};
  options.credentials = MakeInsecureCredentials();
  auto server = RegistryGrpcServer::Start(ns_store_, hold, options);
  ASSERT_TRUE(server.ok());

  constexpr size_t kHeld = 12;
  std::vector<absl::Status> registered(kHeld);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kHeld; ++i) {
    threads.emplace_back([&, i] {
      NSE nse = Endpoint(absl::StrCat("nse-", i));
      registered[i] = nse_->Register(ctx_, nse, {}, {}).status();
    });
  }
  const bool all_held = Eventually([&] { return hold->gate.waiting() == kHeld; }, kWait);
  auto [find_ctx, cancel] = ctx_.WithTimeout(absl::Seconds(10));
  auto found = BufferedFindStream<NSEResponse>::Create(find_ctx);
  const absl::Status find = nse_->Find(find_ctx, Query(), found, {}, {});
  const size_t held = hold->gate.waiting();
  hold->gate.Open();
  for (auto& t : threads) t.join();

  EXPECT_TRUE(all_held) << held << " of " << kHeld << " Registers reached the chain";
  EXPECT_TRUE(find.ok()) << find;
  for (const auto& r : registered) EXPECT_TRUE(r.ok()) << r;
}

// Under overload (DESIGN.md §7), with the only worker held and calls waiting: Unregisters run
// first (but never before a waiting Register of their name), then re-Registers of names the
// registry holds, then new Registers, each in arrival order; at the limit new Registers and Finds
// are refused with RESOURCE_EXHAUSTED at once, while re-Registers and Unregisters are still
// taken.
TEST_F(TransportTest, UnderOverloadUnregistersGoFirstAndNewWorkIsRefused) {
  class Recording : public NSERegistryServer {  // holds the Register of "blocker"
   public:
    absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next&) override {
      if (nse.name() == "blocker") {
        if (absl::Status s = gate.Pass(ctx); !s.ok()) return s;
      }
      Record("register " + nse.name());
      return nse;
    }
    absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
      Record("find");
      return absl::OkStatus();
    }
    absl::Status Unregister(const Context&, NSE& nse, const Next&) override {
      Record("unregister " + nse.name());
      return absl::OkStatus();
    }
    void Record(const std::string& what) {
      absl::MutexLock lock(&mu);
      order.push_back(what);
    }
    Gate gate;
    absl::Mutex mu;
    std::vector<std::string> order ABSL_GUARDED_BY(mu);
  };
  server_.reset();
  auto chain = std::make_shared<Recording>();
  ServerOptions options;
  options.listen_on = {url_};
  options.credentials = MakeInsecureCredentials();
  options.service.pool = std::make_shared<ThreadPool>(1);  // fixed: one worker
  options.service.admission = {.max_queued = 4, .prioritize_from = 1, .name = "reg-1"};
  options.nse_registered = [](const std::string& name) { return name.starts_with("known"); };
  auto server = RegistryGrpcServer::Start(ns_store_, chain, options);
  ASSERT_TRUE(server.ok()) << server.status();
  NSERegistryGrpcService& service = (*server)->nse_service();

  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  absl::Cleanup release = [&] {  // also when an assertion ends the test early
    chain->gate.Open();
    for (auto& t : threads) t.join();
  };
  auto start = [&](size_t i, bool unregister, const std::string& name) {
    threads.emplace_back([&, i, unregister, name] {
      NSE nse = Endpoint(name);
      results[i] = unregister ? nse_->Unregister(ctx_, nse, {}, {})
                              : nse_->Register(ctx_, nse, {}, {}).status();
    });
  };
  start(0, false, "blocker");
  ASSERT_TRUE(Eventually([&] { return chain->gate.waiting() == 1; }, kWait));
  size_t waiting = 0;
  for (auto [i, unregister, name] : std::vector<std::tuple<size_t, bool, std::string>>{
           {1, false, "new-1"}, {2, false, "known-1"}, {3, true, "gone-1"}, {4, false, "new-2"}}) {
    start(i, unregister, name);
    ++waiting;
    ASSERT_TRUE(Eventually([&] { return service.queued() == waiting; }, kWait)) << name;
  }

  // 4 wait: new work is refused without waiting for the worker.
  NSE refused = Endpoint("new-3");
  const absl::Status new_register = nse_->Register(ctx_, refused, {}, {}).status();
  EXPECT_EQ(new_register.code(), absl::StatusCode::kResourceExhausted) << new_register;
  EXPECT_EQ(new_register.message(),
            "reg-1/nse: overloaded: 4 calls wait for a worker; new Registers and Finds are refused "
            "until fewer than 4 wait (new Registers and Finds below 4, re-Registers below 8, "
            "Unregisters always)");
  auto found = BufferedFindStream<NSEResponse>::Create(ctx_);
  const absl::Status find = nse_->Find(ctx_, Query(), found, {}, {});
  EXPECT_EQ(find.code(), absl::StatusCode::kResourceExhausted) << find;
  // Renewals and Unregisters are still taken.
  start(5, false, "known-2");
  ASSERT_TRUE(Eventually([&] { return service.queued() == 5; }, kWait));
  start(6, true, "gone-2");
  ASSERT_TRUE(Eventually([&] { return service.queued() == 6; }, kWait));
  // An Unregister of a name whose Register waits does not overtake it (it would be undone).
  start(7, true, "new-1");
  ASSERT_TRUE(Eventually([&] { return service.queued() == 7; }, kWait));

  std::move(release).Invoke();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
  }
  absl::MutexLock lock(&chain->mu);
  EXPECT_EQ(chain->order,
            (std::vector<std::string>{"register blocker", "unregister gone-1", "unregister gone-2",
                                      "register known-1", "register known-2", "register new-1",
                                      "register new-2", "unregister new-1"}));
}

TEST_F(TransportTest, ListensOnTcpWithAChosenPort) {
  ServerOptions options;
  options.listen_on = {"tcp://127.0.0.1:0"};
  options.credentials = MakeInsecureCredentials();
  auto server = RegistryGrpcServer::Start(ns_store_, nse_store_, options);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_EQ((*server)->urls().size(), 1u);
  const std::string url = (*server)->urls()[0];
  EXPECT_NE(url, "tcp://127.0.0.1:0") << "the chosen port is reported";
  auto channel = channels_->Get(url);
  ASSERT_TRUE(channel.ok()) << channel.status();
  NSERegistryGrpcClient client(*channel, url);
  NSE nse = Endpoint("over-tcp");
  ASSERT_TRUE(client.Register(ctx_, nse, {}, {}).ok());
  EXPECT_TRUE(nse_store_->Get("over-tcp").has_value());
}

TEST_F(TransportTest, BadListenUrlsAreRefused) {
  ServerOptions options;
  options.credentials = MakeInsecureCredentials();
  options.listen_on = {"inode://1/2"};
  EXPECT_EQ(RegistryGrpcServer::Start(ns_store_, nse_store_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.listen_on = {};
  EXPECT_EQ(RegistryGrpcServer::Start(ns_store_, nse_store_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.listen_on = {url_};
  options.credentials = nullptr;
  EXPECT_EQ(RegistryGrpcServer::Start(ns_store_, nse_store_, options).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "no silent insecure default";
}

int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto status = CheckHealth(channel, service);
  if (!status.ok()) return -static_cast<int>(status.status().code());
  return *status == "SERVING" ? 1 : 0;
}

TEST_F(TransportTest, HealthReportsServing) {
  auto channel = channels_->Get(url_);
  EXPECT_EQ(HealthStatus(*channel, ""), 1);
  EXPECT_EQ(HealthStatus(*channel, "registry.NetworkServiceRegistry"), 1);
  EXPECT_EQ(HealthStatus(*channel, "registry.NetworkServiceEndpointRegistry"), 1);
  EXPECT_EQ(HealthStatus(*channel, "networkservice.NetworkService"),
            -static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace nsm::reg::transport

// The nsmgr binary as a process: --help, invalid environment, start on a temp unix socket without a
// domain registry, health of every service, a forwarder registered over gRPC, /metrics, SIGTERM,
// and Requests held by a forwarder that never answers not stalling the others.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "api/path.h"
#include "connection.grpc.pb.h"
#include "core/eventually.h"
#include "core/grpc_server.h"
#include "core/grpc_transport.h"
#include "core/metrics/read.h"
#include "core/token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice.grpc.pb.h"
#include "networkservice/chains/endpoint/server.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"
#include "testing/hold_server.h"
#include "testing/process.h"

namespace {

using nsm::testing::Process;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Binary() {
  if (const char* env = std::getenv("NSMGR_BIN")) return env;
#ifdef NSMGR_BIN
  return NSMGR_BIN;
#else
  return "nsmgr/nsmgr";  // Bazel runfiles
#endif
}

// host:port of the /metrics server the start-up log names ("" when it names none).
std::string MetricsAddress(const std::string& log) {
  const std::string marker = "metrics: serving http://";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = at + marker.size();
  return log.substr(start, log.find("/metrics", start) - start);
}

// A Request of the NSC "nsc" for `service` with connection id `id`.
::networkservice::NetworkServiceRequest RequestFor(const std::string& service,
                                                   const std::string& id) {
  ::networkservice::NetworkServiceRequest req;
  req.mutable_connection()->set_id(id);
  req.mutable_connection()->set_network_service(service);
  auto* seg = req.mutable_connection()->mutable_path()->add_path_segments();
  seg->set_name("nsc");
  seg->set_id(id);
  *seg->mutable_expires() = nsm::api::ToProtoTimestamp(absl::Now() + absl::Minutes(10));
  return req;
}

class NsmgrBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-nsmgrbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    nsmgr_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts the nsmgr on url_ without a registry, serving /metrics on a free port
  // (metrics_address_, from the start-up log).
  void StartWithMetrics() {
    url_ = "unix://" + dir_ + "/nsm.io.sock";
    nsmgr_ = std::make_unique<Process>(
        Binary(), dir_, "nsmgr", std::vector<std::string>{},
        std::vector<std::string>{"NSM_NAME=nsmgr-test", "NSM_LISTEN_ON=" + url_,
                                 "NSM_REGISTRY_URL=", "NSM_METRICS_LISTEN_ON=127.0.0.1:0"});
    ASSERT_TRUE(nsmgr_->started());
    ASSERT_TRUE(nsmgr_->WaitForOutput([](const std::string& s) {
      return s.find("listening on") != s.npos;
    })) << nsmgr_->err();
    metrics_address_ = MetricsAddress(nsmgr_->err());
    ASSERT_FALSE(metrics_address_.empty()) << nsmgr_->err();
  }

  std::string dir_;
  std::string url_;
  std::string metrics_address_;
  std::unique_ptr<Process> nsmgr_;
};

TEST_F(NsmgrBinaryTest, HelpListsTheVariables) {
  Process p(Binary(), dir_, "nsmgr", {"--help"}, {});
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.Wait(), 0);
  for (const char* v : {"NSM_NAME", "NSM_LISTEN_ON", "NSM_REGISTRY_URL", "NSM_DIAL_TIMEOUT",
                        "NSM_MAX_TOKEN_LIFETIME", "NSM_FORWARDER_NETWORK_SERVICE_NAME",
                        "NSM_LOG_LEVEL", "NODE_NAME", "NSM_METRICS_LISTEN_ON"}) {
    EXPECT_THAT(p.out(), HasSubstr(v));
  }
}

TEST_F(NsmgrBinaryTest, BadValueStopsStartup) {
  Process p(Binary(), dir_, "nsmgr", {}, {"NSM_DIAL_TIMEOUT=soon"});
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_THAT(p.err(), HasSubstr("NSM_DIAL_TIMEOUT=\"soon\" is invalid"));
  Process q(Binary(), dir_, "nsmgr2", {"--verbose"}, {});
  EXPECT_EQ(q.Wait(), 2);
  EXPECT_THAT(q.err(), HasSubstr("unknown argument"));
  Process m(Binary(), dir_, "nsmgr3", {}, {"NSM_METRICS_LISTEN_ON=unix:///tmp/metrics.sock"});
  EXPECT_EQ(m.Wait(), 1);
  EXPECT_THAT(m.err(),
              HasSubstr("NSM_METRICS_LISTEN_ON=\"unix:///tmp/metrics.sock\" is invalid: want "
                        "host:port or tcp://host:port"));
}

// The nsmgr re-executes itself once (same pid) with glibc's malloc thread cache raised, keeps an
// operator's own GLIBC_TUNABLES setting without re-executing, and refuses a bad count.
TEST_F(NsmgrBinaryTest, TunesMallocOnceAndKeepsTheOperatorsSetting) {
  auto environ_of = [](pid_t pid) {
    std::string env = nsm::testing::ReadFile(absl::StrCat("/proc/", pid, "/environ"));
    std::replace(env.begin(), env.end(), '\0', '\n');
    return env;
  };
  const std::string binary = Binary();
  const std::string name = binary.substr(binary.rfind('/') + 1, 15);  // the kernel's comm
  const std::vector<std::string> base = {"NSM_LISTEN_ON=unix://" + dir_ + "/nsm.io.sock",
                                         "NSM_REGISTRY_URL="};
  Process p(Binary(), dir_, "nsmgr", {}, base);
  ASSERT_TRUE(p.started());
  ASSERT_TRUE(p.WaitForOutput([](const std::string& s) {
    return s.find("listening on") != s.npos;
  })) << p.err();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_THAT(p.err(), HasSubstr("malloc: not glibc's"));  // nothing to tune
#else
  EXPECT_THAT(p.err(), HasSubstr("malloc: GLIBC_TUNABLES=glibc.malloc.tcache_count=256"));
  EXPECT_THAT(environ_of(p.pid()), HasSubstr("NSM_MALLOC_REEXECUTED=" + name));
#endif
  // Still named after its binary (ps, top, pgrep), not "exe" after /proc/self/exe.
  EXPECT_EQ(nsm::testing::ReadFile(absl::StrCat("/proc/", p.pid(), "/comm")), name + "\n");
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();

  auto own = base;
  own.push_back("GLIBC_TUNABLES=glibc.malloc.tcache_count=64");
  Process q(Binary(), dir_, "nsmgr-own", {}, own);
  ASSERT_TRUE(q.WaitForOutput([](const std::string& s) {
    return s.find("listening on") != s.npos;
  })) << q.err();
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_THAT(q.err(), HasSubstr("malloc: GLIBC_TUNABLES=glibc.malloc.tcache_count=64"));
#endif
  EXPECT_THAT(environ_of(q.pid()), Not(HasSubstr("NSM_MALLOC_REEXECUTED")));
  q.Signal(SIGTERM);
  EXPECT_EQ(q.Wait(), 0) << q.err();

  auto bad = base;
  bad.push_back("NSM_MALLOC_TCACHE_COUNT=lots");
  Process r(Binary(), dir_, "nsmgr-bad", {}, bad);
  EXPECT_EQ(r.Wait(), 1);
  EXPECT_THAT(r.err(), HasSubstr("NSM_MALLOC_TCACHE_COUNT=\"lots\" is invalid"));
}

TEST_F(NsmgrBinaryTest, ServesRegistersAndStopsOnSigterm) {
  const std::string sock = dir_ + "/nsm.io.sock";
  const std::string url = "unix://" + sock;
  Process p(
      Binary(), dir_, "nsmgr", {},
      {"NSM_NAME=nsmgr-test", "NSM_LISTEN_ON=" + url, "NSM_REGISTRY_URL=", "NODE_NAME=node-a"});
  ASSERT_TRUE(p.started());
  ASSERT_TRUE(p.WaitForOutput([](const std::string& s) {
    return s.find("listening on") != s.npos;
  })) << p.err();

  auto channels =
      std::make_shared<nsm::reg::transport::ChannelPool>(nsm::MakeInsecureCredentials());
  auto channel = channels->Get(url);
  ASSERT_TRUE(channel.ok());
  for (const char* service :
       {"", "networkservice.NetworkService", "connection.MonitorConnection",
        "registry.NetworkServiceRegistry", "registry.NetworkServiceEndpointRegistry"}) {
    auto health = nsm::CheckHealth(*channel, service);
    ASSERT_TRUE(health.ok()) << service << ": " << health.status();
    EXPECT_EQ(*health, "SERVING") << service;
  }

  nsm::reg::transport::NSERegistryGrpcClient client(*channel, url);
  ::registry::NetworkServiceEndpoint fwd;
  fwd.set_name("forwarder-a");
  fwd.set_url("unix://" + dir_ + "/fwd.sock");
  fwd.add_network_service_names("forwarder");
  (*fwd.mutable_network_service_labels())["forwarder"].mutable_labels()->insert({"p2p", "true"});
  auto [ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
  auto registered = client.Register(ctx, fwd, {}, {});
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->network_service_labels().at("forwarder").labels().at("nodeName"), "node-a");
  EXPECT_TRUE(registered->has_expiration_time());

  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
  EXPECT_THAT(p.err(), HasSubstr("stopped"));
  EXPECT_FALSE(std::filesystem::exists(sock));
}

// NSM_METRICS_LISTEN_ON on port 0: the start-up log names the bound address; a registration, a
// refused Request and an open MonitorConnections stream show up in /metrics with their values.
TEST_F(NsmgrBinaryTest, ServesMetrics) {
  ASSERT_NO_FATAL_FAILURE(StartWithMetrics());
  Process& p = *nsmgr_;
  const std::string url = url_;
  const std::string address = metrics_address_;

  auto channels =
      std::make_shared<nsm::reg::transport::ChannelPool>(nsm::MakeInsecureCredentials());
  auto channel = channels->Get(url);
  ASSERT_TRUE(channel.ok());
  nsm::reg::transport::NSERegistryGrpcClient client(*channel, url);
  ::registry::NetworkServiceEndpoint fwd;
  fwd.set_name("forwarder-a");
  fwd.set_url("unix://" + dir_ + "/fwd.sock");
  fwd.add_network_service_names("forwarder");
  auto [ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
  ASSERT_TRUE(client.Register(ctx, fwd, {}, {}).ok());

  // A Request for a service nobody offers: NOT_FOUND.
  auto ns = ::networkservice::NetworkService::NewStub(*channel);
  ::networkservice::NetworkServiceRequest req = RequestFor("no-such-service", "nsc-1");
  grpc::ClientContext request_ctx;
  request_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ::connection::Connection reply;
  EXPECT_EQ(ns->Request(&request_ctx, req, &reply).error_code(), grpc::StatusCode::NOT_FOUND);

  // One MonitorConnections stream, held open while scraping.
  auto monitor = ::connection::MonitorConnection::NewStub(*channel);
  grpc::ClientContext monitor_ctx;
  ::connection::MonitorScopeSelector selector;
  auto reader = monitor->MonitorConnections(&monitor_ctx, selector);
  ::connection::ConnectionEvent initial;
  ASSERT_TRUE(reader->Read(&initial));

  auto page = nsm::metrics::HttpGet(address);
  ASSERT_TRUE(page.ok()) << page.status();
  using nsm::metrics::ValueInText;
  EXPECT_EQ(
      ValueInText(*page, "nsm_registry_registers_total", {{"registry", "nse"}, {"result", "ok"}}),
      1)
      << *page;
  EXPECT_EQ(ValueInText(*page, "nsm_networkservice_requests_total",
                        {{"network_service", "no-such-service"}, {"result", "NOT_FOUND"}}),
            1)
      << *page;
  EXPECT_EQ(ValueInText(*page, "nsm_networkservice_request_duration_seconds_count",
                        {{"kind", "request"}}),
            1);
  EXPECT_EQ(ValueInText(*page, "nsm_monitor_streams"), 1);
  EXPECT_EQ(ValueInText(*page, "nsm_networkservice_queued_calls"), 0) << *page;
  EXPECT_EQ(ValueInText(*page, "nsm_registry_queued_calls", {{"registry", "nse"}}), 0) << *page;
  EXPECT_GE(ValueInText(*page, "nsm_pool_threads", {{"pool", "process"}}).value_or(0), 4) << *page;
  EXPECT_GE(ValueInText(*page, "nsm_pool_threads", {{"pool", "registry"}}).value_or(0), 4);
  EXPECT_TRUE(
      ValueInText(*page, "nsm_pool_threads_added_total", {{"pool", "process"}}).has_value());
  monitor_ctx.TryCancel();
  while (reader->Read(&initial)) {
  }
  reader->Finish();

  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
}

// An in-process forwarder: an endpoint chain named `name` with `elements`, on a unix socket.
struct FakeForwarder {
  static std::unique_ptr<FakeForwarder> Start(
      const std::string& name, const std::string& url,
      std::vector<std::shared_ptr<nsm::NetworkServiceServer>> elements) {
    auto f = std::make_unique<FakeForwarder>();
    auto pool = std::make_shared<nsm::ThreadPool>(32);  // never the bottleneck here
    auto chain = nsm::endpoint::NewServer(nsm::NewInsecureTokenGenerator(name),
                                          {.name = name, .additional = elements, .pool = pool});
    if (!chain.ok()) return nullptr;
    f->chain = *std::move(chain);
    f->service = std::make_unique<nsm::NetworkServiceGrpcServer>(f->chain, pool);
    auto server = nsm::GrpcServer::Start(
        {f->service.get()}, {.listen_on = {url}, .credentials = nsm::MakeInsecureCredentials()});
    if (!server.ok()) return nullptr;
    f->server = *std::move(server);
    return f;
  }
  std::shared_ptr<nsm::endpoint::Endpoint> chain;
  std::unique_ptr<nsm::NetworkServiceGrpcServer> service;
  std::unique_ptr<nsm::GrpcServer> server;
};

// Requests through a forwarder that accepts Requests and answers none must not stall a Request for
// another service through another forwarder. Each of them parks its fiber (Options::fibers) and
// holds no thread. Were each to block a worker, as before fibers, 16 of them would have made the
// elastic pool (which starts max(4, 2 x cores)) grow by about one worker each; now it grows at
// most for the short dial waits of the first Requests on the new channel (/metrics).
TEST_F(NsmgrBinaryTest, AForwarderThatNeverAnswersDoesNotStallOtherRequests) {
  ASSERT_NO_FATAL_FAILURE(StartWithMetrics());
  Process& p = *nsmgr_;
  const std::string url = url_;
  const std::string address = metrics_address_;

  auto hold = std::make_shared<nsm::testing::HoldServer>();
  const std::string stuck_url = "unix://" + dir_ + "/stuck.sock";
  const std::string ok_url = "unix://" + dir_ + "/ok.sock";
  auto stuck = FakeForwarder::Start("forwarder-stuck", stuck_url, {hold});
  auto ok = FakeForwarder::Start("forwarder-ok", ok_url, {});
  ASSERT_TRUE(stuck && ok);

  // Service "stuck" goes through forwarder-stuck (label stuck), service "ok" through forwarder-ok.
  auto channels =
      std::make_shared<nsm::reg::transport::ChannelPool>(nsm::MakeInsecureCredentials());
  auto channel = channels->Get(url);
  ASSERT_TRUE(channel.ok());
  nsm::reg::transport::NSERegistryGrpcClient nses(*channel, url);
  nsm::reg::transport::NSRegistryGrpcClient services(*channel, url);
  auto [ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(10));
  for (const auto& [service, label, forwarder_url] :
       {std::tuple{"stuck", "stuck", stuck_url}, std::tuple{"ok", "p2p", ok_url}}) {
    ::registry::NetworkServiceEndpoint fwd;
    fwd.set_name(absl::StrCat("forwarder-", service));
    fwd.set_url(forwarder_url);
    fwd.add_network_service_names("forwarder");
    (*fwd.mutable_network_service_labels())["forwarder"].mutable_labels()->insert({label, "true"});
    ASSERT_TRUE(nses.Register(ctx, fwd, {}, {}).ok());
    ::registry::NetworkServiceEndpoint nse;
    nse.set_name(absl::StrCat("nse-", service));
    nse.set_url(absl::StrCat("unix://", dir_, "/nse-", service, ".sock"));  // never dialled
    nse.add_network_service_names(service);
    ASSERT_TRUE(nses.Register(ctx, nse, {}, {}).ok());
    ::registry::NetworkService ns;
    ns.set_name(service);
    ns.add_matches()->mutable_metadata()->mutable_labels()->insert({label, "true"});
    ASSERT_TRUE(services.Register(ctx, ns, {}, {}).ok());
  }

  auto stub = ::networkservice::NetworkService::NewStub(*channel);
  constexpr size_t kStuck = 16;
  std::vector<grpc::Status> stuck_status(kStuck);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < kStuck; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext c;
      c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      ::connection::Connection reply;
      stuck_status[i] = stub->Request(&c, RequestFor("stuck", absl::StrCat("stuck-", i)), &reply);
    });
  }
  const bool all_held = nsm::Eventually([&] { return hold->held() == kStuck; }, absl::Seconds(10));
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ::connection::Connection reply;
  const grpc::Status other = stub->Request(&c, RequestFor("ok", "ok-1"), &reply);
  const size_t held = hold->held();
  hold->Release();
  for (auto& t : threads) t.join();

  EXPECT_TRUE(all_held) << held << " of " << kStuck << " Requests reached forwarder-stuck";
  EXPECT_TRUE(other.ok()) << other.error_message();
  EXPECT_EQ(reply.path().path_segments_size(), 3);  // nsc, nsmgr, forwarder-ok
  for (const auto& s : stuck_status) EXPECT_TRUE(s.ok()) << s.error_message();
  auto page = nsm::metrics::HttpGet(address);
  ASSERT_TRUE(page.ok()) << page.status();
  const auto added =
      nsm::metrics::ValueInText(*page, "nsm_pool_threads_added_total", {{"pool", "process"}});
  ASSERT_TRUE(added.has_value());
  EXPECT_LT(*added, kStuck / 2);

  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
}

}  // namespace

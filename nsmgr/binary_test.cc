// The nsmgr binary as a process: --help, invalid environment, start on a temp unix socket without a
// domain registry, health of every service, a forwarder registered and found over gRPC, SIGTERM.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>

#include "api/path.h"
#include "connection.grpc.pb.h"
#include "core/grpc_server.h"
#include "core/metrics/read.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice.grpc.pb.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"
#include "testing/process.h"

namespace {

using nsm::testing::Process;
using ::testing::HasSubstr;

std::string Binary() {
  if (const char* env = std::getenv("NSMGR_BIN")) return env;
#ifdef NSMGR_BIN
  return NSMGR_BIN;
#else
  return "nsmgr/nsmgr";  // Bazel runfiles
#endif
}

class NsmgrBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-nsmgrbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
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
  const std::string url = "unix://" + dir_ + "/nsm.io.sock";
  Process p(Binary(), dir_, "nsmgr", {},
            {"NSM_NAME=nsmgr-test", "NSM_LISTEN_ON=" + url,
             "NSM_REGISTRY_URL=", "NSM_METRICS_LISTEN_ON=127.0.0.1:0"});
  ASSERT_TRUE(p.started());
  ASSERT_TRUE(p.WaitForOutput([](const std::string& s) {
    return s.find("listening on") != s.npos;
  })) << p.err();
  const std::string log = p.err();
  const std::string marker = "metrics: serving http://";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const size_t start = at + marker.size();
  const std::string address = log.substr(start, log.find("/metrics", start) - start);

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
  ::networkservice::NetworkServiceRequest req;
  req.mutable_connection()->set_id("nsc-1");
  req.mutable_connection()->set_network_service("no-such-service");
  auto* seg = req.mutable_connection()->mutable_path()->add_path_segments();
  seg->set_name("nsc");
  seg->set_id("nsc-1");
  *seg->mutable_expires() = nsm::api::ToProtoTimestamp(absl::Now() + absl::Minutes(10));
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
  EXPECT_GE(ValueInText(*page, "nsm_pool_threads").value_or(0), 4) << *page;
  EXPECT_TRUE(ValueInText(*page, "nsm_pool_threads_added_total").has_value());
  monitor_ctx.TryCancel();
  while (reader->Read(&initial)) {
  }
  reader->Finish();

  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
}

}  // namespace

// The nsmgr binary as a process: --help, invalid environment, start on a temp unix socket without a
// domain registry, health of every service, a forwarder registered and found over gRPC, SIGTERM.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>

#include "core/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
                        "NSM_LOG_LEVEL", "NODE_NAME"}) {
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

}  // namespace

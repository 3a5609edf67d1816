// The forwarder binary as a process: --help, unknown argument, invalid environment, and a run
// against an in-process registry standing in for the nsmgr: it serves health, registers itself
// under "forwarder" with its labels, serves /metrics (NSM_METRICS_LISTEN_ON), and unregisters and
// removes its socket on SIGTERM.
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "core/credentials.h"
#include "core/eventually.h"
#include "core/grpc_server.h"
#include "core/metrics/read.h"
#include "gtest/gtest.h"
#include "reference/common/subprocess.h"
#include "registry/chains/memory.h"
#include "registry/transport/server.h"

namespace nsm::forwarder {
namespace {

using reference::Subprocess;

std::string Binary() {
  if (const char* env = std::getenv("FORWARDER_BIN")) return env;
#ifdef FORWARDER_BIN
  return FORWARDER_BIN;
#else
  return "reference/forwarder/forwarder";  // Bazel runfiles
#endif
}

class ForwarderBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-fwdbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Subprocess> Start(std::vector<std::string> args, std::vector<std::string> env) {
    return std::make_unique<Subprocess>(Binary(), std::move(args), std::move(env), dir_,
                                        "forwarder");
  }
  std::string dir_;
};

TEST_F(ForwarderBinaryTest, HelpListsTheVariables) {
  auto p = Start({"--help"}, {});
  EXPECT_EQ(p->Wait(), 0);
  const std::string out = p->out();
  for (const char* v :
       {"NSM_NAME", "NSM_LISTEN_ON", "NSM_CONNECT_TO", "NSM_NSNAME",
        "NSM_FORWARDER_NETWORK_SERVICE_NAME", "NSM_LABELS", "default p2p:true", "NSM_TUNNEL_IP",
        "NSM_VXLAN_PORT", "default 4789", "NSM_WIREGUARD_PUBLIC_KEY", "NSM_VLAN_IDS",
        "NSM_DIAL_TIMEOUT", "NSM_MAX_TOKEN_LIFETIME", "default 10m", "NSM_LOG_LEVEL",
        "NSM_METRICS_LISTEN_ON"}) {
    EXPECT_NE(out.find(v), std::string::npos) << v << " missing in:\n" << out;
  }
}

TEST_F(ForwarderBinaryTest, UnknownArgumentIsRefused) {
  auto p = Start({"--listen"}, {});
  EXPECT_EQ(p->Wait(), 2);
  EXPECT_NE(p->err().find("--listen"), std::string::npos) << p->err();
}

TEST_F(ForwarderBinaryTest, InvalidEnvironmentStopsStartUp) {
  auto p = Start({}, {"NSM_LISTEN_ON=unix://" + dir_ + "/f.sock", "NSM_VXLAN_PORT=abc"});
  EXPECT_EQ(p->Wait(), 1);
  EXPECT_NE(p->err().find("NSM_VXLAN_PORT=\"abc\""), std::string::npos) << p->err();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/f.sock"));
  auto m = Start({}, {"NSM_LISTEN_ON=unix://" + dir_ + "/f.sock",
                      "NSM_METRICS_LISTEN_ON=tcp://metrics.example:9090"});
  EXPECT_EQ(m->Wait(), 1);
  EXPECT_NE(m->err().find("NSM_METRICS_LISTEN_ON=\"tcp://metrics.example:9090\" is invalid: the "
                          "host \"metrics.example\" is not an IP address"),
            std::string::npos)
      << m->err();
}

TEST_F(ForwarderBinaryTest, RegistersWithItsNsmgrAndUnregistersOnSigterm) {
  auto registry = reg::chains::NewMemoryRegistry({});
  auto server = reg::transport::RegistryGrpcServer::Start(
      registry.ns, registry.nse,
      {.listen_on = {"unix://" + dir_ + "/nsmgr.sock"}, .credentials = MakeInsecureCredentials()});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = "unix://" + dir_ + "/run/forwarder.sock";
  auto p = Start(
      {}, {"NSM_NAME=fwd-1", "NSM_LISTEN_ON=" + url,
           "NSM_CONNECT_TO=unix://" + dir_ + "/nsmgr.sock", "NSM_LABELS=p2p:true,x:y",
           "NSM_TUNNEL_IP=10.0.0.1", "NSM_LOG_LEVEL=debug", "NSM_METRICS_LISTEN_ON=127.0.0.1:0"});
  auto registered = [&]() -> std::optional<::registry::NetworkServiceEndpoint> {
    ::registry::NetworkServiceEndpointQuery q;
    q.mutable_network_service_endpoint()->set_name("fwd-1");
    auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
    if (!registry.nse->Find(Context(), q, s).ok()) return std::nullopt;
    auto items = s->Drain();
    if (items.empty()) return std::nullopt;
    return items[0].network_service_endpoint();
  };
  ASSERT_TRUE(Eventually([&] { return registered().has_value() || !p->running(); })) << p->err();
  auto nse = registered();
  ASSERT_TRUE(nse.has_value()) << p->err();
  EXPECT_EQ(nse->url(), url);
  EXPECT_EQ(nse->network_service_names(0), "forwarder");
  const auto& labels = nse->network_service_labels().at("forwarder").labels();
  EXPECT_EQ(labels.at("p2p"), "true");
  EXPECT_EQ(labels.at("x"), "y");

  auto channel = grpc::CreateChannel("unix:" + dir_ + "/run/forwarder.sock",
                                     grpc::InsecureChannelCredentials());
  auto health = CheckHealth(channel, "networkservice.NetworkService");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  EXPECT_EQ(*CheckHealth(channel, "connection.MonitorConnection"), "SERVING");
  channel.reset();
  // /metrics on the address the start-up log names: the forwarder's series exist.
  const std::string marker = "metrics: serving http://";
  const std::string log = p->err();
  ASSERT_NE(log.find(marker), std::string::npos) << log;
  const size_t start = log.find(marker) + marker.size();
  auto page = metrics::HttpGet(log.substr(start, log.find("/metrics", start) - start));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::ValueInText(*page, "nsm_monitor_streams"), 0) << *page;
  EXPECT_EQ(metrics::ValueInText(*page, "nsm_networkservice_request_duration_seconds_count",
                                 {{"kind", "request"}}),
            0);

  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->err();
  EXPECT_FALSE(registered().has_value()) << "unregistered on SIGTERM";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run/forwarder.sock"));
  const std::string err = p->err();
  EXPECT_NE(err.find("insecure"), std::string::npos) << "the insecure mode is never silent";
  EXPECT_NE(err.find("stopped"), std::string::npos) << err;
}

TEST_F(ForwarderBinaryTest, SigtermWhileWaitingForTheNsmgrStopsCleanly) {
  // Listening on every address: the URL it would register is not dialable, which it says.
  auto p = Start({}, {"NSM_LISTEN_ON=tcp://:0", "NSM_CONNECT_TO=unix://" + dir_ + "/nobody.sock"});
  ASSERT_TRUE(Eventually([&] { return p->err().find("attempt 1 failed") != std::string::npos; }))
      << p->err();
  EXPECT_NE(p->err().find("names no host"), std::string::npos) << p->err();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->err();
}

}  // namespace
}  // namespace nsm::forwarder

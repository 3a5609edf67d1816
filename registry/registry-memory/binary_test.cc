// The registry-memory binary as a process: --help, invalid environment, start on a temp unix
// socket, register and find over gRPC, the expire period taken from the environment, SIGTERM,
// JSON log lines and the level signals SIGUSR1/SIGUSR2 (docs/logging.md).
// Waits are bounded real-time waits for the process and its socket.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/metrics/read.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"
#include "testing/process.h"

namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

constexpr absl::Duration kWait = absl::Seconds(30);

std::string Binary() {
  if (const char* env = std::getenv("REGISTRY_MEMORY_BIN")) return env;
#ifdef REGISTRY_MEMORY_BIN
  return REGISTRY_MEMORY_BIN;
#else
  return "registry/registry-memory/registry-memory";  // Bazel runfiles
#endif
}

// A registry-memory process with its output in `dir`.
class Process : public nsm::testing::Process {
 public:
  Process(const std::string& dir, std::vector<std::string> args, std::vector<std::string> env)
      : nsm::testing::Process(Binary(), dir, "registry-memory", std::move(args), std::move(env)) {
    EXPECT_TRUE(started()) << "cannot start " << Binary();
  }
};

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-regbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Waits until the registry answers on `url`.
  std::shared_ptr<grpc::Channel> Connect(const std::string& url) {
    auto channel = channels_->Get(url);
    EXPECT_TRUE(channel.ok());
    EXPECT_TRUE((*channel)->WaitForConnected(std::chrono::system_clock::now() +
                                             absl::ToChronoSeconds(kWait)))
        << "registry-memory did not come up on " << url;
    return *channel;
  }

  std::string dir_;
  std::shared_ptr<nsm::reg::transport::ChannelPool> channels_ =
      std::make_shared<nsm::reg::transport::ChannelPool>(nsm::MakeInsecureCredentials());
};

TEST_F(BinaryTest, HelpListsTheVariables) {
  Process p(dir_, {"--help"}, {});
  EXPECT_EQ(p.Wait(), 0);
  const std::string out = p.out();
  for (const char* v :
       {"NSM_LISTEN_ON", "REGISTRY_MEMORY_LISTEN_ON", "unix:///listen.on.socket",
        "NSM_PROXY_REGISTRY_URL", "NSM_EXPIRE_PERIOD", "default 1m", "NSM_LOG_LEVEL",
        "default INFO", "SPIFFE_ENDPOINT_SOCKET", "NSM_METRICS_LISTEN_ON"}) {
    EXPECT_NE(out.find(v), std::string::npos) << v << " missing in:\n" << out;
  }
}

TEST_F(BinaryTest, UnknownArgumentIsRefused) {
  Process p(dir_, {"--listen"}, {});
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.err().find("--listen"), std::string::npos) << p.err();
}

TEST_F(BinaryTest, InvalidEnvironmentStopsStartUp) {
  Process p(dir_, {}, {"NSM_LISTEN_ON=unix://" + dir_ + "/r.sock", "NSM_EXPIRE_PERIOD=abc"});
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.err().find("NSM_EXPIRE_PERIOD=\"abc\""), std::string::npos) << p.err();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/r.sock"));
}

TEST_F(BinaryTest, InvalidMetricsAddressStopsStartUp) {
  Process p(dir_, {}, {"NSM_LISTEN_ON=unix://" + dir_ + "/r.sock", "NSM_METRICS_LISTEN_ON=9090"});
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.err().find("NSM_METRICS_LISTEN_ON=\"9090\" is invalid"), std::string::npos)
      << p.err();
}

// NSM_METRICS_LISTEN_ON on port 0: the address from the start-up log serves /metrics with the
// registrations, finds and the open watch made here.
TEST_F(BinaryTest, ServesMetrics) {
  const std::string url = "unix://" + dir_ + "/registry.sock";
  Process p(dir_, {}, {"NSM_LISTEN_ON=" + url, "NSM_METRICS_LISTEN_ON=127.0.0.1:0"});
  auto channel = Connect(url);
  const std::string marker = "metrics: serving http://";
  ASSERT_TRUE(p.WaitForOutput([&](const std::string& s) { return s.find(marker) != s.npos; }))
      << p.err();
  const std::string log = p.err();
  const size_t start = log.find(marker) + marker.size();
  const std::string address = log.substr(start, log.find("/metrics", start) - start);

  nsm::reg::transport::NSERegistryGrpcClient client(channel, url);
  NSE nse;
  nse.set_name("nse-1");
  nse.set_url("tcp://10.0.0.1:5001");
  nse.add_network_service_names("ns-1");
  ASSERT_TRUE(client.Register(nsm::Context(), nse, {}, {}).ok());
  NSE bad;
  ASSERT_FALSE(client.Register(nsm::Context(), bad, {}, {}).ok());
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("nse-1");
  auto found = nsm::BufferedFindStream<NSEResponse>::Create(nsm::Context());
  ASSERT_TRUE(client.Find(nsm::Context(), q, found, {}, {}).ok());
  q.set_watch(true);
  auto [watch_ctx, cancel_watch] = nsm::Context().WithCancel();
  auto watch = nsm::BufferedFindStream<NSEResponse>::Create(watch_ctx);
  ASSERT_TRUE(client.Find(watch_ctx, q, watch, {}, {}).ok());
  ASSERT_TRUE(watch->Recv(kWait).has_value());  // the current registration: the watch is set up

  using nsm::metrics::ValueInText;
  std::string page;
  const absl::Time deadline = absl::Now() + kWait;
  do {  // the server counts the watch right after sending the current matches
    auto got = nsm::metrics::HttpGet(address);
    ASSERT_TRUE(got.ok()) << got.status();
    page = *got;
  } while (ValueInText(page, "nsm_registry_watch_streams", {{"registry", "nse"}}) != 1 &&
           absl::Now() < deadline);
  EXPECT_EQ(ValueInText(page, "nsm_registry_watch_streams", {{"registry", "nse"}}), 1) << page;
  // The registry services' own pool runs the calls above; the process pool runs timer work.
  EXPECT_GE(ValueInText(page, "nsm_pool_threads", {{"pool", "registry"}}).value_or(0), 4);
  EXPECT_GE(ValueInText(page, "nsm_pool_threads", {{"pool", "process"}}).value_or(0), 4);
  // Both services admit their calls (registry/transport/service.h); none waits now.
  EXPECT_EQ(ValueInText(page, "nsm_registry_queued_calls", {{"registry", "ns"}}), 0) << page;
  EXPECT_EQ(ValueInText(page, "nsm_registry_queued_calls", {{"registry", "nse"}}), 0) << page;
  EXPECT_EQ(ValueInText(page, "nsm_registry_shed_total",
                        {{"registry", "nse"}, {"kind", "new"}, {"reason", "refused"}}),
            0);
  EXPECT_EQ(
      ValueInText(page, "nsm_registry_registers_total", {{"registry", "nse"}, {"result", "ok"}}), 1)
      << page;
  EXPECT_EQ(ValueInText(page, "nsm_registry_registers_total",
                        {{"registry", "nse"}, {"result", "INVALID_ARGUMENT"}}),
            1);
  EXPECT_EQ(ValueInText(page, "nsm_registry_finds_total",
                        {{"registry", "nse"}, {"watch", "false"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(ValueInText(page, "nsm_registry_finds_total",
                        {{"registry", "nse"}, {"watch", "true"}, {"result", "ok"}}),
            1);
  cancel_watch();
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
}

TEST_F(BinaryTest, ListenFailureStopsStartUp) {
  std::ofstream(dir_ + "/file") << "not a directory";
  Process p(dir_, {}, {"NSM_LISTEN_ON=unix://" + dir_ + "/file/r.sock"});
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.err().find("cannot listen on unix://" + dir_ + "/file/r.sock"), std::string::npos)
      << p.err();
}

TEST_F(BinaryTest, ServesRegistersFindsAndStopsOnSigterm) {
  const std::string url = "unix://" + dir_ + "/run/registry.sock";
  Process p(dir_, {}, {"NSM_LISTEN_ON=" + url, "NSM_LOG_LEVEL=debug"});
  {
    auto channel = Connect(url);
    nsm::reg::transport::NSERegistryGrpcClient client(channel, url);
    NSE nse;
    nse.set_name("nse-1");
    nse.set_url("tcp://10.0.0.1:5001");
    nse.add_network_service_names("ns-1");
    auto r = client.Register(nsm::Context(), nse, {}, {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NEAR(
        absl::ToDoubleSeconds(absl::FromUnixSeconds(r->expiration_time().seconds()) - absl::Now()),
        60, 10);
    NSEQuery q;
    q.mutable_network_service_endpoint()->set_name("nse-1");
    auto s = nsm::BufferedFindStream<NSEResponse>::Create(nsm::Context());
    ASSERT_TRUE(client.Find(nsm::Context(), q, s, {}, {}).ok());
    EXPECT_EQ(s->Drain().size(), 1u);
    NSE bad;
    EXPECT_EQ(client.Register(nsm::Context(), bad, {}, {}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }  // the connection closes: an idle C++ client would see the GOAWAY only on its next poll
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run/registry.sock"));
  const std::string err = p.err();
  EXPECT_NE(err.find("insecure"), std::string::npos) << "the insecure mode is never silent";
  EXPECT_NE(err.find("stopped"), std::string::npos) << err;
}

TEST_F(BinaryTest, JsonLinesAndLevelSignals) {
  const std::string url = "unix://" + dir_ + "/registry.sock";
  Process p(dir_, {}, {"NSM_LISTEN_ON=" + url, "NSM_LOG_FORMAT=json"});
  auto has = [](const std::string& s) {
    return [s](const std::string& out) { return out.find(s) != std::string::npos; };
  };
  {
    auto channel = Connect(url);
    nsm::reg::transport::NSERegistryGrpcClient client(channel, url);
    NSE nse;
    nse.set_name("nse-1");
    nse.set_url("tcp://10.0.0.1:5001");
    nse.add_network_service_names("ns-1");
    ASSERT_TRUE(client.Register(nsm::Context(), nse, {}, {}).ok());
    ASSERT_TRUE(p.WaitForOutput(has("startup completed"), kWait)) << p.err();
    EXPECT_EQ(p.err().find("\"msg\":\"register\""), std::string::npos) << "info: no debug lines";

    p.Signal(SIGUSR1);
    ASSERT_TRUE(p.WaitForOutput(has("log level is now DEBUG (SIGUSR1)"), kWait)) << p.err();
    ASSERT_TRUE(client.Register(nsm::Context(), nse, {}, {}).ok());
    ASSERT_TRUE(p.WaitForOutput(has("\"msg\":\"register\""), kWait)) << p.err();
  }  // the connection closes, so the stop does not wait for it

  p.Signal(SIGUSR2);
  ASSERT_TRUE(p.WaitForOutput(has("log level is now INFO (SIGUSR2)"), kWait)) << p.err();
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.err();

  int lines = 0;
  bool debug_register = false;
  for (absl::string_view line : absl::StrSplit(p.err(), '\n', absl::SkipEmpty())) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    for (const char* key : {"time", "level", "component", "msg"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
    }
    if (j["msg"] == "register") {
      debug_register = true;
      EXPECT_EQ(j["level"], "debug");
      EXPECT_EQ(j["name"], "nse-1");
      EXPECT_EQ(j["outcome"], "ok");
    }
    ++lines;
  }
  EXPECT_TRUE(debug_register);
  EXPECT_GE(lines, 6) << p.err();
}

TEST_F(BinaryTest, OldPrefixAndExpirePeriodFromTheEnvironment) {
  const std::string url = "unix://" + dir_ + "/registry.sock";
  Process p(dir_, {}, {"REGISTRY_MEMORY_LISTEN_ON=" + url, "REGISTRY_MEMORY_EXPIRE_PERIOD=10s"});
  {
    auto channel = Connect(url);
    nsm::reg::transport::NSERegistryGrpcClient client(channel, url);
    NSE nse;
    nse.set_name("nse-1");
    auto r = client.Register(nsm::Context(), nse, {}, {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NEAR(
        absl::ToDoubleSeconds(absl::FromUnixSeconds(r->expiration_time().seconds()) - absl::Now()),
        10, 5);
  }
  p.Signal(SIGINT);
  EXPECT_EQ(p.Wait(), 0) << p.err();
}

}  // namespace

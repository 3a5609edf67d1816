// The three reference binaries as processes, with an in-process registry standing in for the
// nsmgr: nse and forwarder start and register, `nsc --once` requests through the forwarder and
// prints the connection as JSON, then SIGTERM unregisters both and they exit 0.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/credentials.h"
#include "core/eventually.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reference/common/subprocess.h"
#include "registry/chains/memory.h"
#include "registry/transport/server.h"

namespace nsm::reference {
namespace {

std::string Bin(const char* env, const char* built, const char* runfile) {
  if (const char* v = std::getenv(env)) return v;
  return *built ? built : runfile;
}

#ifndef FORWARDER_BIN
#define FORWARDER_BIN ""
#endif
#ifndef NSE_BIN
#define NSE_BIN ""
#endif
#ifndef NSC_BIN
#define NSC_BIN ""
#endif

class BinariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-refbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
    registry_ = reg::chains::NewMemoryRegistry({});
    auto s =
        reg::transport::RegistryGrpcServer::Start(registry_.ns, registry_.nse,
                                                  {.listen_on = {"unix://" + dir_ + "/nsmgr.sock"},
                                                   .credentials = MakeInsecureCredentials()});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  bool Registered(const std::string& name) {
    ::registry::NetworkServiceEndpointQuery q;
    q.mutable_network_service_endpoint()->set_name(name);
    auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
    if (!registry_.nse->Find(Context(), q, s).ok()) return false;
    return !s->Drain().empty();
  }

  std::string dir_;
  reg::chains::MemoryRegistry registry_;
  std::unique_ptr<reg::transport::RegistryGrpcServer> server_;
};

TEST_F(BinariesTest, NscRequestsThroughTheForwarderToTheNse) {
  const std::string nsmgr = "NSM_CONNECT_TO=unix://" + dir_ + "/nsmgr.sock";
  Subprocess nse(Bin("NSE_BIN", NSE_BIN, "reference/nse/nse"), {},
                 {nsmgr, "NSM_LISTEN_ON=unix://" + dir_ + "/nse.sock", "NSM_SERVICE_NAMES=icmp",
                  "NSM_LABELS=app:icmp"},
                 dir_, "nse");
  Subprocess fwd(Bin("FORWARDER_BIN", FORWARDER_BIN, "reference/forwarder/forwarder"), {},
                 {nsmgr, "NSM_LISTEN_ON=unix://" + dir_ + "/fwd.sock", "NSM_TUNNEL_IP=10.0.0.1"},
                 dir_, "forwarder");
  ASSERT_TRUE(Eventually([&] {
    return (Registered("icmp-server") && Registered("forwarder")) || !nse.running() ||
           !fwd.running();
  })) << nse.err()
      << fwd.err();
  ASSERT_TRUE(nse.running()) << nse.err();
  ASSERT_TRUE(fwd.running()) << fwd.err();

  Subprocess nsc(Bin("NSC_BIN", NSC_BIN, "reference/nsc/nsc"), {"--once"},
                 {"NSM_CONNECT_TO=unix://" + dir_ + "/fwd.sock",
                  "NSM_NETWORK_SERVICES=kernel://icmp/nsm-1?app=demo", "NSM_OUTPUT=json"},
                 dir_, "nsc");
  ASSERT_EQ(nsc.Wait(), 0) << nsc.err() << fwd.err() << nse.err();
  std::istringstream lines(nsc.out());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << nsc.out();
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["id"], "nsc-0");
  ASSERT_EQ(j["path"].size(), 3u) << line;
  EXPECT_EQ(j["path"][0]["name"], "nsc");
  EXPECT_EQ(j["path"][1]["name"], "forwarder");
  EXPECT_EQ(j["path"][2]["name"], "icmp-server");
  EXPECT_EQ(j["mechanism"]["type"], "KERNEL");
  EXPECT_EQ(j["mechanism"]["parameters"]["name"], "nsm-1");
  EXPECT_EQ(j["src_ip_addrs"][0], "169.254.0.1/32");
  EXPECT_EQ(j["dst_ip_addrs"][0], "169.254.0.0/32");
  EXPECT_EQ(line.find("token"), std::string::npos) << "no tokens printed";
  EXPECT_NE(nsc.err().find("closed nsc-0"), std::string::npos) << nsc.err();

  fwd.Signal(SIGTERM);
  nse.Signal(SIGTERM);
  EXPECT_EQ(fwd.Wait(), 0) << fwd.err();
  EXPECT_EQ(nse.Wait(), 0) << nse.err();
  EXPECT_FALSE(Registered("forwarder"));
  EXPECT_FALSE(Registered("icmp-server"));
}

TEST_F(BinariesTest, NscHoldsUntilSigtermThenCloses) {
  const std::string nsmgr = "NSM_CONNECT_TO=unix://" + dir_ + "/nsmgr.sock";
  Subprocess nse(Bin("NSE_BIN", NSE_BIN, "reference/nse/nse"), {},
                 {nsmgr, "NSM_LISTEN_ON=unix://" + dir_ + "/nse.sock", "NSM_SERVICE_NAMES=icmp"},
                 dir_, "nse");
  Subprocess fwd(Bin("FORWARDER_BIN", FORWARDER_BIN, "reference/forwarder/forwarder"), {},
                 {nsmgr, "NSM_LISTEN_ON=unix://" + dir_ + "/fwd.sock"}, dir_, "forwarder");
  ASSERT_TRUE(Eventually([&] {
    return (Registered("icmp-server") && Registered("forwarder")) || !nse.running() ||
           !fwd.running();
  }));
  Subprocess nsc(Bin("NSC_BIN", NSC_BIN, "reference/nsc/nsc"), {},
                 {"NSM_CONNECT_TO=unix://" + dir_ + "/fwd.sock",
                  "NSM_NETWORK_SERVICES=kernel://icmp,memif://icmp"},
                 dir_, "nsc");
  ASSERT_TRUE(Eventually([&] {
    return nsc.err().find("holding the connections") != std::string::npos || !nsc.running();
  })) << nsc.err();
  const std::string out = nsc.out();
  EXPECT_NE(out.find("connection nsc-0"), std::string::npos) << out;
  EXPECT_NE(out.find("connection nsc-1"), std::string::npos) << out;
  EXPECT_NE(out.find("LOCAL/MEMIF"), std::string::npos) << out;
  nsc.Signal(SIGTERM);
  EXPECT_EQ(nsc.Wait(), 0) << nsc.err();
  EXPECT_NE(nsc.err().find("closed nsc-1"), std::string::npos) << nsc.err();
  fwd.Signal(SIGTERM);
  nse.Signal(SIGTERM);
  EXPECT_EQ(fwd.Wait(), 0);
  EXPECT_EQ(nse.Wait(), 0);
}

}  // namespace
}  // namespace nsm::reference

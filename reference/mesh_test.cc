// The reference binaries in a two-node mesh with the real nsmgr and registry-memory binaries, all
// as processes: nsc -> nsmgr A -> forwarder A -> nsmgr B -> forwarder B -> nse (6 segments), with
// VXLAN negotiated between the forwarders across the nsmgrs (B's end and an even VNI, since
// 10.0.0.1 <= 10.0.0.2) and KERNEL at both ends. CMake only: the nsmgr and registry-memory
// binaries are not visible to this package in Bazel.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "core/eventually.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reference/common/subprocess.h"

namespace nsm::reference {
namespace {

#ifndef FORWARDER_BIN
#define FORWARDER_BIN "reference/forwarder/forwarder"
#endif
#ifndef NSE_BIN
#define NSE_BIN "reference/nse/nse"
#endif
#ifndef NSC_BIN
#define NSC_BIN "reference/nsc/nsc"
#endif
#ifndef NSMGR_BIN
#define NSMGR_BIN "nsmgr/nsmgr-bin"
#endif
#ifndef REGISTRY_MEMORY_BIN
#define REGISTRY_MEMORY_BIN "registry/registry-memory/registry-memory"
#endif

// A loopback port nobody listens on right now (bind to 0, read it, close).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-mesh-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    procs_.clear();
    std::filesystem::remove_all(dir_);
  }
  Subprocess& Start(const std::string& name, const std::string& bin, std::vector<std::string> env,
                    std::vector<std::string> args = {}) {
    procs_.push_back(
        std::make_unique<Subprocess>(bin, std::move(args), std::move(env), dir_, name));
    EXPECT_TRUE(procs_.back()->started()) << bin;
    return *procs_.back();
  }
  static bool Logged(Subprocess& p, const std::string& what) {
    return Eventually([&] { return p.err().find(what) != std::string::npos || !p.running(); }) &&
           p.err().find(what) != std::string::npos;
  }
  std::string Unix(const std::string& name) { return "unix://" + dir_ + "/" + name + ".sock"; }

  std::string dir_;
  std::vector<std::unique_ptr<Subprocess>> procs_;
};

TEST_F(MeshTest, RemoteEndpointThroughTwoNsmgrsWithVxlanBetweenTheForwarders) {
  const int port_a = FreePort(), port_b = FreePort();
  ASSERT_NE(port_a, 0);
  ASSERT_NE(port_b, 0);
  auto& registry = Start("registry", REGISTRY_MEMORY_BIN, {"NSM_LISTEN_ON=" + Unix("registry")});
  ASSERT_TRUE(Logged(registry, "listening on")) << registry.err();
  auto& nsmgr_a =
      Start("nsmgr-a", NSMGR_BIN,
            {"NSM_NAME=nsmgr-a", "NODE_NAME=node-a",
             "NSM_LISTEN_ON=" + Unix("nsmgr-a") + ",tcp://127.0.0.1:" + std::to_string(port_a),
             "NSM_REGISTRY_URL=" + Unix("registry")});
  auto& nsmgr_b =
      Start("nsmgr-b", NSMGR_BIN,
            {"NSM_NAME=nsmgr-b", "NODE_NAME=node-b",
             "NSM_LISTEN_ON=" + Unix("nsmgr-b") + ",tcp://127.0.0.1:" + std::to_string(port_b),
             "NSM_REGISTRY_URL=" + Unix("registry")});
  ASSERT_TRUE(Logged(nsmgr_a, "listening on")) << nsmgr_a.err();
  ASSERT_TRUE(Logged(nsmgr_b, "listening on")) << nsmgr_b.err();
  auto& fwd_a =
      Start("fwd-a", FORWARDER_BIN,
            {"NSM_NAME=fwd-a", "NSM_LISTEN_ON=" + Unix("fwd-a"),
             "NSM_CONNECT_TO=" + Unix("nsmgr-a"), "NSM_TUNNEL_IP=10.0.0.1", "NSM_LOG_LEVEL=debug"});
  auto& fwd_b = Start(
      "fwd-b", FORWARDER_BIN,
      {"NSM_NAME=fwd-b", "NSM_LISTEN_ON=" + Unix("fwd-b"), "NSM_CONNECT_TO=" + Unix("nsmgr-b"),
       "NSM_TUNNEL_IP=10.0.0.2", "NSM_VXLAN_PORT=4790", "NSM_LOG_LEVEL=debug"});
  auto& nse = Start("nse", NSE_BIN,
                    {"NSM_NAME=nse-b", "NSM_LISTEN_ON=" + Unix("nse"),
                     "NSM_CONNECT_TO=" + Unix("nsmgr-b"), "NSM_SERVICE_NAMES=icmp"});
  ASSERT_TRUE(Logged(fwd_a, "startup completed")) << fwd_a.err();
  ASSERT_TRUE(Logged(fwd_b, "startup completed")) << fwd_b.err();
  ASSERT_TRUE(Logged(nse, "startup completed")) << nse.err();

  auto& nsc =
      Start("nsc", NSC_BIN,
            {"NSM_CONNECT_TO=" + Unix("nsmgr-a"), "NSM_NETWORK_SERVICES=kernel://icmp/nsm-1",
             "NSM_OUTPUT=json", "NSM_REQUEST_TIMEOUT=20s"},
            {"--once"});
  ASSERT_EQ(nsc.Wait(), 0) << nsc.err() << "\n" << fwd_a.err() << "\n" << fwd_b.err();
  std::istringstream lines(nsc.out());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << nsc.out();
  auto j = nlohmann::json::parse(line);
  std::vector<std::string> names;
  for (const auto& s : j["path"]) names.push_back(s["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"nsc", "nsmgr-a", "fwd-a", "nsmgr-b", "fwd-b", "nse-b"}));
  EXPECT_EQ(j["mechanism"]["type"], "KERNEL");
  EXPECT_EQ(j["src_ip_addrs"][0], "169.254.0.1/32");

  EXPECT_NE(fwd_a.err().find("tcp://127.0.0.1:" + std::to_string(port_b) + " chose REMOTE/VXLAN"),
            std::string::npos)
      << fwd_a.err();
  std::smatch m;
  const std::string b_log = fwd_b.err();
  ASSERT_TRUE(std::regex_search(
      b_log, m,
      std::regex(R"(VXLAN for \S+: src_ip 10\.0\.0\.1, dst_ip 10\.0\.0\.2:4790, vni (\d+))")))
      << b_log;
  EXPECT_EQ(std::stoul(m[1].str()) % 2, 0u) << "10.0.0.1 <= 10.0.0.2: even";
  EXPECT_NE(b_log.find("chose LOCAL/KERNEL"), std::string::npos) << b_log;

  for (auto* p : {&nse, &fwd_b, &fwd_a}) p->Signal(SIGTERM);
  EXPECT_EQ(nse.Wait(), 0) << nse.err();
  EXPECT_EQ(fwd_b.Wait(), 0) << fwd_b.err();
  EXPECT_EQ(fwd_a.Wait(), 0) << fwd_a.err();
}

}  // namespace
}  // namespace nsm::reference

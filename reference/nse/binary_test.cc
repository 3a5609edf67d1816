// The nse binary as a process: --help, unknown argument, and invalid environment. Running it
// against a registry with the forwarder and nsc binaries is reference/binaries_test.cc.
#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "reference/common/subprocess.h"

namespace nsm::nse {
namespace {

using reference::Subprocess;

std::string Binary() {
  if (const char* env = std::getenv("NSE_BIN")) return env;
#ifdef NSE_BIN
  return NSE_BIN;
#else
  return "reference/nse/nse";  // Bazel runfiles
#endif
}

class NseBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-nsebin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NseBinaryTest, HelpListsTheVariables) {
  Subprocess p(Binary(), {"--help"}, {}, dir_, "nse");
  EXPECT_EQ(p.Wait(), 0);
  const std::string out = p.out();
  for (const char* v :
       {"NSM_NAME", "default icmp-server", "NSM_LISTEN_ON", "NSM_CONNECT_TO", "NSM_SERVICE_NAMES",
        "default icmp-responder", "NSM_LABELS", "NSM_PAYLOAD", "NSM_REGISTER_SERVICE",
        "NSM_CIDR_PREFIX", "default 169.254.0.0/16", "NSM_MAX_TOKEN_LIFETIME", "NSM_LOG_LEVEL"}) {
    EXPECT_NE(out.find(v), std::string::npos) << v << " missing in:\n" << out;
  }
}

TEST_F(NseBinaryTest, UnknownArgumentIsRefused) {
  Subprocess p(Binary(), {"-x"}, {}, dir_, "nse");
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.err().find("\"-x\""), std::string::npos) << p.err();
}

TEST_F(NseBinaryTest, InvalidEnvironmentStopsStartUp) {
  Subprocess p(Binary(), {}, {"NSM_CIDR_PREFIX=10.0.0.0/40"}, dir_, "nse");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.err().find("NSM_CIDR_PREFIX=\"10.0.0.0/40\""), std::string::npos) << p.err();
}

}  // namespace
}  // namespace nsm::nse

// The nsc binary as a process: --help, unknown argument, invalid environment, and a request to
// an nsmgr that is not there failing within NSM_REQUEST_TIMEOUT. Requesting through the forwarder
// and nse binaries is reference/binaries_test.cc.
#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "reference/common/subprocess.h"

namespace nsm::nsc {
namespace {

using reference::Subprocess;

std::string Binary() {
  if (const char* env = std::getenv("NSC_BIN")) return env;
#ifdef NSC_BIN
  return NSC_BIN;
#else
  return "reference/nsc/nsc";  // Bazel runfiles
#endif
}

class NscBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-nscbin-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NscBinaryTest, HelpListsTheVariablesAndFlags) {
  Subprocess p(Binary(), {"--help"}, {}, dir_, "nsc");
  EXPECT_EQ(p.Wait(), 0);
  const std::string out = p.out();
  for (const char* v :
       {"NSM_NAME", "NSM_CONNECT_TO", "NSM_NETWORK_SERVICES", "NSM_LABELS", "NSM_DIAL_TIMEOUT",
        "default 5s", "NSM_REQUEST_TIMEOUT", "default 15s", "NSM_MAX_TOKEN_LIFETIME", "NSM_OUTPUT",
        "NSM_METRICS_LISTEN_ON", "--once", "--output"}) {
    EXPECT_NE(out.find(v), std::string::npos) << v << " missing in:\n" << out;
  }
}

TEST_F(NscBinaryTest, UnknownArgumentIsRefused) {
  Subprocess p(Binary(), {"--twice"}, {}, dir_, "nsc");
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.err().find("\"--twice\""), std::string::npos) << p.err();
}

TEST_F(NscBinaryTest, InvalidEnvironmentStopsStartUp) {
  Subprocess p(Binary(), {"--once"}, {"NSM_NETWORK_SERVICES=kernel://"}, dir_, "nsc");
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.err().find("NSM_NETWORK_SERVICES=\"kernel://\""), std::string::npos) << p.err();
  Subprocess m(
      Binary(), {"--once"},
      {"NSM_NETWORK_SERVICES=kernel://icmp-responder", "NSM_METRICS_LISTEN_ON=127.0.0.1:http"},
      dir_, "nsc2");
  EXPECT_EQ(m.Wait(), 1);
  EXPECT_NE(m.err().find("NSM_METRICS_LISTEN_ON=\"127.0.0.1:http\" is invalid"), std::string::npos)
      << m.err();
}

TEST_F(NscBinaryTest, RequestFailsWithinTheTimeoutWhenNoNsmgrAnswers) {
  Subprocess p(Binary(), {"--once"},
               {"NSM_NETWORK_SERVICES=kernel://icmp-responder",
                "NSM_CONNECT_TO=unix://" + dir_ + "/nobody.sock", "NSM_DIAL_TIMEOUT=100ms",
                "NSM_REQUEST_TIMEOUT=1s"},
               dir_, "nsc");
  EXPECT_EQ(p.Wait(absl::Seconds(20)), 1) << p.err();
  EXPECT_NE(p.err().find("request for icmp-responder (nsc-0) failed"), std::string::npos)
      << p.err();
  EXPECT_EQ(p.out(), "");
}

}  // namespace
}  // namespace nsm::nsc

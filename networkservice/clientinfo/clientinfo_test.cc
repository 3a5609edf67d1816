// clientinfo: labels from the three variables, skipped when unset, empty values kept, existing
// labels never overwritten, Close untouched.
#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/clientinfo/server.h"

namespace nsm::clientinfo {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<Connection> RunChain(const EnvLookup& env, NetworkServiceRequest& req) {
  auto chain = MakeServerChain({NewServer(env)});
  return chain->Request(Context(), req);
}

TEST(ClientInfoTest, AddsAllThreeLabels) {
  NetworkServiceRequest req;
  auto conn = RunChain(
      FakeEnv({{"NODE_NAME", "node-1"}, {"POD_NAME", "nsmgr-x"}, {"CLUSTER_NAME", "cluster-a"}}),
      req);
  ASSERT_TRUE(conn.ok());
  EXPECT_THAT(conn->labels(),
              UnorderedElementsAre(Pair("nodeName", "node-1"), Pair("podName", "nsmgr-x"),
                                   Pair("clusterName", "cluster-a")));
}

TEST(ClientInfoTest, UnsetVariablesAreSkippedEmptyValuesKept) {
  NetworkServiceRequest req;
  auto conn = RunChain(FakeEnv({{"NODE_NAME", ""}}), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_THAT(conn->labels(), UnorderedElementsAre(Pair("nodeName", "")));
}

TEST(ClientInfoTest, ExistingLabelsAreNeverOverwritten) {
  NetworkServiceRequest req;
  (*req.mutable_connection()->mutable_labels())["nodeName"] = "from-client";
  (*req.mutable_connection()->mutable_labels())["app"] = "web";
  auto conn = RunChain(FakeEnv({{"NODE_NAME", "node-1"}, {"POD_NAME", "p"}}), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_THAT(conn->labels(), UnorderedElementsAre(Pair("nodeName", "from-client"),
                                                   Pair("app", "web"), Pair("podName", "p")));
}

TEST(ClientInfoTest, EnvironmentIsReadOnceAtConstruction) {
  int lookups = 0;
  auto server = NewServer([&](const std::string&) -> std::optional<std::string> {
    ++lookups;
    return "v";
  });
  auto chain = MakeServerChain({server});
  for (int i = 0; i < 3; ++i) {
    NetworkServiceRequest req;
    ASSERT_TRUE(chain->Request(Context(), req).ok());
  }
  EXPECT_EQ(lookups, 3);  // three variables, once
}

TEST(ClientInfoTest, ProcessEnvironmentAndNullLookup) {
  ::setenv("NSM_CLIENTINFO_TEST_VAR", "x", 1);
  EXPECT_EQ(ProcessEnv("NSM_CLIENTINFO_TEST_VAR"), "x");
  EXPECT_EQ(ProcessEnv("NSM_CLIENTINFO_TEST_UNSET_VAR"), std::nullopt);
  EXPECT_TRUE(ReadClientInfo(nullptr).empty());
}

TEST(ClientInfoTest, ClosePassesThroughUnchanged) {
  auto chain = MakeServerChain({NewServer(FakeEnv({{"NODE_NAME", "n"}}))});
  Connection c;
  c.set_id("x");
  EXPECT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_TRUE(c.labels().empty());
}

}  // namespace
}  // namespace nsm::clientinfo

// nsmctl arguments (issue #8): every command and flag form, the exact problem for bad arguments
// (exit 2), help with the exit codes, an unreachable target within the dial timeout (exit 1).
#include "tools/nsmctl/cli.h"

#include <sstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::nsmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Options Parse(std::vector<std::string> args) {
  auto o = ParseArgs(args);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : Options{};
}

std::string ParseError(std::vector<std::string> args) {
  auto o = ParseArgs(args);
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : std::string(o.status().message());
}

TEST(NsmctlParseArgsTest, GetForms) {
  Options o = Parse({"get", "nse", "--registry", "unix:///r.sock", "-o", "json"});
  EXPECT_EQ(o.verb, Verb::kGet);
  EXPECT_EQ(o.kind, Kind::kNSE);
  EXPECT_EQ(o.registry, "unix:///r.sock");
  EXPECT_TRUE(o.nsmgrs.empty());
  EXPECT_EQ(o.output, Output::kJson);

  o = Parse({"get", "connections", "--nsmgr=unix:///n.sock", "-owide"});
  EXPECT_EQ(o.kind, Kind::kConnections);
  EXPECT_EQ(o.nsmgrs, std::vector<std::string>{"unix:///n.sock"});
  EXPECT_EQ(o.output, Output::kWide);

  o = Parse({"get", "forwarders"});
  EXPECT_EQ(o.kind, Kind::kForwarders);
  EXPECT_EQ(o.nsmgrs, std::vector<std::string>{kDefaultNsmgrUrl}) << "the NSM default socket";
  EXPECT_EQ(o.forwarder_service, "forwarder");
  EXPECT_EQ(o.timeout, absl::Seconds(5));

  o = Parse({"get", "nse", "icmp-server", "--service", "icmp-responder", "--timeout", "1s",
             "--forwarder-service=fwd", "--dial-timeout=300ms", "--output=table"});
  EXPECT_EQ(o.name, "icmp-server");
  EXPECT_EQ(o.service, "icmp-responder");
  EXPECT_EQ(o.forwarder_service, "fwd");
  EXPECT_EQ(o.timeout, absl::Seconds(1));
  EXPECT_EQ(o.dial_timeout, absl::Milliseconds(300));
  EXPECT_EQ(o.output, Output::kTable);

  EXPECT_EQ(Parse({"get", "ns"}).kind, Kind::kNS);
  EXPECT_EQ(Parse({"get", "networkservices"}).kind, Kind::kNS);
  EXPECT_EQ(Parse({"get", "endpoints"}).kind, Kind::kNSE);
  EXPECT_EQ(Parse({"get", "conn"}).kind, Kind::kConnections);
}

TEST(NsmctlParseArgsTest, DescribeWatchGraph) {
  Options o = Parse({"describe", "nse", "icmp-server"});
  EXPECT_EQ(o.verb, Verb::kDescribe);
  EXPECT_EQ(o.name, "icmp-server");

  o = Parse({"watch", "connections", "--timeout", "3s", "-o", "json"});
  EXPECT_EQ(o.verb, Verb::kWatch);
  EXPECT_TRUE(o.timeout_given);
  EXPECT_EQ(o.output, Output::kJson);
  EXPECT_FALSE(Parse({"watch", "nse"}).timeout_given);

  o = Parse({"graph", "--nsmgr", "unix:///a.sock", "--nsmgr", "unix:///b.sock", "--registry",
             "unix:///r.sock", "-o", "svg", "--out", "/tmp/x.svg"});
  EXPECT_EQ(o.verb, Verb::kGraph);
  EXPECT_EQ(o.nsmgrs.size(), 2u);
  EXPECT_EQ(o.registry, "unix:///r.sock");
  EXPECT_TRUE(o.svg);
  EXPECT_EQ(o.out_file, "/tmp/x.svg");
  EXPECT_FALSE(Parse({"graph"}).svg);
  EXPECT_EQ(Parse({"graph"}).nsmgrs, std::vector<std::string>{kDefaultNsmgrUrl});
  EXPECT_EQ(Parse({"--help"}).verb, Verb::kHelp);
  EXPECT_EQ(Parse({"get", "-h"}).verb, Verb::kHelp);
}

TEST(NsmctlParseArgsTest, ExactProblems) {
  EXPECT_EQ(ParseError({}), "no command (want get, describe, watch or graph)");
  EXPECT_EQ(ParseError({"list"}), "unknown command \"list\" (want get, describe, watch or graph)");
  EXPECT_EQ(ParseError({"get"}), "get needs a resource type (ns, nse, forwarders or connections)");
  EXPECT_EQ(ParseError({"get", "pods"}),
            "unknown resource type \"pods\" (want ns, nse, forwarders or connections)");
  EXPECT_EQ(ParseError({"get", "nse", "--bogus"}), "unknown flag --bogus");
  EXPECT_EQ(ParseError({"get", "nse", "--nsmgr"}), "--nsmgr needs a value");
  EXPECT_EQ(ParseError({"get", "nse", "--nsmgr="}), "--nsmgr needs a non-empty value");
  EXPECT_EQ(ParseError({"get", "nse", "-o", "yaml"}),
            "-o yaml is not an output format of get (want table, wide or json)");
  EXPECT_EQ(ParseError({"watch", "nse", "-o", "wide"}),
            "-o wide is not an output format of watch (want table or json)");
  EXPECT_EQ(ParseError({"get", "nse", "--timeout", "soon"}),
            "--timeout=\"soon\" is not a positive duration (examples: 500ms, 5s, 2m)");
  EXPECT_EQ(ParseError({"get", "nse", "--timeout", "0s"}),
            "--timeout=\"0s\" is not a positive duration (examples: 500ms, 5s, 2m)");
  EXPECT_EQ(ParseError({"get", "nse", "--nsmgr", "unix:///a", "--registry", "unix:///b"}),
            "--nsmgr and --registry exclude each other (nsmctl asks one target)");
  EXPECT_EQ(ParseError({"get", "nse", "--nsmgr", "unix:///a", "--nsmgr", "unix:///b"}),
            "get asks one target; --nsmgr given 2 times");
  EXPECT_EQ(ParseError({"get", "connections", "--registry", "unix:///r"}),
            "connections are served by an nsmgr (MonitorConnections), not a registry: use --nsmgr");
  EXPECT_EQ(ParseError({"get", "ns", "--service", "x"}),
            "--service filters endpoints (nse), not ns");
  EXPECT_EQ(ParseError({"describe", "nse"}), "describe nse needs the endpoint's NAME");
  EXPECT_EQ(ParseError({"describe", "ns", "x"}), "describe supports nse, not ns");
  EXPECT_EQ(ParseError({"get", "nse", "a", "b"}), "unexpected argument \"b\"");
  EXPECT_EQ(ParseError({"get", "nse", "--out", "f"}), "--out is for graph");
  EXPECT_EQ(ParseError({"graph", "-o", "png"}), "-o png is not a graph format (want dot or svg)");
  EXPECT_EQ(ParseError({"graph", "nse"}), "graph takes no arguments, got \"nse\"");
}

TEST(NsmctlRunTest, BadArgumentsPrintTheProblemAndUsageWithExitTwo) {
  std::ostringstream out, err;
  EXPECT_EQ(nsmctl::Run({"get", "pods"}, out, err), kExitUsage);
  EXPECT_THAT(err.str(), StartsWith("nsmctl: unknown resource type \"pods\""));
  EXPECT_THAT(err.str(), HasSubstr("Usage:"));
  EXPECT_EQ(out.str(), "");
}

TEST(NsmctlRunTest, HelpListsCommandsAndExitCodes) {
  std::ostringstream out, err;
  EXPECT_EQ(nsmctl::Run({"--help"}, out, err), kExitOk);
  for (const char* s : {"nsmctl get ns|nse|forwarders|connections", "nsmctl describe nse NAME",
                        "nsmctl watch", "nsmctl graph", "Exit codes:", "0  success",
                        "1  the target is unreachable", "2  bad arguments", "--timeout"}) {
    EXPECT_THAT(out.str(), HasSubstr(s));
  }
}

TEST(NsmctlRunTest, UnreachableTargetIsExitOneWithTheReasonAndBounded) {
  const std::string dir = "/nonexistent-nsmctl-test";
  std::ostringstream out, err;
  const absl::Time start = absl::Now();
  EXPECT_EQ(nsmctl::Run({"get", "nse", "--nsmgr", "unix://" + dir + "/missing.sock"}, out, err),
            kExitError);
  EXPECT_EQ(err.str(), "nsmctl: cannot reach nsmgr at unix://" + dir +
                           "/missing.sock: no socket file " + dir + "/missing.sock\n");

  std::ostringstream out2, err2;
  EXPECT_EQ(
      nsmctl::Run({"get", "connections", "--nsmgr", "tcp://127.0.0.1:1", "--dial-timeout", "300ms"},
                  out2, err2),
      kExitError);
  EXPECT_THAT(err2.str(), StartsWith("nsmctl: cannot reach nsmgr at tcp://127.0.0.1:1: not "
                                     "connected within 300ms"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  std::ostringstream out3, err3;
  EXPECT_EQ(nsmctl::Run({"get", "ns", "--registry", "dns://nowhere"}, out3, err3), kExitError);
  EXPECT_THAT(err3.str(), StartsWith("nsmctl: "));
  EXPECT_THAT(err3.str(), HasSubstr("dns://nowhere"));
}

}  // namespace
}  // namespace nsm::nsmctl

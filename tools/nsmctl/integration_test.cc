// nsmctl (issue #8) against a sandbox mesh over real gRPC on unix sockets: every command in
// process, and the binary as a process (exit codes, Ctrl-C, -o svg with and without dot).
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/eventually.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/process.h"
#include "testing/sandbox.h"
#include "tools/nsmctl/cli.h"

namespace nsm::nsmctl {
namespace {

using ::nsm::testing::Builder;
using ::nsm::testing::Domain;
using ::nsm::testing::Node;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(10);  // bound for anything crossing sockets
constexpr char kService[] = "icmp-responder";

std::string NsmctlBin() {
  if (const char* env = std::getenv("NSMCTL_BIN")) return env;
#ifdef NSMCTL_BIN
  return NSMCTL_BIN;
#else
  return "nsmctl";
#endif
}

::registry::NetworkServiceEndpoint Registration(const std::string& name, const std::string& service,
                                                std::map<std::string, std::string> labels) {
  ::registry::NetworkServiceEndpoint nse;
  nse.set_name(name);
  nse.add_network_service_names(service);
  auto& l = *(*nse.mutable_network_service_labels())[service].mutable_labels();
  for (const auto& [k, v] : labels) l[k] = v;
  return nse;
}

// An ostream whose text can be read while another thread writes (watch output).
class SharedOutput : public std::streambuf {
 public:
  std::string text() const {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c == EOF) return 0;
    absl::MutexLock lock(&mu_);
    text_.push_back(static_cast<char>(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    absl::MutexLock lock(&mu_);
    text_.append(s, n);
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_;
};

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

struct Result {
  int code;
  std::string out, err;
};

Result RunNsmctl(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = nsmctl::Run(args, out, err);
  return {code, out.str(), err.str()};
}

class NsmctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built =
        Builder()
            .SetNodeSetup([](Node& node) -> absl::Status {
              if (auto m = node.NewNsmgr("nsmgr-1"); !m.ok()) return m.status();
              for (const char* name : {"fwd-1", "fwd-2"}) {
                auto f = node.NewForwarder(Registration(name, "forwarder", {{"p2p", "true"}}));
                if (!f.ok()) return f.status();
              }
              return absl::OkStatus();
            })
            .Build();
    ASSERT_TRUE(built.ok()) << built.status();
    domain_ = *std::move(built);
    ::registry::NetworkService ns;
    ns.set_name(kService);
    ASSERT_TRUE(domain_->RegisterNS(ns).ok());
    auto nse = node().NewEndpoint(Registration("icmp-server", kService, {{"app", "icmp"}}));
    ASSERT_TRUE(nse.ok()) << nse.status();
    nse_ = *nse;
    auto nsc = node().NewClient({.name = "demo-nsc"});
    ASSERT_TRUE(nsc.ok()) << nsc.status();
    nsc_ = *nsc;
    auto conn = nsc_->Request(testing::DefaultRequest(kService));
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *conn;
    for (const auto& s : conn_.path().path_segments()) {
      if (!s.token().empty()) tokens_.push_back(s.token());
    }
    // The nsmgr publishes the connection once the forwarder's answer is back.
    ASSERT_TRUE(Eventually([&] { return node().nsmgr().nsmgr().connections() == 1; }));
  }

  void TearDown() override {
    if (nsc_ && !closed_) {
      EXPECT_TRUE(nsc_->Close(conn_).ok());
    }
    nsc_.reset();
    domain_.reset();
  }

  Node& node() { return domain_->node(0); }
  std::string nsmgr_url() { return node().nsmgr().url(); }
  std::string registry_url() { return domain_->registry()->url(); }
  std::string forwarder_in_use() { return conn_.path().path_segments(2).name(); }

  std::unique_ptr<Domain> domain_;
  testing::EndpointEntry* nse_ = nullptr;
  std::shared_ptr<testing::Nsc> nsc_;
  Connection conn_;
  bool closed_ = false;
  std::vector<std::string> tokens_;
};

TEST_F(NsmctlTest, GetNseAtTheRegistryAndAtTheNsmgr) {
  Result r = RunNsmctl({"get", "nse", "--registry", registry_url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME "));
  EXPECT_THAT(r.out, HasSubstr("SERVICES"));
  EXPECT_THAT(r.out, HasSubstr("icmp-server"));
  EXPECT_THAT(r.out, HasSubstr("fwd-1"));

  r = RunNsmctl({"get", "nse", "--nsmgr", nsmgr_url(), "-o", "json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  bool found = false;
  for (const auto& e : j) {
    if (e["name"] != "icmp-server") continue;
    found = true;
    EXPECT_EQ(e["url"], nse_->url()) << "local callers of the nsmgr get the real URL";
    EXPECT_EQ(e["network_service_names"][0], kService);
    EXPECT_EQ(e["network_service_labels"][kService]["app"], "icmp");
    EXPECT_TRUE(e["expiration_time"].is_string());
    EXPECT_TRUE(e["initial_registration_time"].is_string());
  }
  EXPECT_TRUE(found) << r.out;

  r = RunNsmctl({"get", "nse", "--nsmgr", nsmgr_url(), "--service", kService});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("icmp-server"));
  EXPECT_THAT(r.out, Not(HasSubstr("fwd-1"))) << "--service filters";

  r = RunNsmctl({"get", "nse", "icmp-server", "--nsmgr", nsmgr_url(), "-o", "wide"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("app=icmp"));
  EXPECT_THAT(r.out, HasSubstr("nodeName=node-0")) << "labels added by the nsmgr";

  r = RunNsmctl({"get", "nse", "icmp", "--nsmgr", nsmgr_url()});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err, "nsmctl: nse \"icmp\" not found at nsmgr " + nsmgr_url() + "\n");
}

TEST_F(NsmctlTest, GetNsAndForwarders) {
  Result r = RunNsmctl({"get", "ns", "--registry", registry_url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr(kService));
  r = RunNsmctl({"get", "ns", kService, "--nsmgr", nsmgr_url(), "-o", "json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)[0]["name"], kService);

  r = RunNsmctl({"get", "forwarders", "--nsmgr", nsmgr_url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME    URL"));
  // Once each, although the nsmgr answers local entries from its store and again through the
  // domain registry.
  EXPECT_EQ(Count(r.out, "fwd-1 "), 1) << r.out;
  EXPECT_EQ(Count(r.out, "fwd-2 "), 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("p2p=true"));
  EXPECT_THAT(r.out, Not(HasSubstr("icmp-server")));
}

TEST_F(NsmctlTest, GetConnectionsShowsEveryHopAndNoToken) {
  Result r = RunNsmctl({"get", "connections", "--nsmgr", nsmgr_url(), "-o", "wide"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, StartsWith("ID "));
  for (const std::string& s :
       {std::string(kService), std::string("UP"), std::string("demo-nsc"), std::string("nsmgr-1"),
        forwarder_in_use(), std::string("icmp-server")}) {
    EXPECT_THAT(r.out, HasSubstr(s));
  }
  ASSERT_FALSE(tokens_.empty());
  for (const auto& t : tokens_) EXPECT_THAT(r.out, Not(HasSubstr(t)));

  r = RunNsmctl({"get", "connections", "--nsmgr", nsmgr_url(), "-o", "json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u) << r.out;
  EXPECT_EQ(j[0]["nsc"], "demo-nsc");
  EXPECT_EQ(j[0]["nsmgr"], "nsmgr-1");
  EXPECT_EQ(j[0]["forwarder"], forwarder_in_use());
  EXPECT_EQ(j[0]["nse"], "icmp-server");
  EXPECT_EQ(j[0]["state"], "UP");
  EXPECT_EQ(j[0]["path"]["segments"].size(), 4u);
  for (const auto& t : tokens_) EXPECT_THAT(r.out, Not(HasSubstr(t)));
  EXPECT_THAT(r.out, Not(HasSubstr("token")));
}

TEST_F(NsmctlTest, DescribeNse) {
  Result r = RunNsmctl({"describe", "nse", "icmp-server", "--nsmgr", nsmgr_url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Name:                       icmp-server\n"));
  EXPECT_THAT(r.out, HasSubstr("URL:                        " + nse_->url() + "\n"));
  EXPECT_THAT(r.out, HasSubstr("Network Services:           icmp-responder\n"));
  EXPECT_THAT(r.out, HasSubstr("app=icmp"));
  EXPECT_THAT(r.out, HasSubstr("Expiration Time:            20"));
  EXPECT_THAT(r.out, HasSubstr("Initial Registration Time:  20"));

  r = RunNsmctl({"describe", "nse", "icmp-server", "--nsmgr", nsmgr_url(), "-o", "json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["name"], "icmp-server");
  EXPECT_EQ(j["url"], nse_->url());

  r = RunNsmctl({"describe", "nse", "nope", "--registry", registry_url()});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err, "nsmctl: nse \"nope\" not found at registry " + registry_url() + "\n");
}

TEST_F(NsmctlTest, WatchNseSeesRegisterAndUnregister) {
  SharedOutput buf;
  std::ostream out(&buf);
  std::ostringstream err;
  auto [ctx, cancel] = Context().WithCancel();
  int code = -1;
  std::thread watcher([&, ctx = ctx] {
    code = nsmctl::Run({"watch", "nse", "--nsmgr", nsmgr_url()}, out, err, ctx);
  });
  // The current registrations come first (no end-of-snapshot marker in the protocol).
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(buf.text(), " UPDATE nse icmp-server "); }))
      << buf.text() << err.str();

  auto extra = node().NewEndpoint(Registration("nse-extra", "other", {}));
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(buf.text(), " UPDATE nse nse-extra "); }))
      << buf.text();
  auto [uctx, ucancel] = domain_->WithTimeout();
  ::registry::NetworkServiceEndpoint reg = (*extra)->registration();
  ASSERT_TRUE((*extra)->registry_clients().nse().Unregister(uctx, reg).ok());
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(buf.text(), " DELETE nse nse-extra "); }))
      << buf.text();
  cancel();
  watcher.join();
  EXPECT_EQ(code, kExitOk) << err.str();
  // The nsmgr reports local changes from its store and again from the domain registry: printed
  // once.
  EXPECT_EQ(Count(buf.text(), " UPDATE nse icmp-server "), 1) << buf.text();
  EXPECT_EQ(Count(buf.text(), " DELETE nse nse-extra "), 1) << buf.text();
}

TEST_F(NsmctlTest, WatchNsSeesANewService) {
  SharedOutput buf;
  std::ostream out(&buf);
  std::ostringstream err;
  auto [ctx, cancel] = Context().WithCancel();
  int code = -1;
  std::thread watcher([&, ctx = ctx] {
    code = nsmctl::Run({"watch", "ns", "--registry", registry_url()}, out, err, ctx);
  });
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(buf.text(), " UPDATE ns icmp-responder ");
  })) << buf.text()
      << err.str();
  ::registry::NetworkService ns;
  ns.set_name("vpn");
  ns.set_payload("IP");
  ASSERT_TRUE(domain_->RegisterNS(ns).ok());
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(buf.text(), " UPDATE ns vpn payload=IP ");
  })) << buf.text();
  cancel();
  watcher.join();
  EXPECT_EQ(code, kExitOk) << err.str();
}

TEST_F(NsmctlTest, WatchConnectionsJsonSeesInitialStateAndClose) {
  SharedOutput buf;
  std::ostream out(&buf);
  std::ostringstream err;
  int code = -1;
  std::thread watcher([&] {
    code = nsmctl::Run(
        {"watch", "connections", "--nsmgr", nsmgr_url(), "-o", "json", "--timeout", "20s"}, out,
        err);
  });
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(buf.text(), "\"INITIAL\""); }))
      << buf.text() << err.str();
  ASSERT_TRUE(nsc_->Close(conn_).ok());
  closed_ = true;
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(buf.text(), "\"DELETE\""); }))
      << buf.text();
  // Every line is one JSON object; none carries a token.
  std::istringstream lines(buf.text());
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("event"));
    EXPECT_EQ(j["connection"]["network_service"], kService);
    for (const auto& t : tokens_) EXPECT_THAT(line, Not(HasSubstr(t)));
  }
  // The nsmgr going away ends the stream (--timeout is not waited for here).
  nsc_.reset();
  domain_.reset();
  watcher.join();
  EXPECT_EQ(code, kExitError) << "the nsmgr went away: " << err.str();
  EXPECT_THAT(err.str(), HasSubstr("MonitorConnection.MonitorConnections at nsmgr"));
}

TEST_F(NsmctlTest, GraphHasEveryKindAndTheConnectionPath) {
  Result r = RunNsmctl({"graph", "--nsmgr", nsmgr_url(), "--registry", registry_url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, StartsWith("digraph nsm {"));
  EXPECT_THAT(r.out, HasSubstr("subgraph \"cluster_nsmgr-1\""));
  EXPECT_THAT(r.out, HasSubstr("\"demo-nsc\" [shape=ellipse"));
  EXPECT_THAT(r.out, HasSubstr("\"nsmgr-1\" [shape=box3d"));
  EXPECT_THAT(r.out, HasSubstr("\"fwd-1\" [shape=hexagon"));
  EXPECT_THAT(r.out, HasSubstr("\"fwd-2\" [shape=hexagon"));
  EXPECT_THAT(r.out, HasSubstr("\"icmp-server\" [shape=box style"));
  EXPECT_THAT(r.out, HasSubstr("\"demo-nsc\" -> \"nsmgr-1\" [label=\"icmp-responder\""));
  EXPECT_THAT(
      r.out, HasSubstr("\"nsmgr-1\" -> \"" + forwarder_in_use() + "\" [label=\"icmp-responder\"]"));
  EXPECT_THAT(r.out, HasSubstr("\"" + forwarder_in_use() +
                               "\" -> \"icmp-server\" [label=\"icmp-responder\"]"));

  const std::string file = domain_->dir() + "/graph.dot";
  r = RunNsmctl({"graph", "--nsmgr", nsmgr_url(), "--out", file});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(testing::ReadFile(file), StartsWith("digraph nsm {"));
}

// The binary: exit codes, a watch ended by Ctrl-C, and -o svg without Graphviz.
TEST_F(NsmctlTest, BinaryExitCodesCtrlCAndMissingGraphviz) {
  const std::string dir = domain_->dir();
  {
    testing::Process p(NsmctlBin(), dir, "help", {"--help"}, {});
    EXPECT_EQ(p.Wait(kWait), 0);
    EXPECT_THAT(p.out(), HasSubstr("Exit codes:"));
  }
  {
    testing::Process p(NsmctlBin(), dir, "bad", {"get", "pods"}, {});
    EXPECT_EQ(p.Wait(kWait), 2);
    EXPECT_THAT(p.err(), StartsWith("nsmctl: unknown resource type \"pods\""));
  }
  {
    testing::Process p(NsmctlBin(), dir, "unreachable",
                       {"get", "connections", "--nsmgr", "unix://" + dir + "/none.sock"}, {});
    EXPECT_EQ(p.Wait(kWait), 1);
    EXPECT_EQ(p.err(), "nsmctl: cannot reach nsmgr at unix://" + dir +
                           "/none.sock: no socket file " + dir + "/none.sock\n");
  }
  {
    testing::Process p(NsmctlBin(), dir, "get", {"get", "connections", "--nsmgr", nsmgr_url()}, {});
    EXPECT_EQ(p.Wait(kWait), 0) << p.err();
    EXPECT_THAT(p.out(), HasSubstr("demo-nsc"));
  }
  {
    testing::Process p(NsmctlBin(), dir, "watch", {"watch", "nse", "--nsmgr", nsmgr_url()}, {});
    ASSERT_TRUE(p.WaitForOutput(
        [](const std::string& s) { return absl::StrContains(s, "UPDATE nse icmp-server"); }, kWait))
        << p.err();
    p.Signal(SIGINT);
    EXPECT_EQ(p.Wait(kWait), 0) << p.err();
  }
  {
    testing::Process p(NsmctlBin(), dir, "svg", {"graph", "--nsmgr", nsmgr_url(), "-o", "svg"},
                       {"PATH=/nonexistent"});
    EXPECT_EQ(p.Wait(kWait), 1);
    EXPECT_THAT(p.err(), HasSubstr("install graphviz"));
  }
  // A stand-in for Graphviz's dot (`dot -Tsvg -o OUT IN`, shell builtins only): -o svg hands it
  // the DOT file and prints or writes what it produced.
  const std::string bin = dir + "/fake-graphviz";
  std::filesystem::create_directories(bin);
  {
    std::ofstream script(bin + "/dot");
    script << "#!/bin/sh\n[ \"$1\" = -Tsvg ] && [ \"$2\" = -o ] || exit 3\n"
              "read -r first < \"$4\"\nprintf '<svg>%s</svg>\\n' \"$first\" > \"$3\"\n";
  }
  std::filesystem::permissions(bin + "/dot", std::filesystem::perms::owner_all);
  {
    testing::Process p(NsmctlBin(), dir, "svg-stdout",
                       {"graph", "--nsmgr", nsmgr_url(), "-o", "svg"}, {"PATH=" + bin});
    EXPECT_EQ(p.Wait(kWait), 0) << p.err();
    EXPECT_EQ(p.out(), "<svg>digraph nsm {</svg>\n");
  }
  {
    testing::Process p(NsmctlBin(), dir, "svg-file",
                       {"graph", "--nsmgr", nsmgr_url(), "-o", "svg", "--out", dir + "/g.svg"},
                       {"PATH=" + bin});
    EXPECT_EQ(p.Wait(kWait), 0) << p.err();
    EXPECT_EQ(p.out(), "");
    EXPECT_EQ(testing::ReadFile(dir + "/g.svg"), "<svg>digraph nsm {</svg>\n");
  }
}

}  // namespace
}  // namespace nsm::nsmctl

namespace nsm::nsmctl {
namespace {

// Two nodes: the NSC on node 0, the NSE on node 1. Each nsmgr reports its own hops, and the graph
// of both draws the six-hop path once, with one cluster per node.
TEST(NsmctlTwoNodesTest, RemoteConnectionAtBothNsmgrsAndInTheGraph) {
  auto built =
      Builder()
          .SetNodesCount(2)
          .SetNodeSetup([](Node& node) -> absl::Status {
            const std::string i = std::to_string(node.index());
            if (auto m = node.NewNsmgr("nsmgr-" + i); !m.ok()) return m.status();
            auto f = node.NewForwarder(Registration("fwd-" + i, "forwarder", {{"p2p", "true"}}));
            return f.status();
          })
          .Build();
  ASSERT_TRUE(built.ok()) << built.status();
  std::unique_ptr<Domain> domain = *std::move(built);
  ::registry::NetworkService ns;
  ns.set_name(kService);
  ASSERT_TRUE(domain->RegisterNS(ns).ok());
  ASSERT_TRUE(domain->node(1).NewEndpoint(Registration("nse-b", kService, {})).ok());
  auto nsc = domain->node(0).NewClient({.name = "nsc-a"});
  ASSERT_TRUE(nsc.ok()) << nsc.status();
  auto conn = (*nsc)->Request(testing::DefaultRequest(kService));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 6);
  ASSERT_TRUE(Eventually([&] {
    return domain->node(0).nsmgr().nsmgr().connections() == 1 &&
           domain->node(1).nsmgr().nsmgr().connections() == 1;
  }));
  const std::string a = domain->node(0).nsmgr().url(), b = domain->node(1).nsmgr().url();

  for (const auto& [url, nsmgr, forwarder] :
       {std::tuple{a, "nsmgr-0", "fwd-0"}, std::tuple{b, "nsmgr-1", "fwd-1"}}) {
    Result r = RunNsmctl({"get", "connections", "--nsmgr", url, "-o", "json"});
    ASSERT_EQ(r.code, kExitOk) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 1u) << r.out;
    EXPECT_EQ(j[0]["nsc"], "nsc-a");
    EXPECT_EQ(j[0]["nsmgr"], nsmgr);
    EXPECT_EQ(j[0]["forwarder"], forwarder);
    EXPECT_EQ(j[0]["nse"], "nse-b");
  }

  Result r =
      RunNsmctl({"graph", "--nsmgr", a, "--nsmgr", b, "--registry", domain->registry()->url()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("subgraph \"cluster_nsmgr-0\""));
  EXPECT_THAT(r.out, HasSubstr("subgraph \"cluster_nsmgr-1\""));
  for (const auto& [from, to] :
       {std::pair{"nsc-a", "nsmgr-0"}, std::pair{"nsmgr-0", "fwd-0"}, std::pair{"fwd-0", "nsmgr-1"},
        std::pair{"nsmgr-1", "fwd-1"}, std::pair{"fwd-1", "nse-b"}}) {
    const std::string edge = absl::StrCat("\"", from, "\" -> \"", to, "\" [label=");
    EXPECT_EQ(Count(r.out, edge), 1) << edge << "\n" << r.out;
  }
  // nse-b sits with its own nsmgr and forwarder.
  const std::string cluster_1 = r.out.substr(r.out.find("subgraph \"cluster_nsmgr-1\""));
  const std::string body_1 = cluster_1.substr(0, cluster_1.find("  }\n"));
  EXPECT_THAT(body_1, HasSubstr("\"nse-b\" [shape=box"));
  EXPECT_THAT(body_1, HasSubstr("\"fwd-1\" [shape=hexagon"));
  EXPECT_THAT(body_1, Not(HasSubstr("\"fwd-0\"")));

  ASSERT_TRUE((*nsc)->Close(*conn).ok());
}

}  // namespace
}  // namespace nsm::nsmctl

// nsmctl graph from fixed data: node kinds and shapes, clusters per nsmgr, one edge per hop and
// connection, DOWN connections, deduplication across nsmgrs, DOT quoting (issue #8).
#include "tools/nsmctl/graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::nsmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

::connection::Connection Conn(const std::string& client_id, std::vector<std::string> names,
                              uint32_t index, const std::string& service = "icmp-responder") {
  ::connection::Connection c;
  c.set_network_service(service);
  c.mutable_path()->set_index(index);
  for (size_t i = 0; i < names.size(); ++i) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(names[i]);
    s->set_id(i == 0 ? client_id : client_id + "-" + std::to_string(i));
    s->set_token("SECRET");
  }
  c.set_id(c.path().path_segments(index).id());
  return c;
}

::registry::NetworkServiceEndpoint Reg(const std::string& name, const std::string& service,
                                       const std::string& url) {
  ::registry::NetworkServiceEndpoint nse;
  nse.set_name(name);
  nse.add_network_service_names(service);
  nse.set_url(url);
  return nse;
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(NsmctlGraphTest, LocalConnectionNodesClusterAndEdges) {
  TopologyInput in;
  NsmgrView v;
  v.url = "unix:///d/nsmgr.sock";
  v.endpoints = {Reg("forwarder-1", "forwarder", "unix:///d/f1.sock"),
                 Reg("forwarder-2", "forwarder", "unix:///d/f2.sock"),
                 Reg("icmp-server", "icmp-responder", "unix:///d/nse.sock")};
  v.connections = {Conn("c1", {"demo-nsc", "nsmgr-demo", "forwarder-1", "icmp-server"}, 1)};
  in.nsmgrs.push_back(v);
  const std::string dot = TopologyDot(in);

  EXPECT_THAT(dot, HasSubstr("digraph nsm {\n"));
  EXPECT_THAT(dot, HasSubstr("subgraph \"cluster_nsmgr-demo\" {\n    label=\"nsmgr-demo\";"));
  EXPECT_THAT(dot, HasSubstr("\"nsmgr-demo\" [shape=box3d fillcolor=\"#cfe2f3\" "
                             "label=\"nsmgr-demo\\nunix:///d/nsmgr.sock\"];"));
  EXPECT_THAT(dot, HasSubstr("\"forwarder-2\" [shape=hexagon"));
  EXPECT_THAT(dot, HasSubstr("\"icmp-server\" [shape=box style=\"rounded,filled\""));
  EXPECT_THAT(dot, HasSubstr("\"demo-nsc\" [shape=ellipse fillcolor=\"#fff2cc\" "
                             "label=\"demo-nsc\"];"));
  // One edge per hop, labelled with the service.
  EXPECT_THAT(dot, HasSubstr("\"demo-nsc\" -> \"nsmgr-demo\" [label=\"icmp-responder\" "
                             "tooltip=\"connection c1-1\"];"));
  EXPECT_THAT(dot, HasSubstr("\"nsmgr-demo\" -> \"forwarder-1\" [label=\"icmp-responder\"];"));
  EXPECT_THAT(dot, HasSubstr("\"forwarder-1\" -> \"icmp-server\" [label=\"icmp-responder\"];"));
  // Registrations: dotted edges to the nsmgr, also for the idle forwarder.
  EXPECT_THAT(dot, HasSubstr("\"forwarder-2\" -> \"nsmgr-demo\" [style=dotted"));
  EXPECT_THAT(dot, HasSubstr("\"icmp-server\" -> \"nsmgr-demo\" [style=dotted"));
  EXPECT_EQ(Count(dot, "shape="), 5) << dot;  // nsc, nsmgr, 2 forwarders, nse
  EXPECT_THAT(dot, Not(HasSubstr("SECRET")));
}

TEST(NsmctlGraphTest, RemoteConnectionSeenAtBothNsmgrsIsDrawnOnceWithTwoClusters) {
  const std::vector<std::string> path = {"nsc", "nsmgr-a", "fwd-a", "nsmgr-b", "fwd-b", "nse-b"};
  TopologyInput in;
  NsmgrView a{
      "unix:///d/a.sock",
      {Reg("fwd-a", "forwarder", "unix:///d/fa.sock"), Reg("nse-b", "svc", "unix:///d/b.sock")},
      {Conn("c1", path, 1, "svc")}};
  NsmgrView b{
      "unix:///d/b.sock",
      {Reg("fwd-b", "forwarder", "unix:///d/fb.sock"), Reg("nse-b", "svc", "unix:///d/nse-b.sock")},
      {Conn("c1", path, 3, "svc")}};
  in.nsmgrs = {a, b};
  const std::string dot = TopologyDot(in);
  EXPECT_EQ(Count(dot, "\"nsc\" -> \"nsmgr-a\""), 1) << dot;
  EXPECT_EQ(Count(dot, "\"fwd-a\" -> \"nsmgr-b\" [label=\"svc\"]"), 1) << dot;
  EXPECT_EQ(Count(dot, "\"fwd-b\" -> \"nse-b\" [label=\"svc\"]"), 1) << dot;
  EXPECT_THAT(dot, HasSubstr("subgraph \"cluster_nsmgr-a\""));
  EXPECT_THAT(dot, HasSubstr("subgraph \"cluster_nsmgr-b\""));
  // nse-b as published upstream (with nsmgr-b's URL) belongs to nsmgr-b, with its real URL.
  EXPECT_THAT(dot, HasSubstr("\"nse-b\" -> \"nsmgr-b\" [style=dotted"));
  EXPECT_THAT(dot, Not(HasSubstr("\"nse-b\" -> \"nsmgr-a\"")));
  const size_t cluster_b = dot.find("cluster_nsmgr-b");
  EXPECT_GT(dot.find("\"nse-b\" [shape=box"), cluster_b);
  EXPECT_GT(dot.find("\"fwd-b\" [shape=hexagon"), cluster_b);
}

TEST(NsmctlGraphTest, DownConnectionsAreRedAndNsmgrWithoutConnectionsIsNamedByUrl) {
  TopologyInput in;
  NsmgrView idle{"unix:///d/idle.sock", {}, {}};
  auto down = Conn("c2", {"nsc", "nsmgr-x", "fwd", "nse"}, 1);
  down.set_state(::connection::DOWN);
  NsmgrView x{"unix:///d/x.sock", {}, {down}};
  in.nsmgrs = {idle, x};
  const std::string dot = TopologyDot(in);
  EXPECT_THAT(dot, HasSubstr("\"nsmgr unix:///d/idle.sock\" [shape=box3d"));
  EXPECT_THAT(dot, HasSubstr("\"nsc\" -> \"nsmgr-x\" [label=\"icmp-responder\" "
                             "tooltip=\"connection c2-1\" color=red style=dashed fontcolor=red];"));
  // Kinds guessed from positions when nothing is registered: [client, nsmgr, forwarder, nse].
  EXPECT_THAT(dot, HasSubstr("\"fwd\" [shape=hexagon"));
  EXPECT_THAT(dot, HasSubstr("\"nse\" [shape=box style="));
}

TEST(NsmctlGraphTest, RegistryEndpointsAndQuoting) {
  TopologyInput in;
  in.registry_endpoints = {Reg("we\"ird\\name", "svc", "tcp://10.0.0.1:5001")};
  const std::string dot = TopologyDot(in);
  EXPECT_THAT(dot, HasSubstr("\"we\\\"ird\\\\name\" [shape=box"));
  EXPECT_EQ(DotQuote("a\nb"), "\"a\\nb\"");
  EXPECT_EQ(TopologyDot({}), TopologyDot({})) << "deterministic";
}

}  // namespace
}  // namespace nsm::nsmctl

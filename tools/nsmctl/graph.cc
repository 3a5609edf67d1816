// nsmctl graph: the live topology (clients, nsmgrs, forwarders, endpoints and the connections along
// their paths) as Graphviz DOT (issue #8; paths as in api.md §7.1, forwarders as in nsmgr.md §5).
#include "tools/nsmctl/graph.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace nsm::nsmctl {
namespace {

enum class Kind { kClient, kNsmgr, kForwarder, kEndpoint };

struct Node {
  Kind kind = Kind::kEndpoint;
  bool kind_known = false;  // from a registration or a queried nsmgr, not guessed from a path
  std::string url;
  std::string cluster;  // the nsmgr node it belongs to ("" = none)
};

const char* Shape(Kind k) {
  switch (k) {
    case Kind::kClient:
      return "shape=ellipse fillcolor=\"#fff2cc\"";
    case Kind::kNsmgr:
      return "shape=box3d fillcolor=\"#cfe2f3\"";
    case Kind::kForwarder:
      return "shape=hexagon fillcolor=\"#d9ead3\"";
    case Kind::kEndpoint:
      return "shape=box style=\"rounded,filled\" fillcolor=\"#f4cccc\"";
  }
  return "";
}

bool Serves(const ::registry::NetworkServiceEndpoint& nse, const std::string& service) {
  return std::find(nse.network_service_names().begin(), nse.network_service_names().end(),
                   service) != nse.network_service_names().end();
}

// Guess of a hop's kind from its position: [client, (nsmgr, forwarder)+, endpoint].
Kind KindAt(int i, int n) {
  if (i == 0) return Kind::kClient;
  if (i == n - 1 && n >= 4) return Kind::kEndpoint;
  return i % 2 == 1 ? Kind::kNsmgr : Kind::kForwarder;
}

// The identity of a connection across hops: the client's segment id.
std::string Key(const ::connection::Connection& c) {
  if (c.path().path_segments_size() > 0 && !c.path().path_segments(0).id().empty()) {
    return c.path().path_segments(0).id();
  }
  return c.id();
}

}  // namespace

std::string DotQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string TopologyDot(const TopologyInput& input) {
  std::map<std::string, Node> nodes;
  std::set<std::pair<std::string, std::string>> registered;  // (item, nsmgr)
  auto known = [&](const std::string& name, Kind kind, const std::string& url,
                   const std::string& cluster) {
    Node& n = nodes[name];
    if (!n.kind_known) {
      n.kind = kind;
      n.kind_known = true;
    }
    if (n.url.empty()) n.url = url;
    if (n.cluster.empty()) n.cluster = cluster;
  };

  absl::flat_hash_set<std::string> nsmgr_urls;
  for (const auto& v : input.nsmgrs) nsmgr_urls.insert(v.url);

  // Each queried nsmgr: named by the hop that reports its connections, else by its URL.
  std::map<std::string, std::string> nsmgr_by_url;
  for (const auto& v : input.nsmgrs) {
    std::string name = "nsmgr " + v.url;
    for (const auto& c : v.connections) {
      const int i = c.path().index();
      if (i < c.path().path_segments_size() && !c.path().path_segments(i).name().empty()) {
        name = c.path().path_segments(i).name();
        break;
      }
    }
    nsmgr_by_url[v.url] = name;
    known(name, Kind::kNsmgr, v.url, name);
  }
  auto add_registration = [&](const ::registry::NetworkServiceEndpoint& nse,
                              const std::string& nsmgr) {
    const Kind kind = Serves(nse, input.forwarder_service) ? Kind::kForwarder : Kind::kEndpoint;
    // An nsmgr's URL says where the endpoint is published, not where it listens.
    known(nse.name(), kind, nsmgr_urls.contains(nse.url()) ? std::string() : nse.url(), nsmgr);
    if (!nsmgr.empty()) registered.insert({nse.name(), nsmgr});
  };
  for (const auto& v : input.nsmgrs) {
    for (const auto& nse : v.endpoints) {
      // An entry with an nsmgr's URL is another node's endpoint published upstream (nsmgr.md §10
      // localbypass): it belongs to that nsmgr, not to this one.
      if (nsmgr_urls.contains(nse.url())) {
        add_registration(nse, nsmgr_by_url[nse.url()]);
      } else {
        add_registration(nse, nsmgr_by_url[v.url]);
      }
    }
  }
  for (const auto& nse : input.registry_endpoints) {
    auto it = nsmgr_by_url.find(nse.url());
    add_registration(nse, it == nsmgr_by_url.end() ? std::string() : it->second);
  }

  // Connections, once each: the view with the longest path.
  std::map<std::string, const ::connection::Connection*> connections;
  for (const auto& v : input.nsmgrs) {
    for (const auto& c : v.connections) {
      auto [it, inserted] = connections.emplace(Key(c), &c);
      if (!inserted && c.path().path_segments_size() > it->second->path().path_segments_size()) {
        it->second = &c;
      }
    }
  }
  std::vector<std::string> edges;
  for (const auto& [key, c] : connections) {
    const auto& segments = c->path().path_segments();
    const int n = segments.size();
    for (int i = 0; i < n; ++i) {
      Node& node = nodes[segments[i].name()];
      if (!node.kind_known) node.kind = KindAt(i, n);
    }
    // Clusters: a client with its nsmgr, a forwarder with the nsmgr before it, an endpoint with
    // its forwarder's.
    for (int i = 0; i < n; ++i) {
      Node& node = nodes[segments[i].name()];
      if (!node.cluster.empty()) continue;
      if (node.kind == Kind::kNsmgr) {
        node.cluster = segments[i].name();
      } else if (node.kind == Kind::kClient && i + 1 < n &&
                 nodes[segments[i + 1].name()].kind == Kind::kNsmgr) {
        node.cluster = segments[i + 1].name();
      } else if (i > 0 && (node.kind == Kind::kForwarder || node.kind == Kind::kEndpoint)) {
        node.cluster = nodes[segments[i - 1].name()].cluster;
      }
    }
    const bool down = c->state() == ::connection::DOWN;
    for (int i = 0; i + 1 < n; ++i) {
      std::string attrs = absl::StrCat("label=", DotQuote(c->network_service()));
      if (i == 0) absl::StrAppend(&attrs, " tooltip=", DotQuote("connection " + c->id()));
      if (down) absl::StrAppend(&attrs, " color=red style=dashed fontcolor=red");
      edges.push_back(absl::StrCat("  ", DotQuote(segments[i].name()), " -> ",
                                   DotQuote(segments[i + 1].name()), " [", attrs, "];"));
    }
  }

  std::string out = "digraph nsm {\n";
  out += "  rankdir=LR;\n";
  out += "  node [fontname=\"Helvetica\" style=filled];\n";
  out += "  edge [fontname=\"Helvetica\" fontsize=10];\n";
  auto node_line = [](const std::string& name, const Node& n, const std::string& indent) {
    std::string label = name;
    if (!n.url.empty() && n.kind != Kind::kClient) label += "\n" + n.url;
    return absl::StrCat(indent, DotQuote(name), " [", Shape(n.kind), " label=", DotQuote(label),
                        "];\n");
  };
  std::map<std::string, std::vector<std::string>> clusters;
  for (const auto& [name, n] : nodes) {
    if (!n.cluster.empty() && nodes.count(n.cluster) > 0) clusters[n.cluster].push_back(name);
  }
  for (const auto& [cluster, members] : clusters) {
    out += absl::StrCat("  subgraph ", DotQuote("cluster_" + cluster), " {\n");
    out += absl::StrCat("    label=", DotQuote(cluster), ";\n");
    out += "    style=dashed;\n    color=gray50;\n";
    for (const auto& m : members) out += node_line(m, nodes[m], "    ");
    out += "  }\n";
  }
  for (const auto& [name, n] : nodes) {
    if (n.cluster.empty() || nodes.count(n.cluster) == 0) out += node_line(name, n, "  ");
  }
  for (const auto& [item, nsmgr] : registered) {
    if (item == nsmgr) continue;
    out += absl::StrCat("  ", DotQuote(item), " -> ", DotQuote(nsmgr),
                        " [style=dotted color=gray50 arrowhead=none];\n");
  }
  for (const auto& e : edges) out += e + "\n";
  out += "}\n";
  return out;
}

}  // namespace nsm::nsmctl

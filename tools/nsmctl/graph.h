// nsmctl graph: the live topology (clients, nsmgrs, forwarders, endpoints and the connections along
// their paths) as Graphviz DOT (issue #8; paths as in api.md §7.1, forwarders as in nsmgr.md §5).
#pragma once

#include <string>
#include <vector>

#include "connection.pb.h"
#include "registry.pb.h"

namespace nsm::nsmctl {

// What nsmctl collected from one nsmgr.
struct NsmgrView {
  std::string url;
  // The NSEs the nsmgr's registry returned (forwarders among them are recognised by
  // network service name).
  std::vector<::registry::NetworkServiceEndpoint> endpoints;
  // The connections of its MonitorConnections initial state.
  std::vector<::connection::Connection> connections;
};

struct TopologyInput {
  std::vector<NsmgrView> nsmgrs;
  // NSEs of the domain registry (--registry), if asked.
  std::vector<::registry::NetworkServiceEndpoint> registry_endpoints;
  std::string forwarder_service = "forwarder";
};

// The DOT text. Node shapes by kind: client ellipse, nsmgr box3d, forwarder hexagon, endpoint
// rounded box; each node of an nsmgr (its forwarders, its local endpoints, the clients of its
// connections) sits in a cluster named after the nsmgr. One edge per connection and hop, labelled
// with the network service, red and dashed when the connection is DOWN; dotted grey edges join
// registered forwarders and endpoints to their nsmgr. A connection seen at several nsmgrs is drawn
// once (the view with the longest path). Output is deterministic (sorted nodes, connections in id
// order).
std::string TopologyDot(const TopologyInput& input);

// Quotes a DOT identifier or label ("..." with \" and \\ escaped, newlines as \n).
std::string DotQuote(const std::string& s);

}  // namespace nsm::nsmctl

// nsmctl's view of a mesh (issue #8): registry Find once or watching (api.md §5-6) and
// MonitorConnections first event or stream (api.md §7.5), against an nsmgr or registry.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connection.pb.h"
#include "core/context.h"
#include "grpcpp/grpcpp.h"
#include "registry.pb.h"

namespace nsm::nsmctl {

// What nsmctl talks to: kind is "nsmgr" or "registry" (for messages), url an NSM URL.
struct Target {
  std::string kind;
  std::string url;
};

// A connected peer. Every call is bounded by the context (its deadline and cancellation).
class Peer {
 public:
  // Dials `target` and waits up to `dial_timeout` for the connection. Unavailable
  // "cannot reach <kind> at <url>: <reason>" when it does not come up (no socket file, refused,
  // timed out ...); InvalidArgument for a URL that cannot be dialled.
  static absl::StatusOr<std::unique_ptr<Peer>> Dial(const Target& target,
                                                    absl::Duration dial_timeout);

  const Target& target() const { return target_; }

  // Registry Find without watch: every match of `query`, each name once (a Go v1.1.1 nsmgr
  // returns its local entries twice: from its store and through the domain registry; the copy
  // that expires last is kept).
  absl::StatusOr<std::vector<::registry::NetworkService>> FindNS(
      const Context& ctx, const ::registry::NetworkServiceQuery& query);
  absl::StatusOr<std::vector<::registry::NetworkServiceEndpoint>> FindNSE(
      const Context& ctx, const ::registry::NetworkServiceEndpointQuery& query);
  // Registry Find with watch: `on_event` for every response until the context ends (OK) or the
  // stream does (its status).
  absl::Status WatchNS(const Context& ctx, const ::registry::NetworkServiceQuery& query,
                       const std::function<void(const ::registry::NetworkServiceResponse&)>& on);
  absl::Status WatchNSE(
      const Context& ctx, const ::registry::NetworkServiceEndpointQuery& query,
      const std::function<void(const ::registry::NetworkServiceEndpointResponse&)>& on);

  // MonitorConnections with `selector`: the connections of the first event
  // (INITIAL_STATE_TRANSFER), sorted by id.
  absl::StatusOr<std::vector<::connection::Connection>> Connections(
      const Context& ctx, const ::connection::MonitorScopeSelector& selector = {});
  // MonitorConnections: `on_event` for every event until the context ends (OK) or the stream
  // does (its status).
  absl::Status WatchConnections(const Context& ctx,
                                const std::function<void(const ::connection::ConnectionEvent&)>& on,
                                const ::connection::MonitorScopeSelector& selector = {});

 private:
  Peer(Target target, std::shared_ptr<grpc::Channel> channel)
      : target_(std::move(target)), channel_(std::move(channel)) {}
  // "<rpc> at <kind> <url>: <status>" with the status code kept.
  absl::Status CallError(const std::string& rpc, const absl::Status& s) const;

  Target target_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace nsm::nsmctl

// NetworkService chain plumbing: server and client element interfaces, explicit `next` handles,
// chains that nest, and adapters between client and server forms (chain-model.md §2-3).
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connection.pb.h"
#include "core/context.h"
#include "networkservice.pb.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace nsm {

using Connection = ::connection::Connection;
using NetworkServiceRequest = ::networkservice::NetworkServiceRequest;

// Per-call options of client elements (credentials, fd passing, wait-for-ready...): each one
// adjusts the grpc::ClientContext of the outgoing call. Client elements pass on what they got,
// plus what they add.
struct CallOptions {
  std::vector<std::function<void(grpc::ClientContext&)>> apply;
};

// An error saying that the next hop could not be reached at all (dial: refused, or no connection
// within the dial timeout), as opposed to one the next hop answered with, which may come from
// further down the path (its own next hop). Selection elements demote only unreachable hops
// (forwarder_select). `name` is the hop's name when the element that chose its URL gave one
// (clienturl::WithClientUrl). The mark is a payload of the status: IsNextHopUnreachable is never
// true of a status received from a peer.
absl::Status MarkNextHopUnreachable(absl::Status s, absl::string_view name = "");
bool IsNextHopUnreachable(const absl::Status& s);

// Hop `name`, further down the path than this process's next hop, is known to be unreachable: a
// peer reported it (ToGrpcStatus sends a named mark as a gRPC status detail, FromGrpcStatus sets
// this), or discover found the endpoint a request names no longer registered.
absl::Status MarkReportedUnreachable(absl::Status s, absl::string_view name);

// The name of the hop that `s` says could not be reached: this process's next hop (a named
// MarkNextHopUnreachable), else the hop a peer reported. Empty when `s` says nothing of the kind.
std::string UnreachableHop(const absl::Status& s);

// `s` with another message, its code and every payload kept, so the marks above survive the
// elements that add context on the way back. Annotated: `prefix: message`.
absl::Status Reworded(const absl::Status& s, absl::string_view message);
absl::Status Annotated(const absl::Status& s, absl::string_view prefix);

class ServerNext;
class ClientNext;

// A server element. It may change `request`, call `next` zero or more times, and act on the
// result. If next fails it undoes its own work; if it fails after next succeeded it closes what
// next created (chain-model.md §3.3). `request` belongs to the caller and may be modified.
class NetworkServiceServer {
 public:
  virtual ~NetworkServiceServer() = default;
  virtual absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                             const ServerNext& next) = 0;
  // Close is best effort: release local state and always continue to next.
  virtual absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) = 0;
};

// A client element: a server element that also carries call options.
class NetworkServiceClient {
 public:
  virtual ~NetworkServiceClient() = default;
  virtual absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                             const ClientNext& next, const CallOptions& opts) = 0;
  virtual absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                             const CallOptions& opts) = 0;
};

namespace internal {
class ServerLink {
 public:
  virtual ~ServerLink() = default;
  virtual absl::StatusOr<Connection> Request(const Context& ctx,
                                             NetworkServiceRequest& req) const = 0;
  virtual absl::Status Close(const Context& ctx, Connection& conn) const = 0;
};
class ClientLink {
 public:
  virtual ~ClientLink() = default;
  virtual absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& req,
                                             const CallOptions& opts) const = 0;
  virtual absl::Status Close(const Context& ctx, Connection& conn,
                             const CallOptions& opts) const = 0;
};
}  // namespace internal

// "The rest of the chain" as seen by a server element. Cheap to copy and safe to keep (begin
// stores it to replay events later). A default-constructed ServerNext is the tail: Request
// returns request.connection unchanged, Close succeeds.
class ServerNext {
 public:
  ServerNext() = default;
  explicit ServerNext(std::shared_ptr<const internal::ServerLink> link) : link_(std::move(link)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request) const;
  absl::Status Close(const Context& ctx, Connection& conn) const;
  bool is_tail() const { return link_ == nullptr; }

 private:
  std::shared_ptr<const internal::ServerLink> link_;
};

class ClientNext {
 public:
  ClientNext() = default;
  explicit ClientNext(std::shared_ptr<const internal::ClientLink> link) : link_(std::move(link)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const CallOptions& opts = {}) const;
  absl::Status Close(const Context& ctx, Connection& conn, const CallOptions& opts = {}) const;
  bool is_tail() const { return link_ == nullptr; }

 private:
  std::shared_ptr<const internal::ClientLink> link_;
};

// An ordered list of server elements, itself a server element: its last element's next is the
// next it was called with, so chains nest. Elements are shared and may appear in many chains.
class ServerChain : public NetworkServiceServer {
 public:
  using Elements = std::vector<std::shared_ptr<NetworkServiceServer>>;
  explicit ServerChain(Elements elements);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;
  // Entry points for the outermost caller: the tail follows the last element.
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request) {
    return Request(ctx, request, ServerNext());
  }
  absl::Status Close(const Context& ctx, Connection& conn) {
    return Close(ctx, conn, ServerNext());
  }

 private:
  ServerNext Start(const ServerNext& parent) const;
  std::shared_ptr<const Elements> elements_;
  ServerNext tail_start_;  // precomputed links when the parent is the tail
};

class ClientChain : public NetworkServiceClient {
 public:
  using Elements = std::vector<std::shared_ptr<NetworkServiceClient>>;
  explicit ClientChain(Elements elements);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const CallOptions& opts = {}) {
    return Request(ctx, request, ClientNext(), opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const CallOptions& opts = {}) {
    return Close(ctx, conn, ClientNext(), opts);
  }

 private:
  ClientNext Start(const ClientNext& parent) const;
  std::shared_ptr<const Elements> elements_;
  ClientNext tail_start_;
};

// Null elements are left out (optional slots).
std::shared_ptr<ServerChain> MakeServerChain(ServerChain::Elements elements);
std::shared_ptr<ClientChain> MakeClientChain(ClientChain::Elements elements);

// Runs a client as a server element: when the client calls its next, the outer server chain
// continues. Call options end at the crossing (servers have none).
std::shared_ptr<NetworkServiceServer> ClientToServer(std::shared_ptr<NetworkServiceClient> client);
// Runs a server as a client element: when the server calls its next, the outer client chain
// continues with the call options the client element received.
std::shared_ptr<NetworkServiceClient> ServerToClient(std::shared_ptr<NetworkServiceServer> server);

}  // namespace nsm

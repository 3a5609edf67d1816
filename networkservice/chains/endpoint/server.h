// endpoint chain: the server chain every NSM hop starts with (updatepath, begin, updatetoken,
// authorize, metadata, timeout, monitor, trimpath) plus the hop's own elements (nsmgr.md §3.1).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "core/token.h"

namespace nsm::endpoint {

struct Options {
  // The hop's name, its path segment name; default "endpoint-<uuid>".
  std::string name = {};
  // Right after begin: the metrics element (networkservice/metrics), so it sees this hop's
  // connection id and begin's own Closes (timeout); default none.
  std::shared_ptr<NetworkServiceServer> metrics = nullptr;
  // S5; default: authorize server without policies (allow all).
  std::shared_ptr<NetworkServiceServer> authorize = nullptr;
  // S8 slot for the monitor server (MonitorConnection API); default none.
  std::shared_ptr<NetworkServiceServer> monitor = nullptr;
  // The hop's own elements after trimpath (mechanisms, discover, connect ...).
  std::vector<std::shared_ptr<NetworkServiceServer>> additional = {};
  // Where begin runs timer and heal events; default the process pool.
  std::shared_ptr<ThreadPool> pool = nullptr;
  // A Close for a connection this hop does not hold still runs the chain (begin's
  // ServerOptions::close_unknown): a passthrough hop that restarted then routes it by the path.
  bool close_unknown = false;
};

// A server chain with the connections it holds observable for leak checks.
class Endpoint : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request) {
    return Request(ctx, request, ServerNext());
  }
  absl::Status Close(const Context& ctx, Connection& conn) {
    return Close(ctx, conn, ServerNext());
  }

  const std::string& name() const { return name_; }
  // Connections begin currently knows.
  size_t connections() const;

 private:
  friend absl::StatusOr<std::shared_ptr<Endpoint>> NewServer(
      std::shared_ptr<const TokenGenerator> tokens, Options options);
  Endpoint() = default;

  std::string name_;
  std::function<size_t()> connections_;
  std::shared_ptr<ServerChain> chain_;
};

// `tokens` is required (choose NewInsecureTokenGenerator explicitly for insecure mode);
// InvalidArgument without it.
absl::StatusOr<std::shared_ptr<Endpoint>> NewServer(std::shared_ptr<const TokenGenerator> tokens,
                                                    Options options = {});

}  // namespace nsm::endpoint

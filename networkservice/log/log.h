// log: one debug line per Request and Close passing this point of a NetworkService chain, with
// connection id, network service, hop names, outcome and duration; never a token (issue #8 Logs).
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/networkservice.h"

namespace nsm::logging {

struct Options {
  // The component of the lines, e.g. "nsmgr-1/ns" (the hop's name).
  std::string component = "networkservice";
  // nullptr: the process logger (log::Default()).
  log::Logger* logger = nullptr;
  // Measures the duration; nullptr: the real clock.
  std::shared_ptr<Clock> clock = nullptr;
};

// With debug off the element only checks the level (one atomic load) and calls next. With debug
// on, after next returns it writes "request" or "close" with fields id, service, path (segment
// names joined by '>'), outcome ("ok" or the gRPC code name), error (the status message, when
// not ok) and duration. Nothing is changed in the request or the connection.
class Server : public NetworkServiceServer {
 public:
  explicit Server(Options options);
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  Options options_;
};

// The same lines on the client side of a hop (component e.g. "nsc").
class Client : public NetworkServiceClient {
 public:
  explicit Client(Options options);
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  Options options_;
};

inline std::shared_ptr<Server> NewServer(Options options = {}) {
  return std::make_shared<Server>(std::move(options));
}
inline std::shared_ptr<Client> NewClient(Options options = {}) {
  return std::make_shared<Client>(std::move(options));
}

// The fields of one line (exposed for the registry log element and tests).
log::Fields ConnectionFields(const Connection& conn, const absl::Status& status,
                             absl::Duration took);

}  // namespace nsm::logging

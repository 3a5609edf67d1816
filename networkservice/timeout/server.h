// timeout server: closes a connection through begin when the caller's token expires without a
// refresh; every refresh re-arms, Close disarms (nsmgr.md §4.3, §8.2, fixed per §13 item 10).
#pragma once

#include <memory>

#include "core/networkservice.h"

namespace nsm::timeout {

// Needs begin (event factory) and metadata (server Store) before it in the chain. After a
// successful Request it arms a timer on ctx.clock() at
//   previous segment's expires - the time that was left on the Request's deadline (0 if none),
// replacing the connection's previous timer; when it fires, begin's event factory closes the
// connection through the whole chain (skipped if a refresh re-armed meanwhile). The timer lives
// in the connection's server metadata, so it dies with the connection. Close disarms, whatever
// the downstream Close answers.
class Server : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;
};

inline std::shared_ptr<Server> NewServer() { return std::make_shared<Server>(); }

}  // namespace nsm::timeout

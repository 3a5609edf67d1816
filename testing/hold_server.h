// A server element for tests that holds every Request until released or until the call ends: an
// endpoint (or forwarder) that accepts Requests and answers none, as a hung peer does.
#pragma once

#include <cstddef>

#include "core/gate.h"
#include "core/networkservice.h"

namespace nsm::testing {

// Held Requests call next once released (so they succeed then), or fail with the call's own
// status when it ends first. Closes pass. Thread-safe.
class HoldServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Requests waiting here now.
  size_t held() const { return gate_.waiting(); }
  // Lets every held and later Request go on.
  void Release() { gate_.Open(); }

 private:
  Gate gate_;
};

}  // namespace nsm::testing

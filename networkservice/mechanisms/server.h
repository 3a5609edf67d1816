// mechanisms server: hands a Request to the element registered for the mechanism type it selects
// (first working preference) or already has (mechanisms.md §14, nsmgr.md §4.10).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/networkservice.h"

namespace nsm::mechanisms {

// Mechanism type ("KERNEL", "MEMIF", ...) -> the element that implements it. The element
// continues into this server's next (a ServerChain nests).
using Handlers = std::map<std::string, std::shared_ptr<NetworkServiceServer>>;

// Request with connection.mechanism set (a refresh): its type must be registered, else
// InvalidArgument "unsupported mechanism: ...". Otherwise each preference whose type is registered
// is tried in order on a copy of the request with connection.mechanism = that preference (the last
// one: on the request itself, its mechanism cleared again if it fails); the first success wins.
// No registered preference: InvalidArgument listing what was offered and what is supported; all
// tried ones failed: the last failure's code, with every type and its error.
// Close goes to the handler of connection.mechanism; without a mechanism it goes straight to next;
// an unknown type still closes next and then reports "unsupported mechanism".
class Server : public NetworkServiceServer {
 public:
  explicit Server(Handlers handlers) : handlers_(std::move(handlers)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  std::string Supported() const;
  NetworkServiceServer* Find(const std::string& type) const;
  Handlers handlers_;
};

inline std::shared_ptr<Server> NewServer(Handlers handlers) {
  return std::make_shared<Server>(std::move(handlers));
}

}  // namespace nsm::mechanisms

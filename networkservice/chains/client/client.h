// client chain: updatepath, begin, metadata, refresh, clienturl, heal, dial, ..., authorize,
// trimpath, updatetoken, connect; what an NSC or a hop's nested client calls with (nsmgr.md §3.2).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "core/token.h"

namespace nsm::client {

// Slots default to none (skipped): an NSC passes refresh/heal/dial/connect, a hop's nested client
// (nsmgr, forwarder) passes dial/connect and no refresh/heal.
struct Options {
  // The path segment name; default "client-<uuid>". A nested client uses its hop's name.
  std::string name = {};
  std::shared_ptr<NetworkServiceClient> refresh = nullptr;     // C5
  std::shared_ptr<NetworkServiceClient> client_url = nullptr;  // C6
  std::shared_ptr<NetworkServiceClient> heal = nullptr;        // C8
  std::shared_ptr<NetworkServiceClient> dial = nullptr;        // C9
  // The hop's own client elements (recvfd/sendfd, mechanism clients ...), C10-C11.
  std::vector<std::shared_ptr<NetworkServiceClient>> additional = {};
  std::shared_ptr<NetworkServiceClient> authorize = nullptr;  // C12
  // C14: sends the request to the next hop. None: the chain ends (tail) after updatetoken.
  std::shared_ptr<NetworkServiceClient> connect = nullptr;
  // Where begin runs refresh and heal events; default the process pool.
  std::shared_ptr<ThreadPool> pool = nullptr;
};

class Client : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request) {
    return Request(ctx, request, ClientNext(), {});
  }
  absl::Status Close(const Context& ctx, Connection& conn) {
    return Close(ctx, conn, ClientNext(), {});
  }

  const std::string& name() const { return name_; }
  // Connections begin currently knows.
  size_t connections() const;

 private:
  friend absl::StatusOr<std::shared_ptr<Client>> NewClient(
      std::shared_ptr<const TokenGenerator> tokens, Options options);
  Client() = default;

  std::string name_;
  std::function<size_t()> connections_;
  std::shared_ptr<ClientChain> chain_;
};

// `tokens` signs this client's segment and the token headers of its calls; required (choose
// NewInsecureTokenGenerator explicitly for insecure mode): InvalidArgument without it.
absl::StatusOr<std::shared_ptr<Client>> NewClient(std::shared_ptr<const TokenGenerator> tokens,
                                                  Options options = {});

}  // namespace nsm::client

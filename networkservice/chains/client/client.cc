#include "networkservice/chains/client/client.h"

#include "networkservice/begin/client.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/trimpath/client.h"
#include "networkservice/updatepath/client.h"
#include "networkservice/updatepath/common.h"
#include "networkservice/updatetoken/client.h"

namespace nsm::client {
namespace {

// A request must name its network service before anything keeps state or dials (api.md §10).
class ValidateRequest : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    if (request.connection().network_service().empty()) {
      return absl::InvalidArgumentError("connection.network_service is empty");
    }
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }
};

ClientChain::Elements Concat(ClientChain::Elements head, const ClientChain::Elements& middle,
                             const ClientChain::Elements& tail) {
  head.insert(head.end(), middle.begin(), middle.end());
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

}  // namespace

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  return chain_->Request(ctx, request, next, opts);
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return chain_->Close(ctx, conn, next, opts);
}

size_t Client::connections() const { return connections_(); }

absl::StatusOr<std::shared_ptr<Client>> NewClient(std::shared_ptr<const TokenGenerator> tokens,
                                                  Options options) {
  if (tokens == nullptr) {
    return absl::InvalidArgumentError(
        "client: a token generator is required (NewInsecureTokenGenerator for insecure mode)");
  }
  std::shared_ptr<Client> c(new Client());
  c->name_ = options.name.empty() ? "client-" + updatepath::NewUuid() : options.name;
  auto begin = begin::NewClient(options.pool ? options.pool : DefaultThreadPool());
  c->connections_ = [begin] { return begin->size(); };

  ClientChain::Elements elements = Concat(
      {
          std::make_shared<ValidateRequest>(),
          updatepath::NewClient(c->name_),  // C2
          begin,                            // C3
          metadata::NewClient(),            // C4
          options.refresh,                  // C5 (slot)
          options.client_url,               // C6 (slot; C7 clientconn has no counterpart)
          options.heal,                     // C8 (slot)
          options.dial,                     // C9 (slot)
      },
      options.additional,  // C10, C11 ...
      {
          options.authorize,                          // C12 (slot)
          trimpath::NewClient(),                      // C13
          updatetoken::NewClient(std::move(tokens)),  // this hop's token headers
          options.connect,                            // C14 (slot)
      });
  std::erase(elements, nullptr);
  c->chain_ = MakeClientChain(std::move(elements));
  return c;
}

}  // namespace nsm::client

#include "networkservice/chains/endpoint/server.h"

#include "networkservice/authorize/server.h"
#include "networkservice/begin/server.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/timeout/server.h"
#include "networkservice/trimpath/server.h"
#include "networkservice/updatepath/common.h"
#include "networkservice/updatepath/server.h"
#include "networkservice/updatetoken/server.h"

namespace nsm::endpoint {
namespace {

// The request shape every hop needs before anything keeps state (api.md §10): a network service.
// Path problems are answered by updatepath with the messages of chain-model.md §5.1.
class ValidateRequest : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    if (request.connection().network_service().empty()) {
      return absl::InvalidArgumentError("connection.network_service is empty");
    }
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

}  // namespace

absl::StatusOr<Connection> Endpoint::Request(const Context& ctx, NetworkServiceRequest& request,
                                             const ServerNext& next) {
  return chain_->Request(ctx, request, next);
}

absl::Status Endpoint::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return chain_->Close(ctx, conn, next);
}

size_t Endpoint::connections() const { return connections_(); }

absl::StatusOr<std::shared_ptr<Endpoint>> NewServer(std::shared_ptr<const TokenGenerator> tokens,
                                                    Options options) {
  if (tokens == nullptr) {
    return absl::InvalidArgumentError(
        "endpoint: a token generator is required (NewInsecureTokenGenerator for insecure mode)");
  }
  std::shared_ptr<Endpoint> ep(new Endpoint());
  ep->name_ = options.name.empty() ? "endpoint-" + updatepath::NewUuid() : options.name;
  auto begin = begin::NewServer(options.pool ? options.pool : DefaultThreadPool(),
                                {.close_unknown = options.close_unknown});
  ep->connections_ = [begin] { return begin->size(); };

  ServerChain::Elements elements = {
      std::make_shared<ValidateRequest>(),
      updatepath::NewServer(ep->name_),                                // S2
      begin,                                                           // S3
      options.metrics,                                                 // (slot, issue #8)
      updatetoken::NewServer(std::move(tokens)),                       // S4
      options.authorize ? options.authorize : authorize::NewServer(),  // S5
      metadata::NewServer(),                                           // S6
      timeout::NewServer(),                                            // S7
      options.monitor,                                                 // S8 (slot)
      trimpath::NewServer(),                                           // S9
  };
  elements.insert(elements.end(), options.additional.begin(), options.additional.end());
  std::erase(elements, nullptr);
  ep->chain_ = MakeServerChain(std::move(elements));
  return ep;
}

}  // namespace nsm::endpoint

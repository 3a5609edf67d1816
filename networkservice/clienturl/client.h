// clienturl client: the client-chain form of the clienturl server, for chains that always dial one
// peer (an NSC dialling its nsmgr; nsmgr.md §3.2 generic client chain, C6).
#pragma once

#include <memory>

#include "api/nsm_url.h"
#include "core/networkservice.h"
#include "networkservice/clienturl/clienturl.h"

namespace nsm::clienturl {

class Client : public NetworkServiceClient {
 public:
  explicit Client(api::NsmUrl url) : url_(std::make_shared<api::NsmUrl>(std::move(url))) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  std::shared_ptr<api::NsmUrl> url_;
};

inline std::shared_ptr<Client> NewClient(api::NsmUrl url) {
  return std::make_shared<Client>(std::move(url));
}

}  // namespace nsm::clienturl

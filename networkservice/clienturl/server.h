// clienturl server: every Request and Close continues with a fixed next-hop URL in the context, so
// a connect element after it always talks to the same peer (nsmgr.md §3.2 C6, chain-model.md §4.1).
#pragma once

#include <memory>

#include "api/nsm_url.h"
#include "core/networkservice.h"
#include "networkservice/clienturl/clienturl.h"

namespace nsm::clienturl {

class Server : public NetworkServiceServer {
 public:
  explicit Server(api::NsmUrl url) : url_(std::make_shared<api::NsmUrl>(std::move(url))) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  std::shared_ptr<api::NsmUrl> url_;
};

inline std::shared_ptr<Server> NewServer(api::NsmUrl url) {
  return std::make_shared<Server>(std::move(url));
}

}  // namespace nsm::clienturl

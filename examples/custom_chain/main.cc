// custom_chain: how a controller adds its own chain element to nsm-cpp. The element stamps a
// label on every connection and counts live connections in per-connection metadata.
#include <iostream>

#include "api/labels.h"
#include "core/networkservice.h"
#include "networkservice/begin/server.h"
#include "networkservice/metadata/metadata.h"

namespace {

inline const nsm::TypedKey<std::string> kStampKey{"custom_chain.stamp"};

class StampServer : public nsm::NetworkServiceServer {
 public:
  absl::StatusOr<nsm::Connection> Request(const nsm::Context& ctx,
                                          nsm::NetworkServiceRequest& request,
                                          const nsm::ServerNext& next) override {
    (*request.mutable_connection()->mutable_labels())["stamped-by"] = "custom_chain";
    auto conn = next.Request(ctx, request);
    if (conn.ok()) {
      nsm::metadata::FromContext(ctx)->server.Put(kStampKey,
                                                  std::make_shared<std::string>(conn->id()));
      ++live;
    }
    return conn;
  }
  absl::Status Close(const nsm::Context& ctx, nsm::Connection& conn,
                     const nsm::ServerNext& next) override {
    if (nsm::metadata::FromContext(ctx)->server.LoadAndDelete(kStampKey)) --live;
    return next.Close(ctx, conn);
  }
  int live = 0;
};

}  // namespace

int main() {
  auto stamp = std::make_shared<StampServer>();
  auto chain = nsm::MakeServerChain({nsm::begin::NewServer(), nsm::metadata::NewServer(), stamp});

  nsm::NetworkServiceRequest request;
  request.mutable_connection()->set_id("conn-1");
  request.mutable_connection()->set_network_service("my-service");
  auto conn = chain->Request(nsm::Context(), request);
  if (!conn.ok()) {
    std::cerr << conn.status() << "\n";
    return 1;
  }
  google::protobuf::Map<std::string, std::string> want;
  want["stamped-by"] = "custom_chain";
  bool stamped = nsm::api::IsSubset(conn->labels(), want, conn->labels());
  std::cout << "stamped=" << stamped << " live=" << stamp->live << "\n";
  if (!chain->Close(nsm::Context(), *conn).ok()) return 1;
  std::cout << "after close live=" << stamp->live << "\n";
  return stamped && stamp->live == 0 ? 0 : 1;
}

#include "registry/clientinfo/clientinfo.h"

namespace nsm::reg::clientinfo {

NSEServer::NSEServer(const EnvLookup& env) : info_(::nsm::clientinfo::ReadClientInfo(env)) {}

absl::StatusOr<NSEServer::Item> NSEServer::Register(const Context& ctx, Item& nse,
                                                    const Next& next) {
  for (auto& [service, labels] : *nse.mutable_network_service_labels()) {
    ::nsm::clientinfo::AddClientInfo(info_, *labels.mutable_labels());
  }
  return next.Register(ctx, nse);
}

absl::Status NSEServer::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  return next.Find(ctx, query, stream);
}

absl::Status NSEServer::Unregister(const Context& ctx, Item& nse, const Next& next) {
  return next.Unregister(ctx, nse);
}

}  // namespace nsm::reg::clientinfo

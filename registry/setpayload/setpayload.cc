#include "registry/setpayload/setpayload.h"

namespace nsm::reg::setpayload {

absl::StatusOr<NSServer::Item> NSServer::Register(const Context& ctx, Item& ns, const Next& next) {
  if (ns.payload().empty()) ns.set_payload(payload_);
  return next.Register(ctx, ns);
}

absl::Status NSServer::Find(const Context& ctx, const Query& query, const Stream& stream,
                            const Next& next) {
  return next.Find(ctx, query, stream);
}

absl::Status NSServer::Unregister(const Context& ctx, Item& ns, const Next& next) {
  return next.Unregister(ctx, ns);
}

}  // namespace nsm::reg::setpayload

#include "registry/setregistrationtime/setregistrationtime.h"

#include "api/path.h"

namespace nsm::reg::setregistrationtime {

absl::StatusOr<NSEServer::Item> NSEServer::Register(const Context& ctx, Item& nse,
                                                    const Next& next) {
  if (!nse.has_initial_registration_time()) {
    *nse.mutable_initial_registration_time() = api::ToProtoTimestamp(ctx.clock().Now());
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

}  // namespace nsm::reg::setregistrationtime

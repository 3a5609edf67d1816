// log (registry): one debug line per Register, Find and Unregister passing this point of a
// registry chain, with the name, services, URL, outcome and duration (issue #8 Logs).
#include "registry/log/log.h"

#include "absl/strings/str_join.h"

namespace nsm::reg::logging {
namespace {

void AddItem(log::Fields& f, const ::registry::NetworkService& ns) {
  f.emplace_back("name", ns.name());
}

void AddItem(log::Fields& f, const ::registry::NetworkServiceEndpoint& nse) {
  f.emplace_back("name", nse.name());
  f.emplace_back("services", absl::StrJoin(nse.network_service_names(), ","));
  f.emplace_back("url", nse.url());
}

const ::registry::NetworkService& ItemOf(const ::registry::NetworkServiceQuery& q) {
  return q.network_service();
}
const ::registry::NetworkServiceEndpoint& ItemOf(const ::registry::NetworkServiceEndpointQuery& q) {
  return q.network_service_endpoint();
}

void AddOutcome(log::Fields& f, const absl::Status& status, absl::Duration took) {
  if (status.ok()) {
    f.emplace_back("outcome", "ok");
  } else {
    f.emplace_back("outcome", absl::StatusCodeToString(status.code()));
    f.emplace_back("error", status.message());
  }
  f.emplace_back("duration", took);
}

}  // namespace

template <class T>
Server<T>::Server(Options options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = RealClock();
}

template <class T>
absl::StatusOr<typename Server<T>::Item> Server<T>::Register(const Context& ctx, Item& item,
                                                             const Next& next) {
  if (!logger().Enabled(log::Level::kDebug)) return next.Register(ctx, item);
  const absl::Time start = options_.clock->Now();
  auto result = next.Register(ctx, item);
  log::Fields f;
  AddItem(f, result.ok() ? *result : item);
  AddOutcome(f, result.status(), options_.clock->Now() - start);
  logger().Write(log::Level::kDebug, options_.component, "register", f);
  return result;
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  if (!logger().Enabled(log::Level::kDebug)) return next.Find(ctx, query, stream);
  const absl::Time start = options_.clock->Now();
  absl::Status status = next.Find(ctx, query, stream);
  log::Fields f;
  AddItem(f, ItemOf(query));
  f.emplace_back("watch", query.watch() ? "true" : "false");
  AddOutcome(f, status, options_.clock->Now() - start);
  logger().Write(log::Level::kDebug, options_.component, "find", f);
  return status;
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next& next) {
  if (!logger().Enabled(log::Level::kDebug)) return next.Unregister(ctx, item);
  const absl::Time start = options_.clock->Now();
  absl::Status status = next.Unregister(ctx, item);
  log::Fields f;
  AddItem(f, item);
  AddOutcome(f, status, options_.clock->Now() - start);
  logger().Write(log::Level::kDebug, options_.component, "unregister", f);
  return status;
}

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::logging

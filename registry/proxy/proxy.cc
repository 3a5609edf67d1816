#include "registry/proxy/proxy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "registry/clienturl/clienturl.h"
#include "registry/matchutils/items.h"

namespace nsm::reg::proxy {
namespace {

absl::Status NoProxy(absl::string_view what, absl::string_view name) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " \"", name,
                   "\" is inter-domain but this registry has no proxy registry URL configured"));
}

}  // namespace

bool IsInterdomainQuery(const ::registry::NetworkServiceQuery& query) {
  return IsInterdomain(query.network_service().name());
}

bool IsInterdomainQuery(const ::registry::NetworkServiceEndpointQuery& query) {
  const auto& nse = query.network_service_endpoint();
  return IsInterdomain(nse.name()) ||
         std::any_of(nse.network_service_names().begin(), nse.network_service_names().end(),
                     [](const std::string& n) { return IsInterdomain(n); });
}

template <class T>
auto Server<T>::Register(const Context& ctx, Item& item, const Next& next) -> absl::StatusOr<Item> {
  if (!IsInterdomain(item.name())) return item;
  if (url_.empty()) return NoProxy(KindName(item), item.name());
  return next.Register(clienturl::WithClientUrl(ctx, url_), item);
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  if (!IsInterdomainQuery(query)) return absl::OkStatus();
  if (url_.empty()) return NoProxy("query for", QueryItem(query).ShortDebugString());
  return next.Find(clienturl::WithClientUrl(ctx, url_), query, stream);
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next& next) {
  if (!IsInterdomain(item.name())) return absl::OkStatus();
  if (url_.empty()) return NoProxy(KindName(item), item.name());
  return next.Unregister(clienturl::WithClientUrl(ctx, url_), item);
}

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::proxy

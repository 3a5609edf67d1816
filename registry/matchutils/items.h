// Uniform access to the NS/NSE inside queries and responses, so registry elements can be written
// once for both registries (api.md §5).
#pragma once

#include <string>

#include "core/packed.h"
#include "registry.pb.h"

namespace nsm::reg {

inline const ::registry::NetworkService& QueryItem(const ::registry::NetworkServiceQuery& q) {
  return q.network_service();
}
inline const ::registry::NetworkServiceEndpoint& QueryItem(
    const ::registry::NetworkServiceEndpointQuery& q) {
  return q.network_service_endpoint();
}
inline ::registry::NetworkService* MutableQueryItem(::registry::NetworkServiceQuery* q) {
  return q->mutable_network_service();
}
inline ::registry::NetworkServiceEndpoint* MutableQueryItem(
    ::registry::NetworkServiceEndpointQuery* q) {
  return q->mutable_network_service_endpoint();
}

inline const ::registry::NetworkService& ResponseItem(const ::registry::NetworkServiceResponse& r) {
  return r.network_service();
}
inline const ::registry::NetworkServiceEndpoint& ResponseItem(
    const ::registry::NetworkServiceEndpointResponse& r) {
  return r.network_service_endpoint();
}

// A response carrying `item`, marked deleted when the item was removed.
template <class Response, class Item>
Response MakeResponse(const Item& item, bool deleted = false);

template <>
inline ::registry::NetworkServiceResponse MakeResponse(const ::registry::NetworkService& item,
                                                       bool deleted) {
  ::registry::NetworkServiceResponse r;
  *r.mutable_network_service() = item;
  r.set_deleted(deleted);
  return r;
}
template <>
inline ::registry::NetworkServiceEndpointResponse MakeResponse(
    const ::registry::NetworkServiceEndpoint& item, bool deleted) {
  ::registry::NetworkServiceEndpointResponse r;
  *r.mutable_network_service_endpoint() = item;
  r.set_deleted(deleted);
  return r;
}

// "service" / "endpoint": how messages name the kind of object.
inline const char* KindName(const ::registry::NetworkService&) { return "network service"; }
inline const char* KindName(const ::registry::NetworkServiceEndpoint&) {
  return "network service endpoint";
}

// A query as a cache key: its deterministic wire form with `watch` cleared (the same query with
// and without watch asks for the same results). Binary, not for display.
template <class Query>
std::string QueryKey(const Query& q) {
  Query plain = q;
  plain.set_watch(false);
  return DeterministicBytes(plain);
}

// True for inter-domain names ("name@domain", api.md §6.5).
inline bool IsInterdomain(const std::string& name) { return name.find('@') != std::string::npos; }

}  // namespace nsm::reg

// Maps the registry traits (core/registry.h) to the generated gRPC services of api.md §5 and their
// health-check names (api.md §9).
#pragma once

#include "core/registry.h"
#include "registry.grpc.pb.h"

namespace nsm::reg::transport {

template <class T>
struct Grpc;

template <>
struct Grpc<NSTraits> {
  using Service = ::registry::NetworkServiceRegistry;
  static constexpr const char* kServiceName = "registry.NetworkServiceRegistry";
};

template <>
struct Grpc<NSETraits> {
  using Service = ::registry::NetworkServiceEndpointRegistry;
  static constexpr const char* kServiceName = "registry.NetworkServiceEndpointRegistry";
};

}  // namespace nsm::reg::transport

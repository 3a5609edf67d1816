// The last element of registry client chains: calls a remote registry over gRPC; Find is a
// ClientReadReactor feeding the caller's FindStream (chain-model.md §7, registry.md §7.3).
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/registry.h"
#include "grpcpp/grpcpp.h"
#include "registry/transport/grpc_types.h"

namespace nsm::reg::transport {

struct ClientOptions {
  // How long a call waits for the channel to connect (bounded also by the call's deadline).
  absl::Duration dial_timeout = absl::Seconds(1);
  // Deadline of Register/Unregister/non-watch Find calls whose context has none.
  absl::Duration default_timeout = absl::Seconds(15);
};

// Register/Unregister are blocking unary calls with the context's remaining time (or
// default_timeout) as deadline, cancelled with the context. Find without watch blocks until the
// remote stream ends and returns its status; with watch it returns at once and ends the caller's
// stream with the remote status when the remote stream ends; it stops when the caller's stream
// context or the call context is cancelled. A channel that does not connect within dial_timeout
// fails the call with UNAVAILABLE naming the target.
template <class T>
class RegistryGrpcClient : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Response;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;

  // `target` names the peer in error messages (the URL dialled).
  RegistryGrpcClient(std::shared_ptr<grpc::Channel> channel, std::string target,
                     ClientOptions options = {});
  // On a fiber, which may run on one of gRPC's callback threads, the channel is released on the
  // pool: the last reference to a channel must not go there (registry/README.md).
  ~RegistryGrpcClient() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                const CallOptions& opts) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream, const Next& next,
                    const CallOptions& opts) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                          const CallOptions& opts) override;

  const std::string& target() const { return target_; }

 private:
  class FindReader;
  absl::Status Connected(const Context& ctx) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<typename Grpc<T>::Service::Stub> stub_;
  std::string target_;
  ClientOptions options_;
};

extern template class RegistryGrpcClient<NSTraits>;
extern template class RegistryGrpcClient<NSETraits>;
using NSRegistryGrpcClient = RegistryGrpcClient<NSTraits>;
using NSERegistryGrpcClient = RegistryGrpcClient<NSETraits>;

}  // namespace nsm::reg::transport

// One gRPC channel per registry URL, shared by every user and closed when the last user drops it;
// short reconnect backoff so a restarted registry is found again quickly (registry.md §3.9).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/credentials.h"
#include "grpcpp/grpcpp.h"

namespace nsm::reg::transport {

class ChannelPool {
 public:
  explicit ChannelPool(std::shared_ptr<Credentials> credentials);

  // The channel to an NSM URL (unix:///path, tcp://host:port). InvalidArgument for URLs that
  // cannot be dialled. Users keep the returned pointer for as long as they use the channel.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Get(const std::string& url);
  // Channels some user still holds.
  size_t size() const;

 private:
  std::shared_ptr<Credentials> credentials_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm::reg::transport

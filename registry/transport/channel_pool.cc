#include "registry/transport/channel_pool.h"

#include "absl/strings/str_cat.h"
#include "api/nsm_url.h"

namespace nsm::reg::transport {

ChannelPool::ChannelPool(std::shared_ptr<Credentials> credentials)
    : credentials_(std::move(credentials)) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelPool::Get(const std::string& url) {
  absl::MutexLock lock(&mu_);
  if (auto it = channels_.find(url); it != channels_.end()) {
    if (auto channel = it->second.lock()) return channel;
  }
  auto parsed = api::ParseNsmUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto target = parsed->GrpcDialTarget();
  if (!target.ok()) return target.status();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // A channel of its own per URL: no subchannel (and its backoff state) shared process-wide.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(*target, credentials_->ChannelCredentials(), args);
  // Forget channels nobody uses any more, so the map stays as small as the set of live peers.
  absl::erase_if(channels_, [](const auto& kv) { return kv.second.expired(); });
  channels_[url] = channel;
  return channel;
}

size_t ChannelPool::size() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [url, weak] : channels_) n += weak.expired() ? 0 : 1;
  return n;
}

}  // namespace nsm::reg::transport

#include "testing/hold_server.h"

#include <memory>

namespace nsm::testing {

absl::StatusOr<Connection> HoldServer::Request(const Context& ctx, NetworkServiceRequest& request,
                                               const ServerNext& next) {
  auto ended = std::make_shared<bool>(false);  // guarded by mu_
  auto on_end = ctx.cancel_state()->OnCancel([this, ended] {
    absl::MutexLock lock(&mu_);
    *ended = true;
  });
  {
    absl::MutexLock lock(&mu_);
    ++held_;
    auto go = [this, &ended]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_ || *ended; };
    mu_.Await(absl::Condition(&go));
    --held_;
    if (!released_) return ctx.Err();
  }
  return next.Request(ctx, request);
}

absl::Status HoldServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

size_t HoldServer::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

void HoldServer::Release() {
  absl::MutexLock lock(&mu_);
  released_ = true;
}

}  // namespace nsm::testing

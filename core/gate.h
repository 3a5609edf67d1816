// A gate for tests that holds every caller until it is opened or until the caller's call ends: a
// peer that accepts calls and answers none (testing/hold_server.h, the registry transport tests).
#pragma once

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/context.h"

namespace nsm {

class Gate {
 public:
  // Waits until Open() (OK), or until `ctx` ends first (its error). Thread-safe.
  absl::Status Pass(const Context& ctx) {
    auto ended = std::make_shared<bool>(false);  // guarded by mu_
    auto on_end = ctx.cancel_state()->OnCancel([this, ended] {
      absl::MutexLock lock(&mu_);
      *ended = true;
    });
    absl::MutexLock lock(&mu_);
    ++waiting_;
    auto go = [this, &ended]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ || *ended; };
    mu_.Await(absl::Condition(&go));
    --waiting_;
    return open_ ? absl::OkStatus() : ctx.Err();
  }

  // Callers waiting in Pass() now.
  size_t waiting() const {
    absl::MutexLock lock(&mu_);
    return waiting_;
  }

  // Lets every waiting and later caller pass.
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }

 private:
  mutable absl::Mutex mu_;
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace nsm

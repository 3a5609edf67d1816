// For tests of admission hooks (metrics): drives a real Admission of one worker through an
// overload — a call held, a Close waiting, a new Request refused, the Close's caller giving up.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/admission.h"
#include "core/context.h"
#include "core/executor.h"

namespace nsm {

// With `options.max_queued` = 1: calls `waiting` while the Close waits, `refused` with the new
// Request's refusal, then cancels the Close's caller and lets the held call end. Returns whether
// the Close was answered without running within `bound` (its on_shed hook has run by then).
inline bool DriveOverload(const AdmissionOptions& options, const std::function<void()>& waiting,
                          const std::function<void(const absl::Status&)>& refused,
                          absl::Duration bound = absl::Seconds(20)) {
  absl::Notification running, release, skipped;  // outlive the pool, which joins its worker
  bool answered = false;
  {
    auto pool = std::make_shared<ThreadPool>(1);
    Admission admission(pool, options);
    auto ignore = [](const absl::Status&) {};
    auto hold = [&] {
      running.Notify();
      release.WaitForNotification();
    };
    if (!admission.Submit(CallPriority::kRequest, Context(), hold, ignore).ok()) return false;
    running.WaitForNotification();
    auto [ctx, cancel] = Context().WithCancel();
    const absl::Status close = admission.Submit(
        CallPriority::kClose, ctx, [] {}, [&](const absl::Status&) { skipped.Notify(); });
    if (close.ok()) waiting();
    refused(admission.Submit(
        CallPriority::kRequest, Context(), [] {}, ignore));
    cancel();
    release.Notify();
    answered = close.ok() && skipped.WaitForNotificationWithTimeout(bound);
  }
  return answered;
}

}  // namespace nsm

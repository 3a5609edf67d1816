// Clock and timers: every time read and every timer in nsm-cpp goes through this interface, so
// tests can substitute the FakeClock (chain-model.md §4.5, sandbox.md §8).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nsm {

// A pending callback. Destroying the Timer stops it (RAII: a timer dies with its owner).
class Timer {
 public:
  virtual ~Timer() = default;
  // Prevents the callback from running. Returns true if the callback had not started yet.
  // Never waits for a running callback, so it is safe to call from inside the callback.
  virtual bool Stop() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // Runs `fn` once `d` has elapsed on this clock. `fn` runs on the clock's timer thread (real
  // clock) or inside FakeClock::Advance (fake clock): it must be short and must not block; hand
  // longer work to an executor.
  virtual std::unique_ptr<Timer> AfterFunc(absl::Duration d, std::function<void()> fn) = 0;

  std::unique_ptr<Timer> At(absl::Time t, std::function<void()> fn) {
    return AfterFunc(t - Now(), std::move(fn));
  }
  absl::Duration Until(absl::Time t) const { return t - Now(); }
  absl::Duration Since(absl::Time t) const { return Now() - t; }
};

// The process-wide real clock. Its timers run on one scheduler thread, in deadline order,
// measured on the monotonic clock.
std::shared_ptr<Clock> RealClock();
// Timers of the real clock armed and neither fired nor stopped (tests, diagnostics).
size_t RealClockQueuedTimers();

}  // namespace nsm

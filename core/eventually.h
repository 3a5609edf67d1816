// Eventually: a bounded real-time wait for work on another thread or in another process, for tests
// and tools. Never for a timer: the fake clock moves only when a test advances it (DESIGN.md §3).
#pragma once

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nsm {

// Polls `done` every `poll` until it holds (true) or `timeout` has passed (false).
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration timeout = absl::Seconds(30),
                       absl::Duration poll = absl::Milliseconds(2)) {
  const absl::Time end = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace nsm

// The registry clients' names for the shared backoff, jitter and context-clock wait of
// core/backoff.h (DESIGN.md §7; registry.md §3.13-3.14, §7.4, §7.6).
#pragma once

#include "core/backoff.h"

namespace nsm::reg::retry {

using ::nsm::Backoff;
using ::nsm::BackoffOptions;
using ::nsm::Jitter;
using ::nsm::Retryable;
using ::nsm::WaitFor;

}  // namespace nsm::reg::retry

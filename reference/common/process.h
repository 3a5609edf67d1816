// Process plumbing shared by the reference binaries: SIGINT, SIGTERM, SIGHUP and SIGQUIT end a
// root context, as the Go commands' signal.NotifyContext (binaries.md §0.4 "Signals").
#pragma once

#include <pthread.h>

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/context.h"

namespace nsm::reference {

class SignalContext {
 public:
  // Blocks the signals in the calling thread (call it first in main, before any thread starts, so
  // every later thread inherits the mask) and starts the thread that waits for them.
  static std::unique_ptr<SignalContext> Install(std::string component);
  // Stops the waiting thread.
  ~SignalContext();

  // Cancelled when the first signal arrives.
  const Context& context() const { return ctx_; }
  // Blocks until a signal arrived.
  void Wait() { received_.WaitForNotification(); }
  // The signal received, 0 before.
  int signal() const { return signal_.load(); }

 private:
  SignalContext() = default;

  std::string component_;
  Context ctx_;
  Context::CancelFunc cancel_;
  absl::Notification received_;
  std::atomic<int> signal_{0};
  std::atomic<bool> stopping_{false};
  std::thread waiter_;
};

}  // namespace nsm::reference

// Fibers: a chain call that runs on a stack of its own, parks instead of blocking a thread while it
// waits for another process, and resumes on whichever thread brings the answer (chain-model.md §5).
#pragma once

#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace nsm::fiber {

struct Fiber;

// Runs `fn` on a new fiber on the calling thread. Returns when `fn` has finished or when it first
// parks; it then goes on on the thread that resumes it.
//
// Code on a fiber may move to another thread at each park, so across a call that may park (an
// outgoing NetworkService call, a wait for the connection's turn) a function must hold no lock,
// must not keep the address of a thread_local, and must not trust a thread id it read before
// (pthread_self() is declared const: the compiler may reuse its value). Parking happens only
// inside Event::Wait.
void Run(std::function<void()> fn);

// Whether the calling code runs on a fiber.
bool OnFiber();

// Runs `fn`, which may block its thread for long (a wait for a channel, a timer, a blocking gRPC
// call): on a fiber, on a worker of DefaultThreadPool() while the fiber parks, so that the thread
// the fiber ran on (one of gRPC's few callback threads) goes on serving; elsewhere, here.
void Blocking(const std::function<void()>& fn);

// Fibers alive now (running or parked): for leak checks and metrics.
size_t Alive();

// A one-shot event. Wait on a fiber parks the fiber (its thread goes on with other work); Wait
// elsewhere blocks the thread. Signal resumes a parked fiber on the signalling thread, inline, up
// to its next park or its end: signal from a thread that holds no lock and may run chain code (a
// gRPC callback, a pool worker). One waiter. Shared: the signaller keeps it alive.
class Event {
 public:
  static std::shared_ptr<Event> Create() { return std::make_shared<Event>(); }

  void Wait();
  void Signal();  // once

 private:
  absl::Mutex mu_;
  Fiber* fiber_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool signaled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace nsm::fiber

// Admission of a server's calls to its worker pool: with a backlog, waiting calls run in priority
// order (Close, then refresh, then new Request) and new work is refused while too many wait
// (DESIGN.md §7).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/context.h"
#include "core/executor.h"
#include "networkservice.pb.h"

namespace nsm {

// What a call does for the connections already there; lower runs first.
enum class CallPriority {
  kClose = 0,    // frees resources: never refused
  kRefresh = 1,  // keeps (or heals) an established connection
  kRequest = 2,  // a new connection: refused first
};
const char* CallPriorityName(CallPriority p);

// A Request whose path names hops after the caller was established before (a refresh, or a heal
// on the same path), and so is one in state RESELECT_REQUESTED (a heal choosing another forwarder
// or endpoint, whose path ends at the nsmgr); any other is new (nsmgr.md §4.1, updatepath).
CallPriority PriorityOf(const ::networkservice::NetworkServiceRequest& request);

struct AdmissionOptions {
  // New Requests are refused while this many calls of the server wait for a worker, refreshes
  // while twice as many wait; Closes are never refused. 0: no limit.
  size_t max_queued = 1000;
  // While fewer calls wait, they run in arrival order; from this many on, Closes go first, then
  // refreshes, then new Requests. (Strict priority on every short queue of a busy server only
  // moves latency from Closes to Requests; it pays off when a backlog builds.)
  size_t prioritize_from = 16;
  // Who refuses, at the start of the refusal's message ("nsmgr-1"); "" = "server".
  std::string name = {};
  // What the refusal's message calls each kind of call, in CallPriority order.
  std::array<std::string, 3> kinds = {"Closes", "refreshes", "new Requests"};
  // Every call runs at once on the thread that submits it (gRPC's, for a server): nothing waits
  // for a worker, nothing is refused. Only for chains that never wait on another process or on
  // a slow lock (the reference NSE's): a chain that blocks holds one of gRPC's few threads. It
  // saves the hand-off to a worker: the NSE's CPU per round trip -20 % in the mesh benchmark.
  bool inline_calls = false;
  // Calls run on fibers (core/fiber.h) instead of the pool: a call starts at once on the
  // submitting thread (gRPC's, for a server) while fewer than `max_running` calls run, and while
  // it waits for another process it parks instead of holding a thread. A parked call still counts
  // as running (it holds its stack); beyond `max_running`, calls wait as they would for a worker
  // (max_queued, priorities), and each call that ends starts the one that is due on its fiber.
  bool fibers = false;
  size_t max_running = 256;
  // Metrics hooks (NetworkServiceStats::HookAdmission); null: none. Keep them short.
  // Calls waiting for a worker went up or down by `delta` (called under the admission's lock).
  std::function<void(int delta)> on_queued = nullptr;
  // A call was answered without running: refused, or its caller gave up while it waited (called
  // outside the lock).
  std::function<void(CallPriority, bool refused)> on_shed = nullptr;
};

struct AdmissionStats {
  std::atomic<uint64_t> refused_requests{0};   // RESOURCE_EXHAUSTED to a new Request
  std::atomic<uint64_t> refused_refreshes{0};  // RESOURCE_EXHAUSTED to a refresh
  std::atomic<uint64_t> expired{0};  // calls whose caller gave up (deadline, cancel) while queued
};

// Thread-safe. Each admitted call posts one task to `pool` (with `fibers`: starts at once, or waits
// for a running call to end); the task runs the call that is due
// (the first to arrive, or, with a backlog, the first of the highest priority), so the order holds
// however the pool schedules its tasks. A call whose context ended while it waited is not run:
// `skip` gets the context's error instead. Queued calls hold the admission's state, not the
// Admission.
class Admission {
 public:
  Admission(std::shared_ptr<ThreadPool> pool, AdmissionOptions options = {});

  // Queues `run` for a worker, or returns RESOURCE_EXHAUSTED (naming the server, the priority and
  // how many calls wait) without queueing it. `limited_as`: the class whose limit applies, when
  // not the one it waits in (a registry Unregister waiting behind a Register of its name is
  // never refused).
  absl::Status Submit(CallPriority priority, Context ctx, std::function<void()> run,
                      std::function<void(const absl::Status&)> skip,
                      std::optional<CallPriority> limited_as = std::nullopt);

  // Calls waiting for a worker (with `fibers`: to start) now.
  size_t queued() const;
  // With `fibers`: calls started and not yet ended.
  size_t running() const;
  const AdmissionStats& stats() const;

 private:
  struct State;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<State> state_;
};

}  // namespace nsm

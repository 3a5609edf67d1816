#include "core/admission.h"

#include <array>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/fiber.h"

namespace nsm {

const char* CallPriorityName(CallPriority p) {
  switch (p) {
    case CallPriority::kClose:
      return "close";
    case CallPriority::kRefresh:
      return "refresh";
    case CallPriority::kRequest:
      return "request";
  }
  return "request";
}

CallPriority PriorityOf(const ::networkservice::NetworkServiceRequest& request) {
  const auto& conn = request.connection();
  // A heal's reselect cuts the path after the nsmgr, so below the nsmgr only its state tells.
  if (conn.state() == ::connection::State::RESELECT_REQUESTED) return CallPriority::kRefresh;
  const auto& path = conn.path();
  return static_cast<int64_t>(path.path_segments_size()) > static_cast<int64_t>(path.index()) + 1
             ? CallPriority::kRefresh
             : CallPriority::kRequest;
}

struct Admission::State {
  struct Call {
    uint64_t seq = 0;  // arrival order
    CallPriority priority = CallPriority::kRequest;
    Context ctx;
    std::function<void()> run;
    std::function<void(const absl::Status&)> skip;
  };

  // The call that is due: the first to arrive, or with a backlog the first of the highest
  // priority. Each queue is in arrival order, so the first to arrive is one of their fronts.
  std::optional<Call> PopDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const bool backlog = queued >= options.prioritize_from;
    std::deque<Call>* due = nullptr;
    for (auto& q : queues) {
      if (q.empty()) continue;
      if (due == nullptr || (!backlog && q.front().seq < due->front().seq)) due = &q;
      if (backlog) break;
    }
    if (due == nullptr) return std::nullopt;
    Call call = std::move(due->front());
    due->pop_front();
    --queued;
    if (options.on_queued) options.on_queued(-1);  // under the lock: in step with `queued`
    return call;
  }

  // Runs `call`, or answers it with its context's error when its caller gave up meanwhile.
  void RunOrSkip(Call& call) {
    if (call.ctx.cancelled()) {
      stats.expired++;
      if (options.on_shed) options.on_shed(call.priority, /*refused=*/false);
      call.skip(call.ctx.Err());
      return;
    }
    call.run();
  }

  // A pool task: runs the call that is due.
  void RunOne() {
    std::optional<Call> call;
    {
      absl::MutexLock lock(&mu);
      call = PopDue();
    }
    if (call) RunOrSkip(*call);  // always one: one task per admitted call
  }

  // On a fiber: runs `call`, then each call that is due while any waits.
  void RunOnFiber(Call call) {
    for (;;) {
      RunOrSkip(call);
      std::optional<Call> next;
      {
        absl::MutexLock lock(&mu);
        next = PopDue();
        if (!next) --running;
      }
      if (!next) return;        // `call` goes outside the lock, as in RunOne
      call = std::move(*next);  // the one that ended goes here, outside the lock
    }
  }

  AdmissionOptions options;
  AdmissionStats stats;
  mutable absl::Mutex mu;
  std::array<std::deque<Call>, 3> queues ABSL_GUARDED_BY(mu);  // by CallPriority
  size_t queued ABSL_GUARDED_BY(mu) = 0;
  size_t running ABSL_GUARDED_BY(mu) = 0;  // with fibers: calls started, not ended
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 0;
};

Admission::Admission(std::shared_ptr<ThreadPool> pool, AdmissionOptions options)
    : pool_(std::move(pool)), state_(std::make_shared<State>()) {
  state_->options = std::move(options);
}

absl::Status Admission::Submit(CallPriority priority, Context ctx, std::function<void()> run,
                               std::function<void(const absl::Status&)> skip,
                               std::optional<CallPriority> limited_as) {
  const AdmissionOptions& o = state_->options;
  if (o.inline_calls) {
    if (ctx.cancelled()) {
      skip(ctx.Err());
    } else {
      run();
    }
    return absl::OkStatus();
  }
  const size_t max = o.max_queued;
  const CallPriority limited = limited_as.value_or(priority);
  const size_t limit = limited == CallPriority::kRequest   ? max
                       : limited == CallPriority::kRefresh ? 2 * max
                                                           : 0;
  size_t waiting = 0;
  {
    absl::ReleasableMutexLock lock(&state_->mu);
    waiting = state_->queued;
    if (o.fibers && waiting == 0 && state_->running < o.max_running) {
      ++state_->running;
      lock.Release();
      fiber::Run([state = state_, call = State::Call{0, priority, std::move(ctx), std::move(run),
                                                     std::move(skip)}]() mutable {
        state->RunOnFiber(std::move(call));
      });
      return absl::OkStatus();
    }
    if (limit == 0 || waiting < limit) {
      state_->queues[static_cast<size_t>(priority)].push_back(State::Call{
          state_->next_seq++, priority, std::move(ctx), std::move(run), std::move(skip)});
      ++state_->queued;
      if (o.on_queued) o.on_queued(1);
    }
  }
  if (limit != 0 && waiting >= limit) {
    (limited == CallPriority::kRequest ? state_->stats.refused_requests
                                       : state_->stats.refused_refreshes)++;
    if (o.on_shed) o.on_shed(limited, /*refused=*/true);
    return absl::ResourceExhaustedError(
        absl::StrCat(o.name.empty() ? "server" : o.name, ": overloaded: ", waiting,
                     o.fibers ? " calls wait to start; " : " calls wait for a worker; ",
                     o.kinds[static_cast<size_t>(limited)], " are refused until fewer than ", limit,
                     " wait (", o.kinds[2], " below ", max, ", ", o.kinds[1], " below ", 2 * max,
                     ", ", o.kinds[0], " always)"));
  }
  if (!o.fibers) pool_->Post([state = state_] { state->RunOne(); });
  return absl::OkStatus();
}

size_t Admission::queued() const {
  absl::MutexLock lock(&state_->mu);
  return state_->queued;
}

size_t Admission::running() const {
  absl::MutexLock lock(&state_->mu);
  return state_->running;
}

const AdmissionStats& Admission::stats() const { return state_->stats; }

}  // namespace nsm

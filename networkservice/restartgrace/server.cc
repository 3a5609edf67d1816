#include "networkservice/restartgrace/server.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "core/fiber.h"
#include "core/log.h"

namespace nsm::restartgrace {

struct Server::Hop {
  const char* kind;  // "forwarder" or "endpoint"
  std::string name;
};

struct Server::Outcome {
  enum class End { kNone, kRegistered, kWindowEnded, kBudgetSpent, kCancelled };
  End end = End::kNone;
  std::vector<Hop> missing;
  absl::Duration waited;
};

namespace {

using ::registry::NetworkServiceEndpointResponse;

}  // namespace

struct Server::State {
  std::shared_ptr<Clock> clock;
  absl::Duration window;
  std::unique_ptr<Timer> timer;  // set by the constructor, reset by the destructor
  std::atomic<bool> open_fast{false};

  mutable absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = false;
  // Names registered in the store since the start (deletions do not remove them).
  absl::flat_hash_set<std::string> seen ABSL_GUARDED_BY(mu);
  size_t waiting ABSL_GUARDED_BY(mu) = 0;
  Context::CancelFunc stop_watch ABSL_GUARDED_BY(mu);

  void Saw(const std::string& name) {
    absl::MutexLock lock(&mu);
    if (open) seen.insert(name);
  }
  // Closes the window: waiters go on, the watch ends, the names are freed.
  void End() {
    Context::CancelFunc stop;
    {
      absl::MutexLock lock(&mu);
      if (!open) return;
      open = false;
      open_fast = false;
      seen = {};
      stop.swap(stop_watch);
    }
    if (stop) stop();
  }
};

// The watch of the local store: every registration is noted. It is called under the store's lock
// and never blocks.
class Server::Watch : public FindStream<NetworkServiceEndpointResponse> {
 public:
  Watch(std::weak_ptr<State> state, Context ctx) : state_(std::move(state)), ctx_(std::move(ctx)) {}
  const Context& context() const override { return ctx_; }
  absl::Status Send(const NetworkServiceEndpointResponse& r) override {
    auto state = state_.lock();
    if (!state) return absl::CancelledError("restartgrace: the element is gone");
    if (!r.deleted()) state->Saw(r.network_service_endpoint().name());
    return absl::OkStatus();
  }
  void Finish(absl::Status) override {
    // The store ended the watch (it is going away): nothing registers any more, stop waiting.
    if (auto state = state_.lock()) state->End();
  }

 private:
  std::weak_ptr<State> state_;
  Context ctx_;
};

std::string Server::Names(const std::vector<Hop>& hops) {
  std::string out;
  for (size_t i = 0; i < hops.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, " and ");
    absl::StrAppend(&out, hops[i].kind, " ", hops[i].name);
  }
  return out;
}

Server::Server(std::shared_ptr<NSERegistryServer> local_store, Options options)
    : state_(std::make_shared<State>()), stats_(std::make_shared<Stats>()) {
  state_->clock = options.clock ? options.clock : RealClock();
  state_->window = options.window;
  if (options.window <= absl::ZeroDuration() || !local_store) return;
  auto [ctx, cancel] = Context::Background(state_->clock).WithCancel();
  {
    absl::MutexLock lock(&state_->mu);
    state_->open = true;
    state_->open_fast = true;
    state_->stop_watch = cancel;
  }
  ::registry::NetworkServiceEndpointQuery everything;
  everything.set_watch(true);
  absl::Status s = local_store->Find(ctx, everything, std::make_shared<Watch>(state_, ctx),
                                     NSERegistryServer::Next());
  if (!s.ok()) {
    log::Warn(
        "restartgrace",
        absl::StrCat("cannot watch the local registrations, no restart grace: ", s.ToString()));
    state_->End();
    return;
  }
  state_->timer = state_->clock->AfterFunc(options.window, [weak = std::weak_ptr<State>(state_)] {
    if (auto state = weak.lock()) state->End();
  });
}

Server::~Server() {
  state_->timer.reset();
  state_->End();
}

bool Server::open() const { return state_->open_fast.load(); }

size_t Server::waiting() const {
  absl::MutexLock lock(&state_->mu);
  return state_->waiting;
}

std::vector<Server::Hop> Server::Named(const Connection& conn) const {
  if (!state_->open_fast.load()) return {};
  const auto* next = api::NextSegment(conn);
  if (next == nullptr || next->name().empty()) return {};
  std::vector<Hop> hops = {{"forwarder", next->name()}};
  // A local endpoint follows the forwarder directly; a remote one is found through the domain
  // registry, which the restart did not empty.
  const auto& path = conn.path();
  const int after = static_cast<int>(path.index()) + 2;
  const std::string& endpoint = conn.network_service_endpoint_name();
  if (!endpoint.empty() && after < path.path_segments_size() &&
      path.path_segments(after).name() == endpoint) {
    hops.push_back({"endpoint", endpoint});
  }
  return hops;
}

Server::Outcome Server::Wait(const Context& ctx, std::vector<Hop> hops) {
  Outcome out;
  if (hops.empty()) return out;
  State& st = *state_;
  // From the call's arrival: a deadline that passes before the wait is set up still counts.
  const absl::Time start = st.clock->Now();
  const std::optional<absl::Duration> left = ctx.remaining();
  auto missing = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
    std::vector<Hop> m;
    for (const auto& hop : hops) {
      if (!st.seen.contains(hop.name)) m.push_back(hop);
    }
    return m;
  };
  {
    absl::MutexLock lock(&st.mu);
    if (!st.open) return out;
    out.missing = missing();
    if (out.missing.empty()) return out;
  }
  stats_->waits++;
  // Set under st.mu by the context's cancellation and by the end of the wait's budget.
  struct Flags {
    bool cancelled = false;
    bool budget_spent = false;
  };
  auto flags = std::make_shared<Flags>();
  std::unique_ptr<CancelState::Registration> on_cancel;
  if (const auto& cancel = ctx.cancel_state()) {
    on_cancel = cancel->OnCancel([state = state_, flags] {
      absl::MutexLock lock(&state->mu);
      flags->cancelled = true;
    });
  }
  // At most half of the call's remaining time: a hop that never comes back (a forwarder recreated
  // under another name) must leave the rest of the chain time to choose another one.
  // It ends at a time fixed by the arrival, however long setting it up took.
  std::unique_ptr<Timer> budget;
  if (left && *left > absl::ZeroDuration()) {
    const absl::Duration until_end =
        std::max(absl::ZeroDuration(), start + *left / 2 - ctx.clock().Now());
    budget = ctx.clock().AfterFunc(until_end, [state = state_, flags] {
      absl::MutexLock lock(&state->mu);
      flags->budget_spent = true;
    });
  }
  fiber::Blocking([&] {  // it blocks its thread: on a fiber, a worker's while the fiber parks
    absl::MutexLock lock(&st.mu);
    // Counted only now that the cancellation and the budget are armed: a waiter seen by
    // waiting() reacts to both.
    ++st.waiting;
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
      if (flags->cancelled || flags->budget_spent || !st.open) return true;
      out.missing = missing();
      return out.missing.empty();
    };
    st.mu.Await(absl::Condition(&done));
    --st.waiting;
    out.end = out.missing.empty() ? Outcome::End::kRegistered
              : flags->cancelled  ? Outcome::End::kCancelled
              : st.open           ? Outcome::End::kBudgetSpent
                                  : Outcome::End::kWindowEnded;
  });
  if (budget) budget->Stop();
  out.waited = st.clock->Now() - start;
  switch (out.end) {
    case Outcome::End::kRegistered:
      stats_->registered++;
      break;
    case Outcome::End::kWindowEnded:
      stats_->window_ended++;
      log::Warn("restartgrace",
                absl::StrCat(Names(out.missing), " did not register again within the ",
                             absl::FormatDuration(st.window), " after the nsmgr started (waited ",
                             absl::FormatDuration(out.waited), ")"));
      break;
    case Outcome::End::kBudgetSpent:
      stats_->budget_spent++;
      log::Warn("restartgrace",
                absl::StrCat(Names(out.missing),
                             " did not register again within half the "
                             "call's time (waited ",
                             absl::FormatDuration(out.waited), "); going on without them"));
      break;
    case Outcome::End::kCancelled:
      stats_->cancelled++;
      break;
    case Outcome::End::kNone:
      break;
  }
  return out;
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  Outcome o = Wait(ctx, Named(request.connection()));
  if (o.end == Outcome::End::kCancelled) {
    absl::Status err = ctx.Err();
    if (err.ok()) err = absl::CancelledError("context cancelled");
    return Annotated(err,
                     absl::StrCat("restartgrace: gave up after ", absl::FormatDuration(o.waited),
                                  " waiting for ", Names(o.missing),
                                  " to register again with the restarted nsmgr"));
  }
  auto result = next.Request(ctx, request);
  if (!result.ok() && o.end == Outcome::End::kWindowEnded) {
    return Annotated(
        result.status(),
        absl::StrCat("restartgrace: ", Names(o.missing),
                     " did not register again within the restart grace window (waited ",
                     absl::FormatDuration(o.waited), ")"));
  }
  if (!result.ok() && o.end == Outcome::End::kBudgetSpent) {
    return Annotated(result.status(),
                     absl::StrCat("restartgrace: ", Names(o.missing),
                                  " did not register again within half the call's time (waited ",
                                  absl::FormatDuration(o.waited), ")"));
  }
  return result;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  Outcome o = Wait(ctx, Named(conn));
  // Always on: the rest of the chain releases this hop's state whatever happened.
  absl::Status s = next.Close(ctx, conn);
  if (!s.ok() && o.end != Outcome::End::kNone && o.end != Outcome::End::kRegistered) {
    return Annotated(
        s, absl::StrCat("restartgrace: closed without ", Names(o.missing),
                        " registered again (waited ", absl::FormatDuration(o.waited), ")"));
  }
  return s;
}

}  // namespace nsm::restartgrace

#include "healing/refresh/client.h"

#include <algorithm>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "healing/refresh/trigger.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::healing::refresh {
namespace {

// The armed timer of a connection, stoppable from the chain context's cancellation as well as by
// its owner.
class TimerSlot {
 public:
  // Arms the timer `make` returns, under the slot's lock: a Stop either comes first (nothing is
  // armed) or stops it, so no armed timer outlives a Stop.
  void Arm(const std::function<std::unique_ptr<Timer>()>& make) {
    absl::MutexLock lock(&mu_);
    if (!stopped_) timer_ = make();
  }
  void Stop() {
    std::unique_ptr<Timer> t;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      t = std::move(timer_);
    }
    if (t) t->Stop();
  }

 private:
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<Timer> timer_ ABSL_GUARDED_BY(mu_);
};

// One armed refresh. Destroying it stops the timer and cancels the context a refresh event it
// already queued checks, so a replaced or disarmed refresh never runs.
struct Armed {
  std::shared_ptr<TimerSlot> slot = std::make_shared<TimerSlot>();
  Context::CancelFunc cancel;
  std::unique_ptr<CancelState::Registration> on_cancel;
  ~Armed() {
    on_cancel.reset();
    slot->Stop();
    if (cancel) cancel();
  }
};

}  // namespace

// Per connection, in its client metadata. Touched only by Request/Close, which begin serializes.
struct Client::State {
  explicit State(const Options& o) : backoff(o.retry, o.random) {}
  std::unique_ptr<Armed> armed;
  Backoff backoff;
  int failures = 0;
};

const TypedKey<Client::Marker>& Client::OwnEventKey() {
  static const TypedKey<Marker> key{"healing.refresh.own_event"};
  return key;
}

const TypedKey<Client::State>& Client::StateKey() {
  static const TypedKey<State> key{"healing.refresh.state"};
  return key;
}

std::optional<absl::Duration> RefreshPeriod(const Connection& conn, absl::Time now) {
  const auto& segments = conn.path().path_segments();
  std::optional<absl::Time> earliest;
  for (const auto& s : segments) {
    if (!s.has_expires()) continue;
    const absl::Time t = api::FromProtoTimestamp(s.expires());
    if (!earliest || t < *earliest) earliest = t;
  }
  if (!earliest) return std::nullopt;
  const double n = static_cast<double>(segments.size());
  const double scale = segments.size() <= 1 ? 1.0 / 3.0 : 0.2 + 0.2 * conn.path().index() / n;
  return (*earliest - now) * scale;
}

Client::Client(Options options) : options_(std::move(options)) {
  if (!options_.random) options_.random = DefaultRandom();
}

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx);
  std::shared_ptr<begin::EventFactory> events = begin::FromContext(ctx);
  if (md == nullptr || events == nullptr) {
    return absl::FailedPreconditionError(
        "refresh: the chain has no begin and metadata element before refresh");
  }
  const bool own = ctx.Value(OwnEventKey()) == marker_;

  absl::StatusOr<Connection> result = [&] {
    if (!own || options_.attempt_timeout == absl::InfiniteDuration()) {
      return next.Request(ctx, request, opts);
    }
    auto [attempt_ctx, cancel] = ctx.WithTimeout(options_.attempt_timeout);
    auto r = next.Request(attempt_ctx, request, opts);
    cancel();
    return r;
  }();

  std::shared_ptr<State> state = md->client.Load(StateKey());
  absl::Duration delay;
  if (!result.ok()) {
    if (state == nullptr || !own) return result;  // a failed first Request owns nothing
    stats_->failed++;
    state->failures++;
    delay = state->backoff.Next();
    if (options_.heal_after_failures > 0 && state->failures >= options_.heal_after_failures) {
      if (auto heal = md->client.Load(kHealTriggerKey)) {
        stats_->escalated++;
        heal->StartHeal(result.status());
      }
    }
  } else {
    if (state == nullptr) {
      state = std::make_shared<State>(options_);
      md->client.Put(StateKey(), state);
    }
    if (own) stats_->refreshed++;
    state->failures = 0;
    state->backoff.Reset();
    const absl::Time now = ctx.clock().Now();
    std::optional<absl::Duration> period = RefreshPeriod(*result, now);
    if (!period) {
      state->armed.reset();  // nothing on the path expires: nothing to refresh
      return result;
    }
    delay = std::max(Jitter(*period, options_.jitter, options_.random), options_.min_period);
  }

  auto armed = std::make_unique<Armed>();
  auto [armed_ctx, cancel] = options_.chain_ctx.WithCancel();
  armed->cancel = std::move(cancel);
  std::weak_ptr<begin::EventFactory> weak_events = events;
  std::shared_ptr<Marker> marker = marker_;
  // The chain's end (or the cancel above) stops the timer at once, not only when it fires. Hooked
  // before the timer is armed, so a timer that is visible (PendingTimers) is always stoppable.
  if (const auto& cs = armed_ctx.cancel_state()) {
    armed->on_cancel = cs->OnCancel([weak = std::weak_ptr<TimerSlot>(armed->slot)] {
      if (auto slot = weak.lock()) slot->Stop();
    });
  }
  armed->slot->Arm([&] {
    return ctx.clock().AfterFunc(delay, [weak_events, marker, armed_ctx = armed_ctx] {
      if (armed_ctx.cancelled()) return;
      std::shared_ptr<begin::EventFactory> factory = weak_events.lock();
      if (factory == nullptr) return;
      begin::EventOptions o;
      o.cancel_ctx = armed_ctx;
      o.decorate = [marker](const Context& c) { return c.WithValue(OwnEventKey(), marker); };
      factory->Request(std::move(o));  // queued on begin's executor; this callback stays short
    });
  });
  state->armed = std::move(armed);  // replaces (and stops) the previous one
  return result;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  // Disarm first, so nothing of this connection runs after its Close, whatever the answer.
  if (std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx)) {
    md->client.Delete(StateKey());
  }
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::healing::refresh

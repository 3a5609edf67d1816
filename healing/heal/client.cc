#include "healing/heal/client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/executor.h"
#include "grpcpp/grpcpp.h"
#include "healing/refresh/trigger.h"
#include "networkservice/begin/event_factory.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::healing::heal {
namespace {

// What a heal attempt carries in its event context.
struct Attempt {
  const void* owner;  // the Conn that posted it
  uint64_t episode;
  Mode mode;
};

// The request of a reselecting attempt: no mechanism, the path cut after the next hop (its
// segment keeps its id, so the next hop finds its own id again), endpoint name dropped for
// kReselectEndpoint unless the caller chose it.
void PrepareReselect(NetworkServiceRequest& request, Mode mode, bool keep_endpoint) {
  Connection* c = request.mutable_connection();
  c->clear_mechanism();
  if (mode == Mode::kReselectEndpoint && !keep_endpoint) {
    c->clear_network_service_endpoint_name();
  }
  auto* segments = c->mutable_path()->mutable_path_segments();
  const int keep = static_cast<int>(c->path().index()) + 2;
  while (segments->size() > keep) segments->RemoveLast();
  c->set_state(::connection::State::RESELECT_REQUESTED);
}

absl::Status CauseOf(const WatchEvent& e) {
  switch (e.kind) {
    case WatchEvent::Kind::kDown:
      return absl::UnavailableError("the next hop reports the connection DOWN");
    case WatchEvent::Kind::kDeleted:
      if (!e.status.ok()) return e.status;
      return absl::UnavailableError("the next hop closed the connection");
    default:
      return absl::UnavailableError(
          absl::StrCat("the monitor stream to the next hop ended: ", e.status.ToString()));
  }
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kSamePath:
      return "same path";
    case Mode::kReselectForwarder:
      return "reselect forwarder";
    case Mode::kReselectEndpoint:
      return "reselect endpoint";
  }
  return "unknown";
}

Mode NextMode(Mode failed, bool next_hop_reachable, Liveness liveness, bool keep_endpoint,
              bool endpoint_unreachable) {
  if (liveness == Liveness::kAlive) return Mode::kSamePath;
  if (!next_hop_reachable) return failed;
  // Another forwarder would only find the same endpoint gone.
  if (endpoint_unreachable && !keep_endpoint) return Mode::kReselectEndpoint;
  switch (failed) {
    case Mode::kSamePath:
      return Mode::kReselectForwarder;
    case Mode::kReselectForwarder:
    case Mode::kReselectEndpoint:
      return keep_endpoint ? Mode::kReselectForwarder : Mode::kReselectEndpoint;
  }
  return Mode::kReselectEndpoint;
}

struct Client::Shared {
  explicit Shared(Options o) : options(std::move(o)) {
    watcher = options.watcher ? options.watcher : NewGrpcWatcher();
    if (!options.random) options.random = DefaultRandom();
  }
  Options options;
  std::shared_ptr<Watcher> watcher;
  Stats stats;
  std::atomic<size_t> live{0};
  // Keys of this element (a TypedKey is identified by its address): two heal elements in one
  // chain never see each other's state or attempts.
  const TypedKey<Conn> conn_key{"healing.heal.conn"};
  const TypedKey<Attempt> attempt_key{"healing.heal.attempt"};
};

// One connection's heal state machine:
//   watching --(DOWN | DELETE | stream lost | refresh gave up)--> healing(episode n)
//   healing: attempt now, then after each failure wait backoff and attempt in NextMode(...)
//   healing --(any successful Request)--> watching (new or rebased watch)
//   healing --(heal deadline)--> closing (Close event) --> stopped
//   any --(Close | chain context end)--> stopped
class Client::Conn : public HealTrigger, public std::enable_shared_from_this<Conn> {
 public:
  Conn(std::shared_ptr<Shared> shared, std::weak_ptr<begin::EventFactory> events,
       std::shared_ptr<Clock> clock, bool keep_endpoint)
      : shared_(std::move(shared)),
        events_(std::move(events)),
        clock_(std::move(clock)),
        keep_endpoint_(keep_endpoint),
        backoff_(shared_->options.retry, shared_->options.random) {
    auto [c, cancel] = shared_->options.chain_ctx.WithCancel();
    conn_ctx_ = std::move(c);
    cancel_conn_ = std::move(cancel);
    shared_->live++;
  }

  ~Conn() override {
    std::shared_ptr<Watch> w;
    {
      absl::MutexLock lock(&mu_);
      w = std::move(watch_);
    }
    // Only when the metadata went away without a Close. This may run inside the watch's own
    // callback (which held the last reference), so the cancel is handed to a pool thread.
    if (w) DefaultThreadPool()->Post([w] { w->Cancel(); });
    on_end_.reset();
    if (cancel_episode_) cancel_episode_();
    cancel_conn_();
    shared_->live--;
  }

  // The chain context's end stops everything.
  void Init() {
    auto reg = conn_ctx_.cancel_state()->OnCancel([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->Stop();
    });
    absl::MutexLock lock(&mu_);
    on_end_ = std::move(reg);
  }

  bool keep_endpoint() const { return keep_endpoint_; }

  void StartHeal(const absl::Status& cause) override {
    Connection conn;
    uint64_t episode;
    Context episode_ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || healing_) return;
      healing_ = true;
      episode = ++episode_;
      attempts_ = 0;
      old_path_closed_ = false;
      backoff_.Reset();
      last_error_ = absl::OkStatus();
      auto [c, cancel] = conn_ctx_.WithCancel();
      episode_ctx_ = c;
      cancel_episode_ = std::move(cancel);
      episode_ctx = c;
      const absl::Duration timeout = shared_->options.heal_timeout;
      if (timeout != absl::InfiniteDuration()) {
        deadline_timer_ = clock_->AfterFunc(timeout, [weak = weak_from_this(), episode] {
          if (auto self = weak.lock()) self->OnDeadline(episode);
        });
      }
      conn = conn_;
    }
    shared_->stats.started++;
    if (shared_->options.observer.started) shared_->options.observer.started(conn, cause);
    Post(episode, episode_ctx, Mode::kSamePath);  // the first attempt at once
  }

  // A tagged Request is an attempt of the current episode (else it is a plain Request).
  bool BeginAttempt(const Attempt& a) {
    absl::MutexLock lock(&mu_);
    if (stopped_ || !healing_ || a.episode != episode_) return false;
    ++attempts_;
    shared_->stats.attempts++;
    return true;
  }

  void AttemptFailed(const Context& ctx, const Attempt& a, const absl::Status& status) {
    std::shared_ptr<connect::ClientConn> cc;
    Connection conn;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || !healing_ || a.episode != episode_) return;
      cc = cc_;
      conn = conn_;
    }
    // Reselecting needs the next hop: while its channel is down, the mode stays.
    const bool reachable =
        cc == nullptr || cc->channel()->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
    const Liveness liveness = shared_->options.data_path
                                  ? shared_->options.data_path->Check(ctx, conn)
                                  : Liveness::kUnknown;
    const std::string unreachable = UnreachableHop(status);
    const bool endpoint_unreachable =
        !unreachable.empty() && unreachable == conn.network_service_endpoint_name();
    const Mode next = NextMode(a.mode, reachable, liveness, keep_endpoint_, endpoint_unreachable);
    bool step_down = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || !healing_ || a.episode != episode_) return;
      last_error_ = status;
      if (static_cast<int>(next) <= static_cast<int>(a.mode)) {
        retry_timer_ = clock_->AfterFunc(backoff_.Next(),
                                         [weak = weak_from_this(), episode = a.episode, next] {
                                           if (auto self = weak.lock())
                                             self->OnRetry(episode, next);
                                         });
      } else {
        step_down = true;
      }
    }
    if (shared_->options.observer.attempt_failed) {
      shared_->options.observer.attempt_failed(conn, status);
    }
    // A step down the ladder is tried at once: a dead forwarder or endpoint is replaced without
    // waiting. Only strictly downward steps skip the backoff, so at most three attempts run back
    // to back; the same mode, or a step back up (a data path reported alive again), waits.
    if (step_down) OnRetry(a.episode, next);
  }

  // After any successful Request: ends an episode, keeps or replaces the watch.
  void Succeeded(const Context& ctx, const Connection& result) {
    auto md = metadata::FromContext(ctx);
    auto cc = md ? md->client.Load(connect::kClientConnKey) : nullptr;
    bool healed = false;
    int attempts = 0;
    std::shared_ptr<Watch> current;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      conn_ = result;
      cc_ = cc;
      if (healing_) {
        healed = true;
        attempts = attempts_;
        EndEpisodeLocked();
      }
      current = watch_;
    }
    if (healed) {
      shared_->stats.healed++;
      if (shared_->options.observer.healed) shared_->options.observer.healed(result, attempts);
    }
    if (current && current->Rebase(ctx, result)) return;
    StartWatch(ctx, result);
  }

  // A reselecting attempt closes the old path once per episode (until a Close succeeds), so a long
  // outage does not cost the next hop a Close per attempt.
  bool old_path_closed() {
    absl::MutexLock lock(&mu_);
    return old_path_closed_;
  }
  void set_old_path_closed() {
    absl::MutexLock lock(&mu_);
    old_path_closed_ = true;
  }

  // Before a reselecting attempt closes the old path: that Close must not look like a failure.
  void CancelWatch() {
    std::shared_ptr<Watch> w;
    {
      absl::MutexLock lock(&mu_);
      w = std::move(watch_);
      ++watch_gen_;
    }
    if (w) w->Cancel();
  }

  // Close, the heal deadline's Close, or the chain's end. Idempotent.
  void Stop() {
    std::shared_ptr<Watch> w;
    std::shared_ptr<connect::ClientConn> cc;
    std::unique_ptr<Timer> retry, deadline;
    Context::CancelFunc cancel_episode;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      healing_ = false;
      w = std::move(watch_);
      ++watch_gen_;
      retry = std::move(retry_timer_);
      deadline = std::move(deadline_timer_);
      cancel_episode = std::move(cancel_episode_);
      cc = std::move(cc_);
    }
    if (w) w->Cancel();
    retry.reset();
    deadline.reset();
    cc.reset();
    if (cancel_episode) cancel_episode();
    cancel_conn_();  // queued attempts and refresh-requested events are skipped
  }

 private:
  void EndEpisodeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    healing_ = false;
    retry_timer_.reset();
    deadline_timer_.reset();
    if (cancel_episode_) std::exchange(cancel_episode_, nullptr)();  // stale attempts are skipped
  }

  void StartWatch(const Context& ctx, const Connection& conn) {
    uint64_t gen;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      gen = ++watch_gen_;
    }
    std::shared_ptr<Watch> w =
        shared_->watcher->Start(ctx, conn, [weak = weak_from_this(), gen](const WatchEvent& e) {
          if (auto self = weak.lock()) self->OnWatchEvent(gen, e);
        });
    std::shared_ptr<Watch> old;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || gen != watch_gen_) {
        old = std::move(w);  // stopped meanwhile
      } else {
        old = std::exchange(watch_, std::move(w));
      }
    }
    if (old) old->Cancel();
  }

  void OnWatchEvent(uint64_t gen, const WatchEvent& e) {
    if (e.kind == WatchEvent::Kind::kUp) return;
    Context conn_ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || gen != watch_gen_) return;
      conn_ctx = conn_ctx_;
    }
    if (e.kind == WatchEvent::Kind::kRefreshRequested) {
      if (auto events = events_.lock()) events->Request({.cancel_ctx = conn_ctx});
      return;
    }
    StartHeal(CauseOf(e));
  }

  void OnRetry(uint64_t episode, Mode mode) {
    Context episode_ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || !healing_ || episode != episode_) return;
      episode_ctx = episode_ctx_;
    }
    Post(episode, episode_ctx, mode);
  }

  void OnDeadline(uint64_t episode) {
    Connection conn;
    int attempts;
    absl::Status last;
    Context conn_ctx;
    std::shared_ptr<Watch> w;
    std::unique_ptr<Timer> retry;
    Context::CancelFunc cancel_episode;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_ || !healing_ || episode != episode_) return;
      stopped_ = true;  // no new work; the Close below finishes the cleanup
      healing_ = false;
      attempts = attempts_;
      last = last_error_;
      conn = conn_;
      conn_ctx = conn_ctx_;
      w = std::move(watch_);
      ++watch_gen_;
      retry = std::move(retry_timer_);
      cancel_episode = std::move(cancel_episode_);
    }
    if (w) w->Cancel();
    retry.reset();
    if (cancel_episode) cancel_episode();
    shared_->stats.failed++;
    absl::Status why = absl::DeadlineExceededError(absl::StrCat(
        "heal: connection ", conn.id(), " not healed within ",
        absl::FormatDuration(shared_->options.heal_timeout), " after ", attempts,
        " attempts; last error: ", last.ok() ? "none (attempt still running)" : last.ToString()));
    if (shared_->options.observer.failed) shared_->options.observer.failed(conn, why);
    if (auto events = events_.lock()) events->Close({.cancel_ctx = conn_ctx});
  }

  void Post(uint64_t episode, const Context& episode_ctx, Mode mode) {
    std::shared_ptr<begin::EventFactory> events = events_.lock();
    if (events == nullptr) return;
    auto tag = std::make_shared<Attempt>(Attempt{this, episode, mode});
    begin::EventOptions o;
    o.cancel_ctx = episode_ctx;
    o.decorate = [shared = shared_, tag](const Context& c) {
      return c.WithValue(shared->attempt_key, tag);
    };
    events->Request(std::move(o));  // queued on begin's executor
  }

  const std::shared_ptr<Shared> shared_;
  const std::weak_ptr<begin::EventFactory> events_;
  const std::shared_ptr<Clock> clock_;
  const bool keep_endpoint_;
  Context conn_ctx_;  // child of the chain context; cancelled when the connection ends
  Context::CancelFunc cancel_conn_;

  absl::Mutex mu_;
  std::unique_ptr<CancelState::Registration> on_end_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<Watch> watch_ ABSL_GUARDED_BY(mu_);
  uint64_t watch_gen_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<connect::ClientConn> cc_ ABSL_GUARDED_BY(mu_);
  Connection conn_ ABSL_GUARDED_BY(mu_);
  bool healing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t episode_ ABSL_GUARDED_BY(mu_) = 0;
  Context episode_ctx_ ABSL_GUARDED_BY(mu_);
  Context::CancelFunc cancel_episode_ ABSL_GUARDED_BY(mu_);
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  bool old_path_closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Timer> retry_timer_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Timer> deadline_timer_ ABSL_GUARDED_BY(mu_);
};

Client::Client(Options options) : shared_(std::make_shared<Shared>(std::move(options))) {}

size_t Client::connections() const { return shared_->live.load(); }

const Stats& Client::stats() const { return shared_->stats; }

size_t Client::open_watches() const { return shared_->watcher->open(); }

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx);
  std::shared_ptr<begin::EventFactory> events = begin::FromContext(ctx);
  if (md == nullptr || events == nullptr) {
    return absl::FailedPreconditionError(
        "heal: the chain has no begin and metadata element before heal");
  }
  std::shared_ptr<Conn> conn = md->client.Load(shared_->conn_key);
  std::shared_ptr<Attempt> attempt = ctx.Value(shared_->attempt_key);
  const bool is_attempt = attempt != nullptr && conn != nullptr && attempt->owner == conn.get() &&
                          conn->BeginAttempt(*attempt);
  const bool caller_named_endpoint = !request.connection().network_service_endpoint_name().empty();

  Context call_ctx = ctx;
  Context::CancelFunc cancel = [] {};
  if (is_attempt && shared_->options.attempt_timeout != absl::InfiniteDuration()) {
    std::tie(call_ctx, cancel) = ctx.WithTimeout(shared_->options.attempt_timeout);
  }
  const bool reselect = is_attempt && attempt->mode != Mode::kSamePath;
  if (reselect) {
    conn->CancelWatch();
    if (!conn->old_path_closed()) {
      Connection old = request.connection();
      // Best effort: the old path may be half gone; retried by the next attempt if it failed.
      if (next.Close(call_ctx, old, opts).ok()) conn->set_old_path_closed();
    }
    PrepareReselect(request, attempt->mode, conn->keep_endpoint());
  }
  absl::StatusOr<Connection> result = next.Request(call_ctx, request, opts);
  cancel();
  if (!result.ok()) {
    if (is_attempt) conn->AttemptFailed(ctx, *attempt, result.status());
    return result;
  }
  // The reselect signal is for this Request only; later refreshes must not reselect again.
  if (result->state() == ::connection::State::RESELECT_REQUESTED) {
    result->set_state(::connection::State::UP);
  }
  if (conn == nullptr) {
    conn =
        std::make_shared<Conn>(shared_, events, ctx.clock_ptr(),
                               shared_->options.keep_requested_endpoint && caller_named_endpoint);
    conn->Init();
    md->client.Put(shared_->conn_key, conn);
    md->client.Put<HealTrigger>(kHealTriggerKey, conn);
  }
  conn->Succeeded(ctx, *result);
  return result;
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  // Stop first: the next hop's DELETE for this Close must not start a heal.
  if (std::shared_ptr<metadata::MetaData> md = metadata::FromContext(ctx)) {
    if (std::shared_ptr<Conn> state = md->client.LoadAndDelete(shared_->conn_key)) {
      md->client.Delete(kHealTriggerKey);
      state->Stop();
    }
  }
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::healing::heal

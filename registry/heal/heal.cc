#include "registry/heal/heal.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "core/log.h"
#include "registry/matchutils/items.h"

namespace nsm::reg::heal {
namespace {

// A name nobody registers: the monitor watch matches nothing and only ends with the registry.
std::string MonitorName() {
  absl::BitGen rng;
  return absl::StrFormat("nsm-heal-monitor-%016x", absl::Uniform<uint64_t>(rng));
}

}  // namespace

template <class T>
struct Client<T>::State : std::enable_shared_from_this<Client<T>::State> {
  State(Context c, Options o) : chain_ctx(std::move(c)), options(std::move(o)) {}

  absl::Status EnsureMonitor(const Next& next, const CallOptions& opts);
  void MonitorLost(const MonitorStream* lost);
  void ScheduleRound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Round();

  const Context chain_ctx;
  const Options options;
  const std::string monitor_name = MonitorName();
  mutable absl::Mutex mu;
  absl::flat_hash_map<std::string, Item> items ABSL_GUARDED_BY(mu);
  std::shared_ptr<MonitorStream> monitor ABSL_GUARDED_BY(mu);
  Next next ABSL_GUARDED_BY(mu);  // where the monitor is opened
  CallOptions opts ABSL_GUARDED_BY(mu);
  std::weak_ptr<RegistryClient<T>> heal_chain ABSL_GUARDED_BY(mu);
  bool round_scheduled ABSL_GUARDED_BY(mu) = false;
  retry::Backoff backoff ABSL_GUARDED_BY(mu){options.backoff};
  std::unique_ptr<Timer> timer ABSL_GUARDED_BY(mu);
  // Callers' watches waiting to be re-opened.
  absl::flat_hash_set<std::shared_ptr<HealingWatch>> waiting ABSL_GUARDED_BY(mu);
};

// The receiving end of the monitor watch: ignores data, reports its end.
template <class T>
class Client<T>::MonitorStream : public FindStream<Response> {
 public:
  MonitorStream(std::weak_ptr<State> state, const Context& chain_ctx) : state_(std::move(state)) {
    auto [ctx, cancel] = chain_ctx.WithCancel();
    ctx_ = ctx;
    cancel_ = cancel;
  }
  const Context& context() const override { return ctx_; }
  absl::Status Send(const Response&) override { return ctx_.Err(); }
  void Finish(absl::Status) override {
    if (finished_.exchange(true)) return;
    cancel_();
    if (auto state = state_.lock()) state->MonitorLost(this);
  }
  void Cancel() {
    finished_ = true;
    cancel_();
  }

 private:
  std::weak_ptr<State> state_;
  Context ctx_;
  Context::CancelFunc cancel_;
  std::atomic<bool> finished_{false};
};

// Stands between next and the caller's watch stream: an end that the caller did not ask for
// re-opens the stream after a backoff.
template <class T>
class Client<T>::HealingWatch : public FindStream<Response>,
                                public std::enable_shared_from_this<HealingWatch> {
 public:
  HealingWatch(std::weak_ptr<State> state, Stream caller, Query query, Next next, CallOptions opts,
               retry::BackoffOptions backoff)
      : state_(std::move(state)),
        caller_(std::move(caller)),
        query_(std::move(query)),
        next_(std::move(next)),
        opts_(std::move(opts)),
        backoff_(backoff) {}

  const Context& context() const override { return caller_->context(); }
  absl::Status Send(const Response& r) override { return caller_->Send(r); }
  void Reopened() override { caller_->Reopened(); }
  void Finish(absl::Status status) override {
    auto state = state_.lock();
    if (!state || caller_->context().cancelled() || state->chain_ctx.cancelled()) {
      caller_->Finish(std::move(status));
      return;
    }
    {
      // The state keeps a waiting watch alive; its timer only points back weakly.
      absl::MutexLock lock(&state->mu);
      state->waiting.insert(this->shared_from_this());
    }
    absl::MutexLock lock(&mu_);
    timer_ = state->chain_ctx.clock().AfterFunc(
        backoff_.Next(), [weak = this->weak_from_this(), pool = state->options.pool] {
          pool->Post([weak] {
            if (auto self = weak.lock()) self->Reopen();
          });
        });
  }

  // Ends the caller's stream (the client is going away).
  void End(absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      timer_.reset();
    }
    caller_->Finish(std::move(status));
  }

  void Reopen() {
    auto self = this->shared_from_this();
    if (auto state = state_.lock()) {
      absl::MutexLock lock(&state->mu);
      state->waiting.erase(self);
    }
    // What the caller built from the broken stream may hold deletions it never saw.
    caller_->Reopened();
    absl::Status s = next_.Find(caller_->context(), query_, self, opts_);
    if (!s.ok()) Finish(s);
  }

 private:
  std::weak_ptr<State> state_;
  Stream caller_;
  Query query_;
  Next next_;
  CallOptions opts_;
  absl::Mutex mu_;
  retry::Backoff backoff_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Timer> timer_ ABSL_GUARDED_BY(mu_);
};

template <class T>
absl::Status Client<T>::State::EnsureMonitor(const Next& n, const CallOptions& o) {
  std::shared_ptr<MonitorStream> m;
  {
    absl::MutexLock lock(&mu);
    next = n;
    opts = o;
    if (monitor) return absl::OkStatus();
    m = std::make_shared<MonitorStream>(this->weak_from_this(), chain_ctx);
    monitor = m;
  }
  Query q;
  MutableQueryItem(&q)->set_name(monitor_name);
  q.set_watch(true);
  absl::Status s = n.Find(m->context(), q, m, o);
  if (!s.ok()) {
    m->Cancel();
    absl::MutexLock lock(&mu);
    if (monitor == m) monitor = nullptr;
  }
  return s;
}

template <class T>
void Client<T>::State::MonitorLost(const MonitorStream* lost) {
  absl::MutexLock lock(&mu);
  if (monitor.get() != lost) return;
  monitor = nullptr;
  if (chain_ctx.cancelled() || items.empty()) return;
  log::Warn("heal", "lost the registry; restoring registrations");
  ScheduleRound();
}

template <class T>
void Client<T>::State::ScheduleRound() {
  if (round_scheduled || chain_ctx.cancelled()) return;
  round_scheduled = true;
  timer = chain_ctx.clock().AfterFunc(backoff.Next(),
                                      [weak = this->weak_from_this(), pool = options.pool] {
                                        pool->Post([weak] {
                                          if (auto state = weak.lock()) state->Round();
                                        });
                                      });
}

template <class T>
void Client<T>::State::Round() {
  std::vector<Item> restore;
  Next n;
  CallOptions o;
  std::shared_ptr<RegistryClient<T>> chain;
  {
    absl::MutexLock lock(&mu);
    round_scheduled = false;
    for (const auto& [name, item] : items) restore.push_back(item);
    n = next;
    o = opts;
    chain = heal_chain.lock();
  }
  if (chain_ctx.cancelled() || restore.empty()) return;
  if (auto s = EnsureMonitor(n, o); !s.ok()) {
    absl::MutexLock lock(&mu);
    ScheduleRound();
    return;
  }
  bool failed = false;
  for (Item& item : restore) {
    {
      absl::MutexLock lock(&mu);
      if (!items.contains(item.name())) continue;  // unregistered meanwhile
    }
    auto [ctx, cancel] = chain_ctx.WithTimeout(options.attempt_timeout);
    auto r = chain ? chain->Register(ctx, item, Next(), CallOptions{}) : n.Register(ctx, item, o);
    cancel();
    if (!r.ok()) {
      failed = true;
      log::Warn("heal",
                absl::StrCat("restoring \"", item.name(), "\" failed: ", r.status().ToString()));
    }
  }
  absl::MutexLock lock(&mu);
  if (failed) {
    ScheduleRound();
  } else {
    backoff.Reset();
  }
}

template <class T>
Client<T>::Client(Context chain_ctx, Options options)
    : state_(std::make_shared<State>(std::move(chain_ctx), std::move(options))) {}

template <class T>
Client<T>::~Client() {
  std::shared_ptr<MonitorStream> monitor;
  std::unique_ptr<Timer> timer;
  absl::flat_hash_set<std::shared_ptr<HealingWatch>> waiting;
  {
    absl::MutexLock lock(&state_->mu);
    monitor = std::move(state_->monitor);
    timer = std::move(state_->timer);
    waiting.swap(state_->waiting);
  }
  if (monitor) monitor->Cancel();
  for (const auto& w : waiting) w->End(absl::UnavailableError("registry client closed"));
}

template <class T>
void Client<T>::SetHealChain(std::weak_ptr<RegistryClient<T>> chain) {
  absl::MutexLock lock(&state_->mu);
  state_->heal_chain = std::move(chain);
}

template <class T>
auto Client<T>::Register(const Context& ctx, Item& item, const Next& next, const CallOptions& opts)
    -> absl::StatusOr<Item> {
  bool added;
  {
    Item remembered = item;
    if constexpr (std::is_same_v<T, NSETraits>) remembered.clear_expiration_time();
    absl::MutexLock lock(&state_->mu);
    added = state_->items.insert_or_assign(item.name(), std::move(remembered)).second;
  }
  auto forget = [&] {
    if (!added) return;
    absl::MutexLock lock(&state_->mu);
    state_->items.erase(item.name());
  };
  if (auto s = state_->EnsureMonitor(next, opts); !s.ok()) {
    forget();
    return s;
  }
  auto r = next.Register(ctx, item, opts);
  if (!r.ok()) forget();
  return r;
}

template <class T>
absl::Status Client<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next, const CallOptions& opts) {
  if (!query.watch()) return next.Find(ctx, query, stream, opts);
  auto watch =
      std::make_shared<HealingWatch>(state_, stream, query, next, opts, state_->options.backoff);
  return next.Find(ctx, query, watch, opts);
}

template <class T>
absl::Status Client<T>::Unregister(const Context& ctx, Item& item, const Next& next,
                                   const CallOptions& opts) {
  {
    absl::MutexLock lock(&state_->mu);
    state_->items.erase(item.name());
  }
  return next.Unregister(ctx, item, opts);
}

template <class T>
auto Client<T>::Registrations() const -> std::vector<Item> {
  absl::MutexLock lock(&state_->mu);
  std::vector<Item> out;
  for (const auto& [name, item] : state_->items) out.push_back(item);
  return out;
}

template <class T>
bool Client<T>::monitoring() const {
  absl::MutexLock lock(&state_->mu);
  return state_->monitor != nullptr;
}

template class Client<NSTraits>;
template class Client<NSETraits>;

}  // namespace nsm::reg::heal

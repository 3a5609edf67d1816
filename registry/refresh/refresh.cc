#include "registry/refresh/refresh.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "core/log.h"
#include "registry/serialize/serialize.h"

namespace nsm::reg::refresh {

struct NSEClient::State : std::enable_shared_from_this<NSEClient::State> {
  struct Entry {
    uint64_t id = 0;
    Item nse;                  // what the next refresh sends (expiration set per refresh)
    absl::Duration requested;  // zero: the caller asked for no particular lifetime
    absl::Time expiration;     // the registration's current expiration
    Next next;
    CallOptions opts;
    Context ctx;  // the registering call's values and clock, without its deadline
    std::shared_ptr<MultiExecutor> executor;
    std::unique_ptr<retry::Backoff> backoff;
    std::unique_ptr<Timer> timer;
  };

  explicit State(Options o) : options(o) {}

  void Schedule(const std::string& name, Entry& e, absl::Duration delay)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    e.timer = e.ctx.clock().AfterFunc(
        delay, [weak = weak_from_this(), name, id = e.id, exec = e.executor] {
          exec->Async(name, [weak, name, id, exec] {
            if (auto state = weak.lock()) state->Refresh(name, id);
          });
        });
  }

  absl::Duration RefreshDelay(const Entry& e) const {
    absl::Duration remaining = e.expiration - e.ctx.clock().Now();
    return retry::Jitter(remaining * 2 / 3, options.jitter);
  }

  void Refresh(const std::string& name, uint64_t id) {
    Item nse;
    absl::Duration requested;
    Next next;
    CallOptions opts;
    Context ctx;
    {
      absl::MutexLock lock(&mu);
      auto it = entries.find(name);
      if (it == entries.end() || it->second.id != id) return;
      nse = it->second.nse;
      requested = it->second.requested;
      next = it->second.next;
      opts = it->second.opts;
      ctx = it->second.ctx;
    }
    const absl::Time now = ctx.clock().Now();
    absl::Duration timeout = options.attempt_timeout;
    if (requested > absl::ZeroDuration()) {
      *nse.mutable_expiration_time() = api::ToProtoTimestamp(now + requested);
      timeout = requested;
    } else {
      nse.clear_expiration_time();
    }
    absl::StatusOr<Item> response = [&] {
      auto [call_ctx, cancel] = ctx.WithTimeout(timeout);
      auto r = next.Register(call_ctx, nse, opts);
      cancel();
      return r;
    }();

    absl::MutexLock lock(&mu);
    auto it = entries.find(name);
    if (it == entries.end() || it->second.id != id) return;  // unregistered meanwhile
    Entry& e = it->second;
    if (!response.ok()) {
      absl::Duration delay = e.backoff->Next();
      log::Warn("refresh", absl::StrCat("refreshing endpoint \"", name, "\" failed (",
                                        response.status().ToString(), "); retrying in ",
                                        absl::FormatDuration(delay)));
      Schedule(name, e, delay);
      return;
    }
    e.backoff->Reset();
    if (!response->has_expiration_time()) {
      entries.erase(it);  // nothing expires: nothing to refresh
      return;
    }
    e.expiration = api::FromProtoTimestamp(response->expiration_time());
    *e.nse.mutable_expiration_time() = response->expiration_time();
    if (response->has_initial_registration_time()) {
      *e.nse.mutable_initial_registration_time() = response->initial_registration_time();
    }
    Schedule(name, e, RefreshDelay(e));
  }

  const Options options;
  mutable absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
};

NSEClient::NSEClient(Options options) : state_(std::make_shared<State>(options)) {}

NSEClient::~NSEClient() {
  absl::flat_hash_map<std::string, State::Entry> entries;
  absl::MutexLock lock(&state_->mu);
  entries.swap(state_->entries);
}

absl::StatusOr<NSEClient::Item> NSEClient::Register(const Context& ctx, Item& nse, const Next& next,
                                                    const CallOptions& opts) {
  auto executor = serialize::ExecutorFromContext(ctx);
  if (!executor) {
    return absl::InternalError(
        "refresh: no per-name executor in the context (serialize must come before refresh)");
  }
  const absl::Time now = ctx.clock().Now();
  absl::Duration requested = absl::ZeroDuration();
  if (nse.has_expiration_time()) {
    requested =
        std::max(absl::ZeroDuration(), api::FromProtoTimestamp(nse.expiration_time()) - now);
  }
  std::optional<State::Entry> stopped;  // the old refresh dies outside the lock
  {
    absl::MutexLock lock(&state_->mu);
    if (auto it = state_->entries.find(nse.name()); it != state_->entries.end()) {
      stopped = std::move(it->second);
      state_->entries.erase(it);
    }
  }
  stopped.reset();

  Item request = nse;
  auto response = next.Register(ctx, nse, opts);
  if (!response.ok() || !response->has_expiration_time()) return response;

  State::Entry e;
  e.nse = std::move(request);
  e.requested = requested;
  e.expiration = api::FromProtoTimestamp(response->expiration_time());
  *e.nse.mutable_expiration_time() = response->expiration_time();
  if (response->has_initial_registration_time()) {
    *e.nse.mutable_initial_registration_time() = response->initial_registration_time();
  }
  e.next = next;
  e.opts = opts;
  e.ctx = ctx.Detached();
  e.executor = std::move(executor);
  e.backoff = std::make_unique<retry::Backoff>(state_->options.backoff);
  absl::MutexLock lock(&state_->mu);
  e.id = state_->next_id++;
  const absl::Duration delay = state_->RefreshDelay(e);
  auto [it, inserted] = state_->entries.insert_or_assign(response->name(), std::move(e));
  state_->Schedule(response->name(), it->second, delay);
  return response;
}

absl::Status NSEClient::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next, const CallOptions& opts) {
  return next.Find(ctx, query, stream, opts);
}

absl::Status NSEClient::Unregister(const Context& ctx, Item& nse, const Next& next,
                                   const CallOptions& opts) {
  std::optional<State::Entry> stopped;
  {
    absl::MutexLock lock(&state_->mu);
    if (auto it = state_->entries.find(nse.name()); it != state_->entries.end()) {
      stopped = std::move(it->second);
      state_->entries.erase(it);
    }
  }
  stopped.reset();
  return next.Unregister(ctx, nse, opts);
}

std::vector<NSEClient::Item> NSEClient::Registrations() const {
  absl::MutexLock lock(&state_->mu);
  std::vector<Item> out;
  for (const auto& [name, e] : state_->entries) out.push_back(e.nse);
  return out;
}

size_t NSEClient::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->entries.size();
}

}  // namespace nsm::reg::refresh

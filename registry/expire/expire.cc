#include "registry/expire/expire.h"

#include "absl/strings/str_cat.h"
#include "api/path.h"
#include "core/log.h"
#include "registry/serialize/serialize.h"

namespace nsm::reg::expire {
namespace {

// Bound for the unregistration an expiry triggers (it may call a remote registry).
constexpr absl::Duration kExpiryUnregisterTimeout = absl::Seconds(15);

}  // namespace

struct NSEServer::State : std::enable_shared_from_this<NSEServer::State> {
  struct Entry {
    uint64_t id = 0;
    absl::Time expiration;
    std::unique_ptr<Timer> timer;
    // What the timer needs to unregister: the registered endpoint, the rest of the chain, the
    // registering call's values (clock, executor, client URL) without its deadline.
    NSERegistryServer::Item nse;
    NSERegistryServer::Next next;
    Context ctx;
    std::shared_ptr<MultiExecutor> executor;
  };

  // Arms `entry` at its expiration. Replaces (and so stops) a previous timer of the name.
  void Arm(const std::string& name, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    entry.id = next_id++;
    entry.timer = entry.ctx.clock().At(
        entry.expiration, [weak = weak_from_this(), name, id = entry.id, exec = entry.executor] {
          // Timer callbacks must be short: queue the work behind the name's Register/Unregister.
          // The queued work keeps the executor alive (MultiExecutor must outlive its work).
          exec->Async(name, [weak, name, id, exec] {
            if (auto state = weak.lock()) state->Expire(name, id);
          });
        });
    entries.insert_or_assign(name, std::move(entry));
  }

  void Expire(const std::string& name, uint64_t id) {
    Entry entry;
    {
      absl::MutexLock lock(&mu);
      auto it = entries.find(name);
      if (it == entries.end() || it->second.id != id) return;  // re-registered or unregistered
      entry = std::move(it->second);
      entries.erase(it);
    }
    entry.timer.reset();
    auto [ctx, cancel] = entry.ctx.WithTimeout(kExpiryUnregisterTimeout);
    absl::Status s = entry.next.Unregister(ctx, entry.nse);
    cancel();
    if (on_expired) on_expired(s);
    if (!s.ok()) {
      log::Warn("expire", absl::StrCat("unregistering expired endpoint \"", name,
                                       "\" failed: ", s.ToString()));
    }
  }

  std::function<void(const absl::Status&)> on_expired;
  mutable absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
};

NSEServer::NSEServer(absl::Duration max_lifetime,
                     std::function<void(const absl::Status&)> on_expired)
    : max_lifetime_(max_lifetime), state_(std::make_shared<State>()) {
  state_->on_expired = std::move(on_expired);
}

NSEServer::~NSEServer() {
  absl::flat_hash_map<std::string, State::Entry> entries;
  {
    absl::MutexLock lock(&state_->mu);
    entries.swap(state_->entries);
  }
  // Timers die with their entries here, outside the lock.
}

absl::StatusOr<NSEServer::Item> NSEServer::Register(const Context& ctx, Item& nse,
                                                    const Next& next) {
  auto executor = serialize::ExecutorFromContext(ctx);
  if (!executor) {
    return absl::InternalError(
        "expire: no per-name executor in the context (serialize must come before expire)");
  }
  const absl::Time now = ctx.clock().Now();
  absl::Time expiration = now + max_lifetime_;
  if (nse.has_expiration_time()) {
    const absl::Time requested = api::FromProtoTimestamp(nse.expiration_time());
    if (requested <= now) {
      return absl::InvalidArgumentError(absl::StrCat(
          "network_service_endpoint.expiration_time ", api::FormatRfc3339Nano(requested), " of \"",
          nse.name(), "\" is not in the future (now ", api::FormatRfc3339Nano(now), ")"));
    }
    expiration = std::min(expiration, requested);
  }
  *nse.mutable_expiration_time() = api::ToProtoTimestamp(expiration);

  // Pause the current timer of the name while the rest of the chain runs.
  std::optional<State::Entry> paused;
  {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->entries.find(nse.name());
    if (it != state_->entries.end()) {
      paused = std::move(it->second);
      state_->entries.erase(it);
    }
  }
  if (paused) paused->timer.reset();

  auto response = next.Register(ctx, nse);
  absl::MutexLock lock(&state_->mu);
  if (!response.ok()) {
    if (paused) state_->Arm(nse.name(), std::move(*paused));
    return response;
  }
  if (response->name() != nse.name()) state_->entries.erase(nse.name());
  State::Entry entry;
  entry.expiration = response->has_expiration_time()
                         ? api::FromProtoTimestamp(response->expiration_time())
                         : expiration;
  entry.nse = *response;
  entry.next = next;
  entry.ctx = ctx.Detached();
  entry.executor = std::move(executor);
  state_->Arm(response->name(), std::move(entry));
  return response;
}

absl::Status NSEServer::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  return next.Find(ctx, query, stream);
}

absl::Status NSEServer::Unregister(const Context& ctx, Item& nse, const Next& next) {
  std::optional<State::Entry> paused;
  {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->entries.find(nse.name());
    if (it != state_->entries.end()) {
      paused = std::move(it->second);
      state_->entries.erase(it);
    }
  }
  if (!paused) {
    log::Debug("expire", absl::StrCat("endpoint \"", nse.name(), "\" is already unregistered"));
    return absl::OkStatus();
  }
  paused->timer.reset();
  absl::Status s = next.Unregister(ctx, nse);
  if (!s.ok()) {
    absl::MutexLock lock(&state_->mu);
    state_->Arm(nse.name(), std::move(*paused));
  }
  return s;
}

size_t NSEServer::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->entries.size();
}

}  // namespace nsm::reg::expire

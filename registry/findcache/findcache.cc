// findcache: per-query Find results kept fresh by a watch through next (issue #7); see
// findcache.h.
#include "registry/findcache/findcache.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "registry/matchutils/items.h"
#include "registry/matchutils/match.h"

namespace nsm::reg::findcache {
namespace {

bool Expired(const ::registry::NetworkService&, absl::Time) { return false; }
bool Expired(const ::registry::NetworkServiceEndpoint& nse, absl::Time now) {
  return nse.has_expiration_time() && api::FromProtoTimestamp(nse.expiration_time()) <= now;
}

// Items in the order they were first seen, with an index by name.
template <class Item>
class ItemSet {
 public:
  void Upsert(const Item& item) {
    auto [it, added] = index_.try_emplace(item.name(), items_.size());
    if (added) {
      items_.push_back(item);
    } else {
      items_[it->second] = item;
    }
  }
  void Erase(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    const size_t removed = it->second;
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(removed));
    index_.erase(it);
    for (auto& [n, pos] : index_) {
      if (pos > removed) --pos;
    }
  }
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace

template <class T>
struct Server<T>::State : std::enable_shared_from_this<Server<T>::State> {
  struct Entry {
    uint64_t id = 0;
    Query query;
    ItemSet<Item> items;
    absl::Time created;
    absl::Time last_used;
    std::shared_ptr<EntryWatch> watch;
  };

  State(std::shared_ptr<Clock> c, Options o) : clock(std::move(c)), options(Normalized(o)) {}

  // Non-positive lifetimes would make every entry dead at birth and the sweep timer spin: they
  // turn caching off instead (every Find passes through).
  static Options Normalized(Options o) {
    if (o.idle_timeout <= absl::ZeroDuration() || o.max_age <= absl::ZeroDuration()) {
      o.max_entries = 0;
    }
    return o;
  }

  void Apply(const std::string& key, uint64_t id, const Response& r) {
    absl::MutexLock lock(&mu);
    auto it = entries.find(key);
    if (it == entries.end() || it->second.id != id) return;
    const Item& item = ResponseItem(r);
    if (r.deleted()) {
      ++removals;
      it->second.items.Erase(item.name());
    } else {
      it->second.items.Upsert(item);
    }
  }

  // Removes the entry (if it is still the one with `id`); returns its watch for the caller to
  // cancel outside the lock.
  std::shared_ptr<EntryWatch> TakeLocked(const std::string& key, uint64_t id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = entries.find(key);
    if (it == entries.end() || (id != 0 && it->second.id != id)) return nullptr;
    auto watch = std::move(it->second.watch);
    entries.erase(it);
    return watch;
  }

  void Drop(const std::string& key, uint64_t id);
  void Sweep();
  void ArmSweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (stopped || options.max_entries == 0) return;
    sweep = clock->AfterFunc(std::min(options.idle_timeout, options.max_age),
                             [weak = this->weak_from_this()] {
                               if (auto s = weak.lock()) s->Sweep();
                             });
  }
  bool LiveLocked(const Entry& e, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return now - e.created < options.max_age && now - e.last_used < options.idle_timeout;
  }

  const std::shared_ptr<Clock> clock;
  const Options options;
  mutable absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // Bumped by every removal this element hears of (Unregister through it, a deletion seen by a
  // watch): a miss whose Find raced with one does not cache its result, which could hold the
  // removed item with no watch left to delete it.
  uint64_t removals ABSL_GUARDED_BY(mu) = 0;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  uint64_t hits ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  std::unique_ptr<Timer> sweep ABSL_GUARDED_BY(mu);
};

// The watch that keeps one entry fresh; its end drops the entry.
template <class T>
class Server<T>::EntryWatch : public FindStream<typename T::Response> {
 public:
  EntryWatch(std::weak_ptr<State> state, std::string key, uint64_t id, const Context& parent)
      : state_(std::move(state)), key_(std::move(key)), id_(id) {
    auto [ctx, cancel] = parent.WithCancel();
    ctx_ = ctx;
    cancel_ = cancel;
  }
  const Context& context() const override { return ctx_; }
  absl::Status Send(const Response& r) override {
    if (ctx_.cancelled()) return ctx_.Err();
    if (auto state = state_.lock()) state->Apply(key_, id_, r);
    return absl::OkStatus();
  }
  void Finish(absl::Status) override {
    cancel_();
    if (auto state = state_.lock()) state->Drop(key_, id_);
  }
  // Deletions during the break were missed: the entry goes (and this watch with it); the next
  // query builds it again from a fresh Find.
  void Reopened() override { Finish(absl::OkStatus()); }
  void Cancel() { cancel_(); }

 private:
  std::weak_ptr<State> state_;
  std::string key_;
  uint64_t id_;
  Context ctx_;
  Context::CancelFunc cancel_;
};

template <class T>
void Server<T>::State::Drop(const std::string& key, uint64_t id) {
  std::shared_ptr<EntryWatch> watch;
  {
    absl::MutexLock lock(&mu);
    watch = TakeLocked(key, id);
  }
  if (watch) watch->Cancel();
}

template <class T>
void Server<T>::State::Sweep() {
  std::vector<std::shared_ptr<EntryWatch>> dropped;
  {
    absl::MutexLock lock(&mu);
    const absl::Time now = clock->Now();
    for (auto it = entries.begin(); it != entries.end();) {
      if (!LiveLocked(it->second, now)) {
        dropped.push_back(std::move(it->second.watch));
        entries.erase(it++);
      } else {
        ++it;
      }
    }
    ArmSweepLocked();
  }
  for (const auto& w : dropped) {
    if (w) w->Cancel();
  }
}

template <class T>
Server<T>::Server(std::shared_ptr<Clock> clock, Options options)
    : state_(std::make_shared<State>(std::move(clock), options)) {
  absl::MutexLock lock(&state_->mu);
  state_->ArmSweepLocked();
}

template <class T>
Server<T>::~Server() {
  absl::flat_hash_map<std::string, typename State::Entry> entries;
  std::unique_ptr<Timer> sweep;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopped = true;
    entries.swap(state_->entries);
    sweep = std::move(state_->sweep);
  }
  if (sweep) sweep->Stop();
  for (auto& [key, e] : entries) {
    if (e.watch) e.watch->Cancel();
  }
}

template <class T>
auto Server<T>::Register(const Context& ctx, Item& item, const Next& next) -> absl::StatusOr<Item> {
  auto registered = next.Register(ctx, item);
  if (!registered.ok()) return registered;
  absl::MutexLock lock(&state_->mu);
  for (auto& [key, e] : state_->entries) {
    if (match::Matches(QueryItem(e.query), *registered)) e.items.Upsert(*registered);
  }
  return registered;
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next& next) {
  if (auto s = next.Unregister(ctx, item); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  ++state_->removals;
  for (auto& [key, e] : state_->entries) e.items.Erase(item.name());
  return absl::OkStatus();
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  if (query.watch()) return next.Find(ctx, query, stream);
  const std::string key = QueryKey(query);
  std::vector<Response> hit;  // made under the lock: one copy of each item, moved to the stream
  bool found = false;
  std::shared_ptr<EntryWatch> stale;
  {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->entries.find(key);
    if (it != state_->entries.end()) {
      const absl::Time now = state_->clock->Now();
      if (state_->LiveLocked(it->second, now)) {
        it->second.last_used = now;
        for (const Item& item : it->second.items.items()) {
          if (!Expired(item, now)) hit.push_back(MakeResponse<Response>(item));
        }
        found = true;
        ++state_->hits;
      } else {
        stale = state_->TakeLocked(key, 0);
      }
    }
  }
  if (stale) stale->Cancel();
  if (found) {
    for (Response& r : hit) {
      if (auto s = stream->Send(std::move(r)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // A miss: next's results go to the caller and are kept for the entry.
  uint64_t removals_before;
  {
    absl::MutexLock lock(&state_->mu);
    removals_before = state_->removals;
  }
  auto results = BufferedFindStream<Response>::Create(ctx);
  if (auto s = next.Find(ctx, query, results); !s.ok()) return s;
  ItemSet<Item> items;
  for (const Response& r : results->Drain()) {
    if (auto s = stream->Send(r); !s.ok()) return s;
    if (r.deleted()) {
      items.Erase(ResponseItem(r).name());
    } else {
      items.Upsert(ResponseItem(r));
    }
  }

  std::shared_ptr<EntryWatch> watch;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->stopped || state_->removals != removals_before || state_->entries.contains(key) ||
        state_->entries.size() >= state_->options.max_entries) {
      return absl::OkStatus();
    }
    typename State::Entry e;
    e.id = state_->next_id++;
    e.query = query;
    e.items = std::move(items);
    e.created = e.last_used = state_->clock->Now();
    // The watch outlives this call: it keeps the caller's values (e.g. the registry URL), not its
    // deadline or cancellation.
    e.watch = std::make_shared<EntryWatch>(state_, key, e.id, ctx.Detached());
    watch = e.watch;
    state_->entries.emplace(key, std::move(e));
  }
  Query watch_query = query;
  watch_query.set_watch(true);
  if (auto s = next.Find(watch->context(), watch_query, watch); !s.ok()) watch->Finish(s);
  return absl::OkStatus();
}

template <class T>
size_t Server<T>::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->entries.size();
}

template <class T>
uint64_t Server<T>::hits() const {
  absl::MutexLock lock(&state_->mu);
  return state_->hits;
}

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::findcache

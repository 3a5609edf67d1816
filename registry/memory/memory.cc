#include "registry/memory/memory.h"

#include "registry/matchutils/items.h"

namespace nsm::reg::memory {

template <class T>
struct Server<T>::Watcher {
  Query query;
  Stream stream;
  std::string name_key;  // exact query name it is indexed under; empty: in `any`
  std::unique_ptr<CancelState::Registration> on_cancel;
};

template <class T>
struct Server<T>::State : std::enable_shared_from_this<State> {
  using Dead = std::vector<std::unique_ptr<Watcher>>;

  explicit State(Options o) : options(std::move(o)) {}

  // Sends the change to every watcher whose query matches it; drops watchers whose Send fails.
  void Emit(const Item& item, bool deleted, Dead& dead) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (watchers.empty()) return;
    const Response response = MakeResponse<Response>(item, deleted);
    std::vector<uint64_t> failed;
    auto deliver = [&](uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      const Watcher& w = *watchers.at(id);
      if (!match::Matches(QueryItem(w.query), item, options.match)) return;
      if (!w.stream->Send(response).ok()) failed.push_back(id);
    };
    if (auto it = by_name.find(item.name()); it != by_name.end()) {
      for (uint64_t id : it->second) deliver(id);
    }
    for (uint64_t id : any) deliver(id);
    for (uint64_t id : failed) RemoveLocked(id, dead);
  }

  void RemoveLocked(uint64_t id, Dead& dead) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = watchers.find(id);
    if (it == watchers.end()) return;
    const std::string& key = it->second->name_key;
    if (key.empty()) {
      any.erase(id);
    } else if (auto b = by_name.find(key); b != by_name.end()) {
      b->second.erase(id);
      if (b->second.empty()) by_name.erase(b);
    }
    dead.push_back(std::move(it->second));
    watchers.erase(it);
  }

  // Calls fn(item) for every stored item matching query template `q`, in registration order,
  // until fn returns false. An exact-name query looks at that one item only.
  template <class Fn>
  void ForEachMatch(const Item& q, Fn fn) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    if (!q.name().empty() && !options.match.substring_names) {
      auto it = index.find(q.name());
      if (it == index.end()) return;
      const Item& item = items.at(it->second);
      if (match::Matches(q, item, options.match)) fn(item);
      return;
    }
    for (const auto& [seq, item] : items) {
      if (match::Matches(q, item, options.match) && !fn(item)) return;
    }
  }

  void Remove(uint64_t id) {
    Dead dead;  // destroyed after the lock is released
    absl::MutexLock lock(&mu);
    RemoveLocked(id, dead);
  }

  const Options options;
  mutable absl::Mutex mu;
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 0;
  std::map<uint64_t, Item> items ABSL_GUARDED_BY(mu);  // registration order
  absl::flat_hash_map<std::string, uint64_t> index ABSL_GUARDED_BY(mu);
  uint64_t next_watcher ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Watcher>> watchers ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, absl::flat_hash_set<uint64_t>> by_name ABSL_GUARDED_BY(mu);
  absl::flat_hash_set<uint64_t> any ABSL_GUARDED_BY(mu);
};

template <class T>
Server<T>::Server(Options options) : state_(std::make_shared<State>(std::move(options))) {}

template <class T>
Server<T>::~Server() {
  typename State::Dead dead;
  {
    absl::MutexLock lock(&state_->mu);
    for (auto& [id, w] : state_->watchers) dead.push_back(std::move(w));
    state_->watchers.clear();
    state_->by_name.clear();
    state_->any.clear();
  }
  for (auto& w : dead) {
    w->on_cancel.reset();
    w->stream->Finish(absl::UnavailableError("registry store is shutting down"));
  }
}

template <class T>
auto Server<T>::Register(const Context& ctx, Item& item, const Next& next) -> absl::StatusOr<Item> {
  auto response = next.Register(ctx, item);
  if (!response.ok()) return response;
  typename State::Dead dead;
  absl::MutexLock lock(&state_->mu);
  auto [it, inserted] = state_->index.try_emplace(response->name(), state_->next_seq);
  if (inserted) ++state_->next_seq;
  state_->items[it->second] = *response;
  state_->Emit(*response, /*deleted=*/false, dead);
  return response;
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next& next) {
  {
    typename State::Dead dead;
    absl::MutexLock lock(&state_->mu);
    auto it = state_->index.find(item.name());
    if (it != state_->index.end()) {
      auto stored = state_->items.find(it->second);
      Item removed = std::move(stored->second);
      state_->items.erase(stored);
      state_->index.erase(it);
      state_->Emit(removed, /*deleted=*/true, dead);
    }
  }
  return next.Unregister(ctx, item);
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  const auto& q = QueryItem(query);
  if (!query.watch()) {
    std::vector<Response> matches;  // sent outside the lock
    {
      absl::ReaderMutexLock lock(&state_->mu);
      state_->ForEachMatch(q, [&](const Item& item) {
        matches.push_back(MakeResponse<Response>(item));
        return true;
      });
    }
    for (auto& response : matches) {
      if (auto s = stream->Send(std::move(response)); !s.ok()) return s;
    }
    return next.Find(ctx, query, stream);
  }

  if (auto s = next.Find(ctx, query, stream); !s.ok()) return s;
  typename State::Dead dead;
  absl::MutexLock lock(&state_->mu);
  // Snapshot and registration under one lock: no change can fall between them.
  absl::Status sent;
  state_->ForEachMatch(q, [&](const Item& item) {
    sent = stream->Send(MakeResponse<Response>(item));
    return sent.ok();
  });
  if (!sent.ok()) return stream->context().cancelled() ? absl::OkStatus() : sent;
  const uint64_t id = state_->next_watcher++;
  auto w = std::make_unique<Watcher>();
  w->query = query;
  w->stream = stream;
  if (!q.name().empty() && !state_->options.match.substring_names) {
    w->name_key = q.name();
    state_->by_name[q.name()].insert(id);
  } else {
    state_->any.insert(id);
  }
  if (const auto& cancel = stream->context().cancel_state()) {
    // Runs on the cancelling thread, which may be inside a Send under the store lock: defer.
    w->on_cancel =
        cancel->OnCancel([weak = std::weak_ptr<State>(state_), id, pool = state_->options.pool] {
          pool->Post([weak, id] {
            if (auto state = weak.lock()) state->Remove(id);
          });
        });
  }
  state_->watchers.emplace(id, std::move(w));
  return absl::OkStatus();
}

template <class T>
size_t Server<T>::size() const {
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->items.size();
}

template <class T>
size_t Server<T>::watchers() const {
  absl::ReaderMutexLock lock(&state_->mu);
  return state_->watchers.size();
}

template <class T>
auto Server<T>::Get(const std::string& name) const -> std::optional<Item> {
  absl::ReaderMutexLock lock(&state_->mu);
  auto it = state_->index.find(name);
  if (it == state_->index.end()) return std::nullopt;
  return state_->items.at(it->second);
}

template <class T>
bool Server<T>::MaybeContains(const std::string& name) const {
  // Never waits: the lock is held while watchers are written to, which calls into gRPC.
  if (!state_->mu.ReaderTryLock()) return true;
  const bool stored = state_->index.contains(name);
  state_->mu.ReaderUnlock();
  return stored;
}

template <class T>
auto Server<T>::List() const -> std::vector<Item> {
  absl::ReaderMutexLock lock(&state_->mu);
  std::vector<Item> out;
  out.reserve(state_->items.size());
  for (const auto& [seq, item] : state_->items) out.push_back(item);
  return out;
}

template class Server<NSTraits>;
template class Server<NSETraits>;

}  // namespace nsm::reg::memory

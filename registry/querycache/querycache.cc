#include "registry/querycache/querycache.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "registry/matchutils/items.h"

namespace nsm::reg::querycache {
namespace {

using Response = ::registry::NetworkServiceEndpointResponse;

std::string NameKey(const std::string& name) {
  NSERegistryClient::Query q;
  q.mutable_network_service_endpoint()->set_name(name);
  return QueryKey(q);
}

}  // namespace

struct NSEClient::State : std::enable_shared_from_this<NSEClient::State> {
  struct Entry {
    uint64_t id = 0;
    Item nse;
    absl::Time expires;
    std::shared_ptr<EntryWatch> watch;
  };

  State(Context c, Options o) : chain_ctx(std::move(c)), options(o) {}

  void Update(const std::string& key, uint64_t id, const Response& r);
  void Drop(const std::string& key, uint64_t id);
  void Sweep();
  void ArmSweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    sweep = chain_ctx.clock().AfterFunc(options.expire_timeout, [weak = weak_from_this()] {
      if (auto s = weak.lock()) s->Sweep();
    });
  }

  const Context chain_ctx;
  const Options options;
  mutable absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  std::unique_ptr<Timer> sweep ABSL_GUARDED_BY(mu);
};

// The watch that keeps one entry fresh.
class NSEClient::EntryWatch : public FindStream<Response> {
 public:
  EntryWatch(std::weak_ptr<State> state, std::string key, uint64_t id, std::string name,
             const Context& chain_ctx)
      : state_(std::move(state)), key_(std::move(key)), id_(id), name_(std::move(name)) {
    auto [ctx, cancel] = chain_ctx.WithCancel();
    ctx_ = ctx;
    cancel_ = cancel;
  }
  const Context& context() const override { return ctx_; }
  absl::Status Send(const Response& r) override {
    if (r.network_service_endpoint().name() != name_) return absl::OkStatus();
    if (auto state = state_.lock()) {
      if (r.deleted()) {
        state->Drop(key_, id_);
      } else {
        state->Update(key_, id_, r);
      }
    }
    return ctx_.Err();
  }
  void Finish(absl::Status) override {
    cancel_();
    if (auto state = state_.lock()) state->Drop(key_, id_);
  }
  // A deletion during the break was missed: the entry goes with this watch.
  void Reopened() override { Finish(absl::OkStatus()); }
  void Cancel() { cancel_(); }

 private:
  std::weak_ptr<State> state_;
  std::string key_;
  uint64_t id_;
  std::string name_;
  Context ctx_;
  Context::CancelFunc cancel_;
};

void NSEClient::State::Update(const std::string& key, uint64_t id, const Response& r) {
  absl::MutexLock lock(&mu);
  auto it = entries.find(key);
  if (it != entries.end() && it->second.id == id) it->second.nse = r.network_service_endpoint();
}

void NSEClient::State::Drop(const std::string& key, uint64_t id) {
  std::shared_ptr<EntryWatch> watch;
  {
    absl::MutexLock lock(&mu);
    auto it = entries.find(key);
    if (it == entries.end() || it->second.id != id) return;
    watch = std::move(it->second.watch);
    entries.erase(it);
  }
  if (watch) watch->Cancel();
}

void NSEClient::State::Sweep() {
  std::vector<std::shared_ptr<EntryWatch>> expired;
  {
    absl::MutexLock lock(&mu);
    const absl::Time now = chain_ctx.clock().Now();
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->second.expires <= now) {
        expired.push_back(std::move(it->second.watch));
        entries.erase(it++);
      } else {
        ++it;
      }
    }
    if (!chain_ctx.cancelled()) ArmSweep();
  }
  for (const auto& w : expired) {
    if (w) w->Cancel();
  }
}

NSEClient::NSEClient(Context chain_ctx, Options options)
    : state_(std::make_shared<State>(std::move(chain_ctx), options)) {
  absl::MutexLock lock(&state_->mu);
  state_->ArmSweep();
}

NSEClient::~NSEClient() {
  absl::flat_hash_map<std::string, State::Entry> entries;
  {
    absl::MutexLock lock(&state_->mu);
    entries.swap(state_->entries);
    state_->sweep.reset();
  }
  for (auto& [key, e] : entries) {
    if (e.watch) e.watch->Cancel();
  }
}

absl::StatusOr<NSEClient::Item> NSEClient::Register(const Context& ctx, Item& nse, const Next& next,
                                                    const CallOptions& opts) {
  return next.Register(ctx, nse, opts);
}

absl::Status NSEClient::Unregister(const Context& ctx, Item& nse, const Next& next,
                                   const CallOptions& opts) {
  return next.Unregister(ctx, nse, opts);
}

absl::Status NSEClient::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next, const CallOptions& opts) {
  if (query.watch()) return next.Find(ctx, query, stream, opts);
  const std::string key = QueryKey(query);
  std::optional<Item> hit;
  std::shared_ptr<EntryWatch> expired;
  {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->entries.find(key);
    if (it != state_->entries.end()) {
      const absl::Time now = state_->chain_ctx.clock().Now();
      if (it->second.expires > now) {
        it->second.expires = now + state_->options.expire_timeout;
        hit = it->second.nse;
      } else {
        expired = std::move(it->second.watch);
        state_->entries.erase(it);
      }
    }
  }
  if (expired) expired->Cancel();
  if (hit) {
    Response r;
    *r.mutable_network_service_endpoint() = std::move(*hit);
    return stream->Send(r);
  }

  auto results = BufferedFindStream<Response>::Create(ctx);
  if (auto s = next.Find(ctx, query, results, opts); !s.ok()) return s;
  for (const Response& r : results->Drain()) {
    if (auto s = stream->Send(r); !s.ok()) return s;
    if (r.deleted()) continue;
    const std::string& name = r.network_service_endpoint().name();
    const std::string name_key = NameKey(name);
    std::shared_ptr<EntryWatch> watch;
    {
      absl::MutexLock lock(&state_->mu);
      if (state_->entries.contains(name_key)) continue;
      State::Entry e;
      e.id = state_->next_id++;
      e.nse = r.network_service_endpoint();
      e.expires = state_->chain_ctx.clock().Now() + state_->options.expire_timeout;
      e.watch = std::make_shared<EntryWatch>(state_, name_key, e.id, name, state_->chain_ctx);
      watch = e.watch;
      state_->entries.emplace(name_key, std::move(e));
    }
    Query q;
    q.mutable_network_service_endpoint()->set_name(name);
    q.set_watch(true);
    if (!next.Find(watch->context(), q, watch, opts).ok()) watch->Finish(absl::OkStatus());
  }
  return absl::OkStatus();
}

size_t NSEClient::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->entries.size();
}

}  // namespace nsm::reg::querycache

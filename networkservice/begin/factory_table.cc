#include "networkservice/begin/factory_table.h"

namespace nsm::begin::internal {
namespace {

// The stored connection a Close unpacks lives on an arena for the call: its ~55 objects (strings,
// maps, path segments) are bump allocations freed at once. One block holds a connection of a few
// path segments (~3.3 kB parsed with four).
google::protobuf::ArenaOptions CloseArenaOptions() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 4096;
  return o;
}

}  // namespace

void Factory::Forget() {
  if (auto table = table_.lock()) table->RemoveIf(id_, this);
}

Connection& Factory::StoredConnection(google::protobuf::Arena& arena) const {
  Connection& conn = *google::protobuf::Arena::CreateMessage<Connection>(&arena);
  request->UnpackField(NetworkServiceRequest::kConnectionFieldNumber, &conn);
  return conn;
}

void Factory::Closed() {
  state = State::kClosed;
  request.reset();
  returned.reset();
  Forget();
}

std::shared_ptr<Completion> Factory::Request(EventOptions opts) {
  auto done = Completion::Create();
  executor_.Async([self = shared_from_this(), opts = std::move(opts), done] {
    if (self->state != State::kEstablished || !self->request) {
      done->Set(absl::OkStatus());
      return;
    }
    if (opts.cancel_ctx && opts.cancel_ctx->cancelled()) {
      done->Set(absl::OkStatus());
      return;
    }
    auto [ctx, cancel] = self->ctx_factory.Make();
    Context event_ctx = ctx.WithValue<EventFactory>(kEventFactoryKey, self);
    if (opts.decorate) event_ctx = opts.decorate(event_ctx);
    NetworkServiceRequest req = self->request->Unpack();
    if (opts.reselect) {
      Connection old = req.connection();
      (void)self->downstream.close(event_ctx, old);
      req.mutable_connection()->clear_mechanism();
      req.mutable_connection()->clear_network_service_endpoint_name();
    }
    auto result = self->downstream.request(event_ctx, req);
    if (result.ok()) {
      if (self->track_returned && !self->returned) {  // the caller's baseline stays what it got
        self->returned = Packed<Connection>(
            self->request->UnpackField<Connection>(NetworkServiceRequest::kConnectionFieldNumber));
      }
      *req.mutable_connection() = *result;
      self->request = Packed<NetworkServiceRequest>(req);
    }
    cancel();
    done->Set(result.status());
  });
  return done;
}

std::shared_ptr<Completion> Factory::Close(EventOptions opts) {
  auto done = Completion::Create();
  executor_.Async([self = shared_from_this(), opts = std::move(opts), done] {
    if (self->state != State::kEstablished || !self->request) {
      done->Set(absl::OkStatus());
      return;
    }
    if (opts.cancel_ctx && opts.cancel_ctx->cancelled()) {
      done->Set(absl::OkStatus());
      return;
    }
    auto [ctx, cancel] = self->ctx_factory.Make();
    google::protobuf::Arena arena(CloseArenaOptions());
    Connection& conn = self->StoredConnection(arena);
    Context event_ctx = ctx.WithValue<EventFactory>(kEventFactoryKey, self);
    if (opts.decorate) event_ctx = opts.decorate(event_ctx);
    absl::Status s = self->downstream.close(event_ctx, conn);
    self->Closed();
    cancel();
    done->Set(s);
  });
  return done;
}

std::shared_ptr<Factory> FactoryTable::GetOrCreate(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& slot = factories_[id];
  if (!slot) slot = std::make_shared<Factory>(id, weak_from_this(), pool_);
  return slot;
}

std::shared_ptr<Factory> FactoryTable::Lookup(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = factories_.find(id);
  return it == factories_.end() ? nullptr : it->second;
}

void FactoryTable::RemoveIf(const std::string& id, const Factory* f) {
  std::shared_ptr<Factory> dropped;  // released outside the lock
  absl::MutexLock lock(&mu_);
  auto it = factories_.find(id);
  if (it != factories_.end() && it->second.get() == f) {
    dropped = std::move(it->second);
    factories_.erase(it);
  }
}

size_t FactoryTable::size() const {
  absl::MutexLock lock(&mu_);
  return factories_.size();
}

absl::StatusOr<Connection> FactoryTable::Request(
    const Context& ctx, NetworkServiceRequest& request, Downstream downstream,
    const std::function<void(const Factory&, NetworkServiceRequest&)>& merge) {
  const std::string id = request.connection().id();  // a copy: merge may rewrite the request
  if (id.empty()) {
    return absl::InvalidArgumentError("begin: request.connection.id must not be empty");
  }
  if (FromContext(ctx)) return downstream.request(ctx, request);
  for (;;) {
    auto factory = GetOrCreate(id);
    bool stale = false;
    absl::StatusOr<Connection> result = absl::UnknownError("begin: not run");
    factory->executor().RunSync([&] {
      // Closed (and maybe re-created) while we waited: start again with the current factory.
      if (Lookup(id) != factory) {
        stale = true;
        return;
      }
      if (merge && factory->state == Factory::State::kEstablished && factory->request) {
        merge(*factory, request);
      }
      // Events later get the time this Request had when it started (as NSM), not what was left
      // when it returned: a slow first Request must not leave refresh and heal without time.
      PostponedContext postponed = ctx.Postpone();
      result = downstream.request(ctx.WithValue<EventFactory>(kEventFactoryKey, factory), request);
      if (!result.ok()) {
        if (factory->state != Factory::State::kEstablished) factory->Closed();
        return;
      }
      // Stored: the request with the returned connection, packed with the result's connection
      // lent to it for the moment: a pointer put in and taken back, no copy of either (a Swap
      // would copy both ways when the request is on a call's arena and the result is not).
      Connection* own = request.unsafe_arena_release_connection();
      request.unsafe_arena_set_allocated_connection(&*result);
      factory->request = Packed<NetworkServiceRequest>(request);
      request.unsafe_arena_release_connection();
      request.unsafe_arena_set_allocated_connection(own);
      factory->downstream = downstream;
      factory->ctx_factory = std::move(postponed);
      if (merge) {  // what the caller gets back is the stored request's connection (see .h)
        factory->returned.reset();
        factory->track_returned = true;
      }
      factory->state = Factory::State::kEstablished;
    });
    if (!stale) return result;
  }
}

absl::Status FactoryTable::Close(const Context& ctx, Connection& conn, Downstream downstream,
                                 bool close_unknown) {
  if (FromContext(ctx)) return downstream.close(ctx, conn);
  if (close_unknown && !conn.id().empty()) {
    for (;;) {
      auto factory = GetOrCreate(conn.id());
      bool stale = false;
      bool unknown = false;
      absl::Status status;
      factory->executor().RunSync([&] {
        if (Lookup(conn.id()) != factory) {
          stale = true;
          return;
        }
        if (factory->state == Factory::State::kEstablished && factory->request) return;
        // Nothing established here (e.g. this hop restarted): the caller's connection goes on,
        // so the hops after this one still get the Close.
        unknown = true;
        status = downstream.close(ctx.WithValue<EventFactory>(kEventFactoryKey, factory), conn);
        factory->Closed();
      });
      if (stale) continue;
      if (unknown) return status;
      break;  // established: closed below like any other
    }
  }
  auto factory = Lookup(conn.id());
  if (!factory) return absl::OkStatus();
  absl::Status status;
  factory->executor().RunSync([&] {
    if (factory->state != Factory::State::kEstablished || !factory->request) return;
    if (Lookup(conn.id()) != factory) return;
    // Close what we last returned, not what the caller sent (chain-model.md §3.4).
    google::protobuf::Arena arena(CloseArenaOptions());
    status = downstream.close(ctx.WithValue<EventFactory>(kEventFactoryKey, factory),
                              factory->StoredConnection(arena));
    factory->Closed();
  });
  return status;
}

}  // namespace nsm::begin::internal

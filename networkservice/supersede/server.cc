// supersede: one connection per client connection at a hop; the replaced one is closed through
// begin (issue #6). See server.h.
#include "networkservice/supersede/server.h"

#include "absl/strings/str_cat.h"
#include "networkservice/begin/event_factory.h"

namespace nsm::supersede {

struct Server::Holder {
  std::string id;
  std::weak_ptr<begin::EventFactory> events;
};

namespace {

// The client connection a connection serves; empty when this hop is the client.
std::string ClientKey(const Connection& conn) {
  const auto& segments = conn.path().path_segments();
  if (segments.size() < 2 || conn.path().index() == 0) return {};
  const auto& first = segments[0];
  if (first.id().empty()) return {};
  return absl::StrCat(first.name(), "/", first.id());
}

}  // namespace

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  std::shared_ptr<begin::EventFactory> events = begin::FromContext(ctx);
  if (!events) {
    return absl::FailedPreconditionError("supersede: the chain has no begin before supersede");
  }
  const std::string& id = request.connection().id();
  {
    absl::MutexLock lock(&mu_);
    if (auto it = gone_.find(id); it != gone_.end() && ctx.clock().Now() < it->second.until) {
      return absl::FailedPreconditionError(
          absl::StrCat("connection ", id, " was replaced by connection ", it->second.by,
                       " of the same client connection; request a new connection"));
    }
  }
  auto conn = next.Request(ctx, request);
  if (!conn.ok()) return conn;
  const std::string key = ClientKey(*conn);
  if (key.empty()) return conn;
  std::shared_ptr<begin::EventFactory> old;
  {
    absl::MutexLock lock(&mu_);
    auto& holder = by_client_[key];
    if (holder && holder->id != conn->id()) {
      old = holder->events.lock();
      if (old) {
        ++superseded_;
        RememberLocked(holder->id, conn->id(), ctx.clock().Now());
      }
    }
    if (!holder || holder->id != conn->id()) {
      holder = std::make_shared<Holder>(Holder{conn->id(), events});
    }
    by_id_[conn->id()] = key;
  }
  // Asynchronous: the old connection's events run on its own serializer, never inside this one.
  if (old) old->Close();
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = by_id_.find(conn.id()); it != by_id_.end()) {
      if (auto c = by_client_.find(it->second);
          c != by_client_.end() && c->second->id == conn.id()) {
        by_client_.erase(c);
      }
      by_id_.erase(it);
    }
  }
  return next.Close(ctx, conn);
}

void Server::RememberLocked(const std::string& id, const std::string& by, absl::Time now) {
  while (!gone_order_.empty()) {
    auto it = gone_.find(gone_order_.front());
    const bool stale = it == gone_.end() || it->second.until <= now;
    if (!stale && gone_order_.size() < options_.max_remembered) break;
    if (it != gone_.end()) gone_.erase(it);
    gone_order_.pop_front();
  }
  if (options_.max_remembered == 0) return;
  gone_[id] = Gone{by, now + options_.remember};
  gone_order_.push_back(id);
}

size_t Server::size() const {
  absl::MutexLock lock(&mu_);
  return by_client_.size();
}

uint64_t Server::superseded() const {
  absl::MutexLock lock(&mu_);
  return superseded_;
}

}  // namespace nsm::supersede

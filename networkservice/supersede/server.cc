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
      ++superseded_;
    }
    if (!holder || holder->id != conn->id()) {
      holder = std::make_shared<Holder>(Holder{conn->id(), begin::FromContext(ctx)});
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

size_t Server::size() const {
  absl::MutexLock lock(&mu_);
  return by_client_.size();
}

uint64_t Server::superseded() const {
  absl::MutexLock lock(&mu_);
  return superseded_;
}

}  // namespace nsm::supersede

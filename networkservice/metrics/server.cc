// metrics server element: counts a hop's Requests, refreshes and Closes by result and network
// service, times them, and keeps the active connections gauge (issue #8, docs/metrics.md).
#include "networkservice/metrics/server.h"

#include <chrono>

namespace nsm::metrics {
namespace {

// Latency is measured on the steady clock, not the context's clock: a FakeClock does not move
// while a call runs, and wall time is what an operator wants to see.
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Server::Server(std::shared_ptr<NetworkServiceStats> stats, Options options)
    : stats_(std::move(stats)), options_(options) {}

std::string Server::ForwarderOf(const Connection& conn) const {
  const auto& path = conn.path();
  size_t index = path.index();
  switch (options_.forwarder) {
    case ForwarderLabel::kNone:
      return "";
    case ForwarderLabel::kNextHop:
      ++index;
      break;
    case ForwarderLabel::kThisHop:
      break;
  }
  if (index >= static_cast<size_t>(path.path_segments_size())) return "";
  return path.path_segments(static_cast<int>(index)).name();
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  const std::string id = request.connection().id();
  const std::string service = request.connection().network_service();
  bool refresh;
  {
    absl::MutexLock lock(&mu_);
    refresh = active_.contains(id);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Connection> conn = next.Request(ctx, request);
  stats_->RequestSeconds(refresh).Observe(SecondsSince(start));
  (refresh ? stats_->Refreshes(service, conn.status()) : stats_->Requests(service, conn.status()))
      .Increment();
  if (!conn.ok()) return conn;

  prometheus::Gauge& gauge = stats_->Active(
      conn->network_service(), conn->network_service_endpoint_name(), ForwarderOf(*conn));
  std::unique_ptr<Active> dropped;  // released outside the lock
  {
    absl::MutexLock lock(&mu_);
    auto& slot = active_[conn->id()];
    if (slot == nullptr || &slot->gauge() != &gauge) {
      dropped = std::move(slot);
      slot = std::make_unique<Active>(gauge);
    }
  }
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  const std::string id = conn.id();
  const std::string service = conn.network_service();
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = next.Close(ctx, conn);
  stats_->CloseSeconds().Observe(SecondsSince(start));
  stats_->Closes(service, status).Increment();
  std::unique_ptr<Active> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = active_.find(id); it != active_.end()) {
      dropped = std::move(it->second);
      active_.erase(it);
    }
  }
  return status;
}

size_t Server::size() const {
  absl::MutexLock lock(&mu_);
  return active_.size();
}

}  // namespace nsm::metrics

#include "testing/count_server.h"

namespace nsm::testing {

absl::StatusOr<Connection> CountServer::Request(const Context& ctx, NetworkServiceRequest& request,
                                                const ServerNext& next) {
  {
    absl::MutexLock lock(&mu_);
    ++requests_;
    ++requests_by_id_[request.connection().id()];
    last_ = request.connection();
  }
  return next.Request(ctx, request);
}

absl::Status CountServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  {
    absl::MutexLock lock(&mu_);
    ++closes_;
    ++closes_by_id_[conn.id()];
  }
  return next.Close(ctx, conn);
}

int CountServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int CountServer::closes() const {
  absl::MutexLock lock(&mu_);
  return closes_;
}

size_t CountServer::unique_requests() const {
  absl::MutexLock lock(&mu_);
  return requests_by_id_.size();
}

size_t CountServer::unique_closes() const {
  absl::MutexLock lock(&mu_);
  return closes_by_id_.size();
}

int CountServer::requests(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_by_id_.find(id);
  return it == requests_by_id_.end() ? 0 : it->second;
}

int CountServer::closes(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = closes_by_id_.find(id);
  return it == closes_by_id_.end() ? 0 : it->second;
}

std::optional<Connection> CountServer::last_request() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

}  // namespace nsm::testing

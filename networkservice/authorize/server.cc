#include "networkservice/authorize/server.h"

#include <algorithm>

namespace nsm::authorize {
namespace {

connection::Path LeftSide(const connection::Path& path) {
  connection::Path left;
  left.set_index(path.index());
  const int n = static_cast<int>(
      std::min<int64_t>(int64_t{path.index()} + 1, int64_t{path.path_segments_size()}));
  for (int i = 0; i < n; ++i) *left.add_path_segments() = path.path_segments(i);
  return left;
}

absl::Status Denied() { return absl::PermissionDeniedError(kDeniedMessage); }

}  // namespace

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  if (policies_.empty() || !HasPeer(ctx.peer())) return next.Request(ctx, request);
  const connection::Path left = LeftSide(request.connection().path());
  const Input input{Input::Op::kRequest, &left, &ctx.peer(), false};
  if (!AllAllow(policies_, ctx, input)) return Denied();
  const std::string id = request.connection().id();
  absl::StatusOr<Connection> conn = next.Request(ctx, request);
  if (conn.ok()) {
    absl::MutexLock lock(&mu_);
    owners_.try_emplace(id, OwnerKey(ctx.peer()));
  }
  return conn;
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (policies_.empty() || !HasPeer(ctx.peer())) {
    if (!policies_.empty()) {
      absl::MutexLock lock(&mu_);
      owners_.erase(conn.id());
    }
    return next.Close(ctx, conn);
  }
  bool by_owner = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = owners_.find(conn.id());
    by_owner = it != owners_.end() && it->second == OwnerKey(ctx.peer());
  }
  const connection::Path left = LeftSide(conn.path());
  const Input input{Input::Op::kClose, &left, &ctx.peer(), by_owner};
  if (!AllAllow(policies_, ctx, input)) return Denied();
  {
    absl::MutexLock lock(&mu_);
    owners_.erase(conn.id());
  }
  return next.Close(ctx, conn);
}

size_t Server::owners() const {
  absl::MutexLock lock(&mu_);
  return owners_.size();
}

}  // namespace nsm::authorize

#include "networkservice/mechanisms/server.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/arena.h"

namespace nsm::mechanisms {
namespace {

constexpr char kCannotSupport[] = "cannot support any of the requested mechanism";

}  // namespace

std::string Server::Supported() const {
  std::vector<std::string> types;
  for (const auto& [type, handler] : handlers_) {
    if (handler != nullptr) types.push_back(type);
  }
  return absl::StrCat("[", absl::StrJoin(types, ", "), "]");
}

NetworkServiceServer* Server::Find(const std::string& type) const {
  auto it = handlers_.find(type);
  return it == handlers_.end() ? nullptr : it->second.get();
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  if (request.connection().has_mechanism()) {
    const std::string& type = request.connection().mechanism().type();
    NetworkServiceServer* handler = Find(type);
    if (handler == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unsupported mechanism: connection.mechanism.type \"%s\" is not one of the supported %s",
          type, Supported()));
    }
    return handler->Request(ctx, request, next);
  }
  if (request.mechanism_preferences().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kCannotSupport, ": request.mechanism_preferences is empty; supported ", Supported()));
  }
  std::vector<std::string> offered;
  int last_handled = -1;  // the last preference that has a handler
  for (int i = 0; i < request.mechanism_preferences_size(); ++i) {
    offered.push_back(request.mechanism_preferences(i).type());
    if (Find(offered.back()) != nullptr) last_handled = i;
  }
  std::vector<std::string> failures;
  absl::Status last;
  for (int i = 0; i <= last_handled; ++i) {
    NetworkServiceServer* handler = Find(offered[i]);
    if (handler == nullptr) continue;
    // Each attempt gets the request as it came: a copy (on the request's arena when it has one,
    // so no heap allocation per field), but the last attempt takes the request itself, and if it
    // fails the caller gets it back without a mechanism, as it came.
    std::optional<ScratchLike<NetworkServiceRequest>> copy;
    if (i < last_handled) copy.emplace(request)->CopyFrom(request);
    NetworkServiceRequest& attempt = copy ? **copy : request;
    *attempt.mutable_connection()->mutable_mechanism() = request.mechanism_preferences(i);
    absl::StatusOr<Connection> conn = handler->Request(ctx, attempt, next);
    if (conn.ok()) return conn;
    failures.push_back(absl::StrCat(offered[i], ": ", conn.status().message()));
    last = conn.status();
    if (!copy) request.mutable_connection()->clear_mechanism();
  }
  const std::string lists =
      absl::StrCat("offered [", absl::StrJoin(offered, ", "), "], supported ", Supported());
  if (failures.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kCannotSupport, ": ", lists));
  }
  // The last failure's code and marks (an unreachable next hop) with every failure's message.
  return Reworded(
      last, absl::StrCat(kCannotSupport, ": ", absl::StrJoin(failures, "; "), " (", lists, ")"));
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (!conn.has_mechanism()) return next.Close(ctx, conn);
  const std::string type = conn.mechanism().type();
  if (NetworkServiceServer* handler = Find(type)) return handler->Close(ctx, conn, next);
  // Nothing of ours to release, but the rest of the chain may hold state: close it anyway.
  absl::Status downstream = next.Close(ctx, conn);
  std::string message = absl::StrFormat(
      "unsupported mechanism: connection.mechanism.type \"%s\" is not one of the supported %s",
      type, Supported());
  if (!downstream.ok()) absl::StrAppend(&message, "; downstream close: ", downstream.message());
  return absl::InvalidArgumentError(message);
}

}  // namespace nsm::mechanisms

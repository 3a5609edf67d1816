#include "networkservice/clientinfo/server.h"

#include <cstdlib>

namespace nsm::clientinfo {

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::vector<std::pair<std::string, std::string>> ReadClientInfo(const EnvLookup& env) {
  std::vector<std::pair<std::string, std::string>> info;
  const std::pair<const char*, const char*> names[] = {
      {kNodeNameEnv, kNodeNameLabel},
      {kPodNameEnv, kPodNameLabel},
      {kClusterNameEnv, kClusterNameLabel},
  };
  for (const auto& [var, label] : names) {
    if (std::optional<std::string> value = env ? env(var) : std::nullopt) {
      info.emplace_back(label, *std::move(value));
    }
  }
  return info;
}

void AddClientInfo(const std::vector<std::pair<std::string, std::string>>& info,
                   google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [label, value] : info) labels.insert({label, value});
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  AddClientInfo(info_, *request.mutable_connection()->mutable_labels());
  return next.Request(ctx, request);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

}  // namespace nsm::clientinfo

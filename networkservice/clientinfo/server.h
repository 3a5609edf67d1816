// clientinfo server: adds the nodeName/podName/clusterName labels of this process (NODE_NAME,
// POD_NAME, CLUSTER_NAME) to the request's connection labels, never overwriting (nsmgr.md §4.5).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/networkservice.h"
#include "google/protobuf/map.h"

namespace nsm::clientinfo {

inline constexpr char kNodeNameEnv[] = "NODE_NAME";
inline constexpr char kPodNameEnv[] = "POD_NAME";
inline constexpr char kClusterNameEnv[] = "CLUSTER_NAME";
inline constexpr char kNodeNameLabel[] = "nodeName";
inline constexpr char kPodNameLabel[] = "podName";
inline constexpr char kClusterNameLabel[] = "clusterName";

// Looks up an environment variable: nullopt when unset (set but empty is a value, as in Go).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> ProcessEnv(const std::string& name);

// label -> value for every variable that is set, in the order node, pod, cluster.
std::vector<std::pair<std::string, std::string>> ReadClientInfo(const EnvLookup& env);

// Adds each label that `labels` does not have yet.
void AddClientInfo(const std::vector<std::pair<std::string, std::string>>& info,
                   google::protobuf::Map<std::string, std::string>& labels);

// Reads the environment once, at construction. Close passes through.
class Server : public NetworkServiceServer {
 public:
  explicit Server(const EnvLookup& env = ProcessEnv) : info_(ReadClientInfo(env)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  std::vector<std::pair<std::string, std::string>> info_;
};

inline std::shared_ptr<Server> NewServer(const EnvLookup& env = ProcessEnv) {
  return std::make_shared<Server>(env);
}

}  // namespace nsm::clientinfo

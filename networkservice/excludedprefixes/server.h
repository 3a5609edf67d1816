// excludedprefixes server: appends the node's excluded-prefixes file to each request's
// ip_context.excluded_prefixes, reloading the file when it changes (nsmgr.md §4.6).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/networkservice.h"

namespace nsm::excludedprefixes {

inline constexpr char kDefaultConfigPath[] =
    "/var/lib/networkservicemesh/config/excluded_prefixes.yaml";

struct Options {
  std::string config_path = kDefaultConfigPath;
  // The file is re-read this often on `clock` (the chain clock); a changed content is parsed.
  absl::Duration poll_interval = absl::Seconds(1);
  std::shared_ptr<Clock> clock = RealClock();
};

// The file is read once at construction and then polled. A missing file means no prefixes; a file
// that does not parse (YAML or CIDR) keeps the previous prefixes. The pool is normalised
// (prefix_pool.h). Request: ip_context.excluded_prefixes = existing ++ pool without duplicates
// (first occurrence kept). Close passes through. Destroying the server stops the polling.
class Server : public NetworkServiceServer {
 public:
  explicit Server(Options options = {});
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // The current (normalised) pool.
  std::vector<std::string> prefixes() const;
  // OK, or why the last changed file content was not taken (names the file).
  absl::Status last_error() const;
  // Times the pool was replaced (file appeared, changed or disappeared).
  uint64_t reloads() const;

 private:
  class State;
  std::shared_ptr<State> state_;
};

inline std::shared_ptr<Server> NewServer(Options options = {}) {
  return std::make_shared<Server>(std::move(options));
}

}  // namespace nsm::excludedprefixes

// A server element for sandbox tests that counts the Requests and Closes reaching it, in total and
// per connection id (the "counter" of sandbox.md §7).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"

namespace nsm::testing {

// Counts before calling next, whatever next answers. Thread-safe.
class CountServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  int requests() const;
  int closes() const;
  // Distinct connection ids seen.
  size_t unique_requests() const;
  size_t unique_closes() const;
  int requests(const std::string& id) const;
  int closes(const std::string& id) const;
  // The connection of the last Request, as it reached this element.
  std::optional<Connection> last_request() const;

 private:
  mutable absl::Mutex mu_;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int closes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> requests_by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> closes_by_id_ ABSL_GUARDED_BY(mu_);
  std::optional<Connection> last_ ABSL_GUARDED_BY(mu_);
};

inline std::shared_ptr<CountServer> NewCountServer() { return std::make_shared<CountServer>(); }

}  // namespace nsm::testing

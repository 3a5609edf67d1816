// forwarder_select policies: the order in which qualifying forwarders are tried, registration
// order (as NSM v1.1.1) or least connections (nsmgr.md §5 step 3.5; DESIGN.md forwarder_select/).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "registry.pb.h"

namespace nsm::forwarder_select {

// Held by a connection while it uses (or is trying) a forwarder; destroying it ends the use.
class Lease {
 public:
  virtual ~Lease() = default;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // The qualifying forwarders, alive and in registration order, in the order to try them.
  virtual std::vector<::registry::NetworkServiceEndpoint> Order(
      std::vector<::registry::NetworkServiceEndpoint> forwarders) const = 0;
  // A connection starts using `forwarder`; it keeps the lease until it is closed, moves to another
  // forwarder or the attempt fails. May return null when the policy keeps no count.
  virtual std::unique_ptr<Lease> Acquire(const std::string& forwarder) = 0;
};

// Registration order, no state (NSM's behaviour).
class RegistrationOrder : public Policy {
 public:
  std::vector<::registry::NetworkServiceEndpoint> Order(
      std::vector<::registry::NetworkServiceEndpoint> forwarders) const override {
    return forwarders;
  }
  std::unique_ptr<Lease> Acquire(const std::string&) override { return nullptr; }
};

// Fewest connections held through this element first; ties keep registration order. Attempts in
// flight count too, so concurrent first requests spread out (approximately: ordering and
// acquiring are not one step). Counts live as long as their leases; a forwarder without leases
// takes no memory.
class LeastConnections : public Policy {
 public:
  LeastConnections();
  std::vector<::registry::NetworkServiceEndpoint> Order(
      std::vector<::registry::NetworkServiceEndpoint> forwarders) const override;
  std::unique_ptr<Lease> Acquire(const std::string& forwarder) override;

  size_t connections(const std::string& forwarder) const;

 private:
  struct Counts {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, size_t> by_forwarder ABSL_GUARDED_BY(mu);
  };
  class CountedLease;
  std::shared_ptr<Counts> counts_;  // shared with the leases, which may outlive the policy
};

inline std::shared_ptr<Policy> NewRegistrationOrder() {
  return std::make_shared<RegistrationOrder>();
}
inline std::shared_ptr<LeastConnections> NewLeastConnections() {
  return std::make_shared<LeastConnections>();
}

}  // namespace nsm::forwarder_select

// Point-to-point IPAM of the reference NSE: each connection gets an address pair from the NSE's
// prefixes (the NSE's side in dst_ip_addrs, the client's in src_ip_addrs, /32 or /128, with the
// routes to each other), lowest free first, skipping excluded prefixes, released on Close (as
// sdk point2pointipam, with its v1.1.1 leaks fixed; cmd-nse-icmp-responder NSM_CIDR_PREFIX).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connectioncontext.pb.h"
#include "core/networkservice.h"

namespace nsm::nse {

// An IPv4 or IPv6 prefix as a range of addresses.
struct Prefix {
  bool v6 = false;
  absl::uint128 first = 0;
  absl::uint128 last = 0;
  int bits = 0;

  // "169.254.0.0/16", "fd00::/64". Host bits are ignored. InvalidArgument naming the text.
  static absl::StatusOr<Prefix> Parse(const std::string& cidr);
  bool Contains(bool v6_address, absl::uint128 address) const {
    return v6 == v6_address && first <= address && address <= last;
  }
  // "a.b.c.d/32" or "x::y/128" for one address of this family.
  std::string Host(absl::uint128 address) const;
  std::string ToString() const;
};

// The addresses of one prefix in use. Not thread-safe.
class IpPool {
 public:
  explicit IpPool(Prefix prefix) : prefix_(prefix) {}
  // The lowest address that is neither in use nor in an `excluded` prefix of the same family; it
  // is in use afterwards. nullopt when there is none.
  std::optional<absl::uint128> Take(const std::vector<Prefix>& excluded);
  // Takes `address` if it is in the prefix, free and not excluded.
  bool TakeExactly(absl::uint128 address, const std::vector<Prefix>& excluded);
  void Release(absl::uint128 address) { used_.erase(address); }
  size_t in_use() const { return used_.size(); }
  const Prefix& prefix() const { return prefix_; }

 private:
  Prefix prefix_;
  absl::btree_set<absl::uint128> used_;
};

// Request: a connection seen before keeps its pair, unless one of its addresses now lies in an
// excluded prefix (then it gets a new pair). A new connection first tries to recover a pair
// already in its ip_context (this NSE restarted: the addresses are free), else takes the two
// lowest free addresses of the first prefix that has two (NSE side first). The pair and the
// routes are added to the connection's ip_context (idempotently); host addresses and host routes
// of these prefixes that are not the pair are removed (left by a previous path of a healed
// connection, whose pair the old connection still holds until it ends: keeping them would hand
// the client an address another connection may get later). A failed first Request releases the
// pair.
// Bounded: at most `max_connections` pairs (RESOURCE_EXHAUSTED beyond, as when the prefixes are
// used up). Close releases the pair and forgets the connection.
class Point2PointIpam : public NetworkServiceServer {
 public:
  // InvalidArgument naming a prefix that is not a CIDR, or when there is none.
  static absl::StatusOr<std::shared_ptr<Point2PointIpam>> Create(
      const std::vector<std::string>& prefixes, size_t max_connections = 65536);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // Connections holding a pair (for tests and metrics).
  size_t connections() const;

 private:
  struct Lease {
    size_t pool;
    absl::uint128 dst, src;
    std::string dst_text, src_text;  // with /32 or /128
  };
  Point2PointIpam(std::vector<IpPool> pools, size_t max_connections)
      : pools_(std::move(pools)), max_connections_(max_connections) {}
  void ReleaseLocked(const Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<Lease> RecoverLocked(const ::connectioncontext::IPContext& ip,
                                     const std::vector<Prefix>& excluded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True for a host address (or host route) of one of the prefixes that is not `lease`'s.
  bool StaleLocked(const std::string& text, const Lease& lease) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<IpPool> pools_ ABSL_GUARDED_BY(mu_);
  const size_t max_connections_;
  absl::flat_hash_map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsm::nse

// authorize policies: what a policy sees of a Request/Close, the policy interface, and the
// built-in policies (api.md §7.2 "Default authorization policies", nsmgr.md §4.2, §13).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/context.h"
#include "core/networkservice.h"

namespace nsm::authorize {

// The answer every denial gets (PERMISSION_DENIED), as NSM peers send it.
inline constexpr char kDeniedMessage[] = "no sufficient privileges";

struct Input {
  enum class Op { kRequest, kClose };
  Op op = Op::kRequest;
  // Server: the left side of the path, segments [0 .. index] with the same index. Client: the
  // whole path the server returned.
  const connection::Path* path = nullptr;
  // Server: the calling peer. Client: empty (the transport does not report the server's peer).
  const Peer* peer = nullptr;
  // Close by the party that established the connection: on the server the peer whose Request
  // created it (begin's timer events carry that peer too), on the client always. Expiry policies
  // must let such a Close through, so an owner can always tear down what it owns.
  bool by_owner = false;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual absl::string_view name() const = 0;
  virtual bool Allows(const Context& ctx, const Input& input) const = 0;
};

using Policies = std::vector<std::shared_ptr<const Policy>>;

// No policies: everything is allowed (NSM's authorize.Any(), the endpoint default).
inline Policies Any() { return {}; }

// Every segment of the input path whose `expires` is set lies after now on ctx.clock(). A Close
// by the owner is always allowed.
std::shared_ptr<const Policy> TokensNotExpired();

// A policy from a function (custom rules and tests).
std::shared_ptr<const Policy> FromFunction(
    std::string name, std::function<bool(const Context&, const Input&)> allows);

// True when every policy allows `input`; an empty list allows everything.
bool AllAllow(const Policies& policies, const Context& ctx, const Input& input);

// A peer is present when the call came over the network (or is an event of such a call).
bool HasPeer(const Peer& peer);
// The identity that owns a connection: the authenticated identities, else the address.
std::string OwnerKey(const Peer& peer);

}  // namespace nsm::authorize

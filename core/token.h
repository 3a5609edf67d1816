// Path-segment tokens: the generator interface every hop signs its segment with, and the explicit
// insecure generator used until SPIFFE JWTs land (api.md §7.2, nsmgr.md §4.1).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/context.h"

namespace nsm {

// A token for one path segment and the time it stops being valid. Tokens are credentials: never
// log them.
struct Token {
  std::string token;
  absl::Time expires;
};

// Issues the token a hop writes into its own path segment (and sends as nsm-client-token).
// `peer` is the party the token is for: the calling peer on the server side, the peer about to be
// called (or an empty Peer when unknown) on the client side. Must be thread-safe.
class TokenGenerator {
 public:
  virtual ~TokenGenerator() = default;
  virtual absl::StatusOr<Token> Generate(const Peer& peer) const = 0;
};

// NSM_MAX_TOKEN_LIFETIME's default (binaries.md).
inline constexpr absl::Duration kDefaultMaxTokenLifetime = absl::Minutes(10);

// Unsigned tokens: the text only names the hop ("insecure:<name>"), so any peer can forge one.
// Expiry is now + max_lifetime on `clock` (the chain clock). Choosing it is always explicit.
class InsecureTokenGenerator final : public TokenGenerator {
 public:
  InsecureTokenGenerator(std::string name, absl::Duration max_lifetime,
                         std::shared_ptr<Clock> clock = RealClock());

  absl::StatusOr<Token> Generate(const Peer& peer) const override;

  const std::string& name() const { return name_; }
  absl::Duration max_lifetime() const { return max_lifetime_; }

 private:
  std::string name_;
  absl::Duration max_lifetime_;
  std::shared_ptr<Clock> clock_;
};

std::shared_ptr<InsecureTokenGenerator> NewInsecureTokenGenerator(
    std::string name, absl::Duration max_lifetime = kDefaultMaxTokenLifetime,
    std::shared_ptr<Clock> clock = RealClock());

}  // namespace nsm

#include "core/token.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nsm {

InsecureTokenGenerator::InsecureTokenGenerator(std::string name, absl::Duration max_lifetime,
                                               std::shared_ptr<Clock> clock)
    : name_(std::move(name)), max_lifetime_(max_lifetime), clock_(std::move(clock)) {}

absl::StatusOr<Token> InsecureTokenGenerator::Generate(const Peer& /*peer*/) const {
  if (max_lifetime_ <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(
        absl::StrCat("insecure token generator ", name_, ": max token lifetime ",
                     absl::FormatDuration(max_lifetime_), " is not positive"));
  }
  return Token{absl::StrCat("insecure:", name_), clock_->Now() + max_lifetime_};
}

std::shared_ptr<InsecureTokenGenerator> NewInsecureTokenGenerator(std::string name,
                                                                  absl::Duration max_lifetime,
                                                                  std::shared_ptr<Clock> clock) {
  return std::make_shared<InsecureTokenGenerator>(std::move(name), max_lifetime, std::move(clock));
}

}  // namespace nsm

// excludedprefixes' pool normalisation: overlapping or adjacent prefixes merged into the fewest
// CIDRs, IPv4 first then IPv6, each family ascending, as NSM's ippool.PrefixPool (nsmgr.md §4.6).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nsm::excludedprefixes {

// InvalidArgument naming the first prefix that is not a valid CIDR. Host bits are dropped
// ("10.0.0.7/8" -> "10.0.0.0/8").
absl::StatusOr<std::vector<std::string>> NormalizePrefixes(
    const std::vector<std::string>& prefixes);

}  // namespace nsm::excludedprefixes

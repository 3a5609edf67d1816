// Find matching of a query template against stored NS/NSE objects: exact names by default, no
// regular expressions (registry.md §2 with the fix of §7.1; api.md §6.3).
#pragma once

#include "registry.pb.h"

namespace nsm::reg::match {

struct Options {
  // v1.1.1 compatibility: a query name matches every stored name that contains it.
  bool substring_names = false;
};

// True when stored `s` matches query template `q` (registry.md §2).
bool Matches(const ::registry::NetworkService& q, const ::registry::NetworkService& s,
             const Options& options = {});
bool Matches(const ::registry::NetworkServiceEndpoint& q,
             const ::registry::NetworkServiceEndpoint& s, const Options& options = {});

}  // namespace nsm::reg::match

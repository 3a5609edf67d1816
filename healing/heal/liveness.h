// DataPathChecker: heal asks it before tearing a path down, so a connection whose data plane still
// works is retried on the same path instead of reselected (nsmgr.md §7.2, §13.7; DESIGN.md §7).
#pragma once

#include <functional>
#include <memory>

#include "core/context.h"
#include "core/networkservice.h"

namespace nsm::healing::heal {

enum class Liveness {
  kAlive,    // traffic flows: keep the path, only the control plane needs repair
  kDead,     // the data path is broken: reselect
  kUnknown,  // no data-plane knowledge: behave as NSM does (reselect)
};

class DataPathChecker {
 public:
  virtual ~DataPathChecker() = default;
  // Runs on begin's executor between two heal attempts: keep it short (a cached probe result, or
  // a probe bounded by ctx's deadline).
  virtual Liveness Check(const Context& ctx, const Connection& conn) = 0;
};

// A checker from a function (tests, simple probes).
std::shared_ptr<DataPathChecker> CheckerFromFunction(
    std::function<Liveness(const Context&, const Connection&)> fn);

}  // namespace nsm::healing::heal

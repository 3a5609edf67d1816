// nsm-bench heal: time from SIGKILLing the forwarder in use (then an NSE) to each client holding
// a working connection again, over many connections at once (issue #6 "Speed", issue #7).
#pragma once

#include "absl/status/status.h"
#include "tools/bench/report.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

struct HealSettings {
  int connections = 100;  // held by one NSC chain with refresh and heal
  // Workers of that chain's pool: it stands for the many NSC processes whose connections a node
  // holds, each healing its own at once, so its own pool must not queue the heals.
  int nsc_workers = 16;
  absl::Duration wait = absl::Seconds(60);  // for all to heal after a kill
};

absl::Status RunHealBench(const Env& env, const HealSettings& settings, Report& report);

}  // namespace nsm::bench

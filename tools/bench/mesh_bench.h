// nsm-bench mesh: registry-memory, nsmgr, forwarder and NSE processes on unix sockets under
// in-process NSM client chains doing Request/Close; held connections; ratios to the baseline.
#pragma once

#include "absl/status/status.h"
#include "tools/bench/load.h"
#include "tools/bench/report.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

struct MeshSettings {
  LoadSettings load;
  std::vector<int> holds = {1000};              // held-connection counts whose RSS is measured
  absl::Duration hold_idle = absl::Seconds(3);  // CPU sampled while holding, nothing else running
  bool baseline = true;                         // also run the baseline and print ratios
};

absl::Status RunMeshBench(const Env& env, const MeshSettings& settings, Report& report);

}  // namespace nsm::bench

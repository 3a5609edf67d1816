// nsm-bench mesh: the local topology (registry-memory, nsmgr, forwarder, NSE) as processes on
// unix sockets, driven by in-process NSM client chains doing Request/Close round trips; then
// held connections for memory, and the baseline chain for ratios.
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

// nsm-bench mesh: registry-memory, nsmgr(s), forwarder(s) and NSE processes under in-process NSM
// client chains doing Request/Close; held connections and their refresh; ratios to the baseline.
#pragma once

#include "absl/status/status.h"
#include "tools/bench/load.h"
#include "tools/bench/report.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

// local: registry-memory, nsmgr, forwarder, nse on one node (unix sockets).
// remote: registry-memory; node 1 with nsmgr-1 and forwarder-1 (the clients' side); node 2 with
// nsmgr-2, forwarder-2 and the nse; the nsmgrs reach each other over loopback tcp and the
// forwarders negotiate VXLAN: nsc -> nsmgr-1 -> forwarder-1 -> nsmgr-2 -> forwarder-2 -> nse.
enum class MeshTopology { kLocal, kRemote };

struct MeshSettings {
  LoadSettings load;
  std::vector<int> holds = {1000};              // held-connection counts whose RSS is measured
  absl::Duration hold_idle = absl::Seconds(3);  // CPU sampled while holding, nothing else running
  bool baseline = true;                         // also run the baseline and print ratios
  // With the baseline, the load alternates between the mesh and the baseline in this many slices
  // of each (ABBA order), the load's duration or count split between them.
  int slices = 4;
  // Held connections are opened by client chains with the refresh element and a client token
  // lifetime of 5 refresh periods (the NSC refreshes at 0.2 of its token's remaining life), then
  // their refreshes are counted and the processes' CPU sampled for `refresh_cycles` periods.
  bool refresh = true;
  // 0: the expected opening time (held count / the load phase's round trips/s) + hold_idle + 1 s,
  // at least min_refresh_period, so no refresh starts before the idle sample ends.
  absl::Duration refresh_period = absl::ZeroDuration();
  absl::Duration min_refresh_period = absl::Seconds(2);
  double refresh_cycles = 1;
};

absl::Status RunMeshBench(const Env& env, const MeshSettings& settings, MeshTopology topology,
                          Report& report);

}  // namespace nsm::bench

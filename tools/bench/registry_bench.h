// nsm-bench registry: registry-memory as a process on a unix socket, driven over gRPC: Register/s
// sequential and concurrent, Find by network service with many NSEs stored, watch fan-out, RSS.
#pragma once

#include "absl/status/status.h"
#include "tools/bench/report.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

struct RegistrySettings {
  int nses = 10000;           // NSEs registered in all (half sequentially, half concurrently)
  int concurrency = 8;        // clients of the concurrent Register and Find phases
  int nses_per_service = 10;  // each network service is offered by this many NSEs
  int finds = 1000;           // Find calls of the latency phase
  int watchers = 1000;        // watch streams of the fan-out phase
  int watch_rounds = 5;       // updates whose fan-out is timed
};

absl::Status RunRegistryBench(const Env& env, const RegistrySettings& settings, Report& report);

}  // namespace nsm::bench

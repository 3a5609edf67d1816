// The load driver of nsm-bench: N worker threads doing Request/Close round trips for a count or
// a duration after a warm-up, with per-call latencies and the CPU time of the processes involved.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/bench/report.h"
#include "tools/bench/stats.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

struct LoadSettings {
  int workers = 8;
  int64_t count = 0;                            // round trips in all; 0: run for `duration`
  absl::Duration duration = absl::Seconds(10);  // when count is 0
  absl::Duration warmup = absl::Seconds(1);     // not measured
};

// One round trip of `worker` (its i-th): fills the Request and Close latencies. An error counts
// the round trip as failed (its latencies are dropped).
using RoundTripFn = std::function<absl::Status(int worker, int64_t i, absl::Duration* request,
                                               absl::Duration* close)>;

struct ProcessCpu {
  std::string name;
  pid_t pid = 0;
  double cpu_s = 0;          // during the measured phase
  int64_t ctx_switches = 0;  // during the measured phase
};

struct LoadResult {
  int64_t round_trips = 0;
  int64_t errors = 0;
  std::string first_error;
  absl::Duration elapsed;
  LatencySummary request, close, round_trip;
  std::vector<ProcessCpu> cpu;  // the processes given, then "nsm-bench (clients)"
  // The latencies summarized above (us), kept so that slices of one load can be added up.
  std::vector<double> request_us, close_us, round_trip_us;

  double per_second() const {
    return elapsed > absl::ZeroDuration() ? round_trips / absl::ToDoubleSeconds(elapsed) : 0;
  }
};

// Runs the load; `processes` are sampled for CPU time before and after the measured phase.
LoadResult RunLoad(const Env& env, const LoadSettings& settings, const std::string& label,
                   const std::vector<std::pair<std::string, pid_t>>& processes, RoundTripFn fn);

// Adds `slice`, a later part of the same load on the same processes, to `total` (empty at first):
// round trips, errors, time, CPU per process, and the latencies, summarized again.
void Accumulate(LoadResult& total, const LoadResult& slice);

// Adds round trips/s, latencies, CPU per 1,000 round trips and errors to `section`.
void ReportLoad(Report& report, const std::string& section, const LoadSettings& settings,
                const LoadResult& r);

}  // namespace nsm::bench

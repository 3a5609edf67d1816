// Latency samples and their percentiles, and per-process figures read from /proc (RSS, CPU time)
// for nsm-bench; no timing is asserted anywhere, these only describe what happened.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nsm::bench {

// Percentiles of a set of durations, in microseconds.
struct LatencySummary {
  size_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

// Collects durations from many threads (each worker keeps its own vector and merges once).
class LatencyRecorder {
 public:
  void Merge(const std::vector<absl::Duration>& samples);
  LatencySummary Summary() const;
  size_t count() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<double> us_ ABSL_GUARDED_BY(mu_);
};

// Nearest-rank percentile of sorted values (q in [0, 1]); 0 for an empty set.
double Percentile(const std::vector<double>& sorted, double q);
LatencySummary Summarize(std::vector<double> us);

// One reading of /proc/<pid>: resident set size and user+system CPU time of all its threads.
struct ProcSample {
  bool ok = false;
  int64_t rss_kb = 0;        // VmRSS
  int64_t anon_kb = 0;       // RssAnon: the process's own pages (VmRSS less shared library files)
  int64_t hwm_kb = 0;        // VmHWM (peak RSS)
  double cpu_s = 0;          // utime + stime
  int threads = 0;           // Threads
  int64_t ctx_switches = 0;  // voluntary + involuntary, summed over the live threads
};
ProcSample ReadProc(pid_t pid);
// ReadProc of this process, with context switches of its exited threads counted too (getrusage).
ProcSample ReadSelf();

// The machine the figures come from.
struct MachineInfo {
  int nproc = 0;
  std::string cpu_model;
  int64_t mem_total_kb = 0;
  double loadavg_1m = 0;  // when the run started: other work on the machine skews the figures
  std::string kernel;
};
MachineInfo ReadMachine();

}  // namespace nsm::bench

#include "tools/bench/stats.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nsm::bench {

void LatencyRecorder::Merge(const std::vector<absl::Duration>& samples) {
  absl::MutexLock lock(&mu_);
  us_.reserve(us_.size() + samples.size());
  for (absl::Duration d : samples) us_.push_back(absl::ToDoubleMicroseconds(d));
}

size_t LatencyRecorder::count() const {
  absl::MutexLock lock(&mu_);
  return us_.size();
}

LatencySummary LatencyRecorder::Summary() const {
  absl::MutexLock lock(&mu_);
  return Summarize(us_);
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencySummary Summarize(std::vector<double> us) {
  LatencySummary s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  s.count = us.size();
  s.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  s.p50_us = Percentile(us, 0.50);
  s.p90_us = Percentile(us, 0.90);
  s.p99_us = Percentile(us, 0.99);
  s.max_us = us.back();
  return s;
}

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "VmRSS:     1234 kB" -> 1234.
int64_t StatusField(const std::string& status, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    if (!absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t v = 0;
    if (absl::SimpleAtoi(line, &v)) return v;
  }
  return 0;
}

}  // namespace

ProcSample ReadProc(pid_t pid) {
  ProcSample s;
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string status = Slurp(base + "/status");
  const std::string stat = Slurp(base + "/stat");
  if (status.empty() || stat.empty()) return s;
  s.rss_kb = StatusField(status, "VmRSS");
  s.anon_kb = StatusField(status, "RssAnon");
  s.hwm_kb = StatusField(status, "VmHWM");
  s.threads = static_cast<int>(StatusField(status, "Threads"));
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(base + "/task", ec)) {
    const std::string ts = Slurp(task.path().string() + "/status");
    s.ctx_switches +=
        StatusField(ts, "voluntary_ctxt_switches") + StatusField(ts, "nonvoluntary_ctxt_switches");
  }
  // Fields after the command name (which may contain spaces) start with the state (field 3);
  // utime and stime are fields 14 and 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return s;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  if (f.size() < 13) return s;
  int64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime)) return s;
  s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  s.ok = true;
  return s;
}

ProcSample ReadSelf() {
  ProcSample s = ReadProc(getpid());
  rusage u = {};
  if (getrusage(RUSAGE_SELF, &u) == 0) s.ctx_switches = u.ru_nvcsw + u.ru_nivcsw;
  return s;
}

MachineInfo ReadMachine() {
  MachineInfo m;
  m.nproc = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  for (absl::string_view line : absl::StrSplit(Slurp("/proc/cpuinfo"), '\n')) {
    if (absl::ConsumePrefix(&line, "model name")) {
      const size_t colon = line.find(':');
      if (colon != absl::string_view::npos) {
        m.cpu_model = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
      break;
    }
  }
  m.mem_total_kb = StatusField(Slurp("/proc/meminfo"), "MemTotal");
  const std::string loadavg = Slurp("/proc/loadavg");
  std::vector<absl::string_view> load = absl::StrSplit(loadavg, ' ');
  if (!load.empty()) (void)absl::SimpleAtod(load[0], &m.loadavg_1m);
  utsname u;
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release;
  return m;
}

}  // namespace nsm::bench

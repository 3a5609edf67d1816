#include "tools/bench/load.h"

#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tools/bench/progress.h"

namespace nsm::bench {

LoadResult RunLoad(const Env& env, const LoadSettings& s, const std::string& label,
                   const std::vector<std::pair<std::string, pid_t>>& processes, RoundTripFn fn) {
  const int workers = std::max(1, s.workers);
  std::atomic<int64_t> next{0};      // round trips handed out (count mode)
  std::atomic<int64_t> finished{0};  // measured round trips done
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<double> req_us, close_us, rt_us;
  LoadResult r;

  auto worker = [&](int w) {
    std::vector<double> req, cls, rt;
    int64_t i = 0;
    int64_t errors = 0;
    std::string first_error;
    // Warm-up: channels connect, caches fill, pools grow; nothing recorded.
    while (!measuring.load() && !stop.load()) {
      absl::Duration a, b;
      (void)fn(w, i++, &a, &b);
    }
    while (!stop.load()) {
      if (s.count > 0 && next.fetch_add(1) >= s.count) break;
      absl::Duration a, b;
      absl::Status st = fn(w, i++, &a, &b);
      if (st.ok()) {
        req.push_back(absl::ToDoubleMicroseconds(a));
        cls.push_back(absl::ToDoubleMicroseconds(b));
        rt.push_back(absl::ToDoubleMicroseconds(a + b));
      } else if (errors++ == 0) {
        first_error = std::string(st.message());
      }
      finished.fetch_add(1);
    }
    absl::MutexLock lock(&mu);
    req_us.insert(req_us.end(), req.begin(), req.end());
    close_us.insert(close_us.end(), cls.begin(), cls.end());
    rt_us.insert(rt_us.end(), rt.begin(), rt.end());
    r.errors += errors;
    if (r.first_error.empty()) r.first_error = first_error;
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker, w);
  absl::SleepFor(s.warmup);

  std::vector<ProcSample> before;
  for (const auto& p : processes) before.push_back(ReadProc(p.second));
  const ProcSample self_before = ReadSelf();
  const absl::Time t0 = absl::Now();
  measuring.store(true);
  {
    Progress bar(
        env.progress, label,
        [&] {
          if (s.count > 0) return finished.load() / double(s.count);
          return absl::ToDoubleSeconds(absl::Now() - t0) / absl::ToDoubleSeconds(s.duration);
        },
        [&] {
          const double secs = absl::ToDoubleSeconds(absl::Now() - t0);
          return absl::StrFormat("%.0f round trips/s", secs > 0 ? finished.load() / secs : 0.0);
        });
    if (s.count > 0) {
      // Bounded by a generous per-round-trip allowance so a wedged topology cannot hang here.
      const absl::Time end = t0 + absl::Seconds(60) + absl::Milliseconds(100) * s.count;
      while (finished.load() < s.count && absl::Now() < end) absl::SleepFor(absl::Milliseconds(5));
    } else {
      absl::SleepFor(s.duration);
    }
    stop.store(true);
    for (auto& t : threads) t.join();
  }
  r.elapsed = absl::Now() - t0;
  for (size_t k = 0; k < processes.size(); ++k) {
    const ProcSample after = ReadProc(processes[k].second);
    r.cpu.push_back({processes[k].first, processes[k].second, after.cpu_s - before[k].cpu_s,
                     after.ctx_switches - before[k].ctx_switches});
  }
  const ProcSample self_after = ReadSelf();
  r.cpu.push_back({"nsm-bench (clients)", getpid(), self_after.cpu_s - self_before.cpu_s,
                   self_after.ctx_switches - self_before.ctx_switches});
  r.round_trips = static_cast<int64_t>(rt_us.size());
  r.request = Summarize(req_us);
  r.close = Summarize(close_us);
  r.round_trip = Summarize(rt_us);
  r.request_us = std::move(req_us);
  r.close_us = std::move(close_us);
  r.round_trip_us = std::move(rt_us);
  return r;
}

void Accumulate(LoadResult& total, const LoadResult& slice) {
  const bool first = total.cpu.empty();
  total.round_trips += slice.round_trips;
  total.errors += slice.errors;
  if (total.first_error.empty()) total.first_error = slice.first_error;
  total.elapsed += slice.elapsed;
  if (first) {
    total.cpu = slice.cpu;
  } else {
    for (size_t k = 0; k < total.cpu.size() && k < slice.cpu.size(); ++k) {
      total.cpu[k].cpu_s += slice.cpu[k].cpu_s;
      total.cpu[k].ctx_switches += slice.cpu[k].ctx_switches;
    }
  }
  total.request_us.insert(total.request_us.end(), slice.request_us.begin(), slice.request_us.end());
  total.close_us.insert(total.close_us.end(), slice.close_us.begin(), slice.close_us.end());
  total.round_trip_us.insert(total.round_trip_us.end(), slice.round_trip_us.begin(),
                             slice.round_trip_us.end());
  total.request = Summarize(total.request_us);
  total.close = Summarize(total.close_us);
  total.round_trip = Summarize(total.round_trip_us);
}

void ReportLoad(Report& report, const std::string& section, const LoadSettings& s,
                const LoadResult& r) {
  report.Add(section, "round_trips_per_s", r.per_second(), "/s",
             absl::StrCat("Request+Close round trips/s, ", s.workers, " workers"), Better::kHigher);
  report.AddLatency(section, "request", "Request latency", r.request);
  report.AddLatency(section, "close", "Close latency", r.close);
  for (const auto& p : r.cpu) {
    if (r.round_trips == 0) break;
    std::string key = p.name.substr(0, p.name.find(' '));
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    report.Add(section, "cpu_s_per_1000_rt_" + key, p.cpu_s * 1000.0 / r.round_trips, "s",
               absl::StrCat("CPU per 1,000 round trips: ", p.name), Better::kLower);
  }
  for (const auto& p : r.cpu) {
    if (r.round_trips == 0) break;
    std::string key = p.name.substr(0, p.name.find(' '));
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    report.Add(section, "ctx_switches_per_rt_" + key,
               static_cast<double>(p.ctx_switches) / r.round_trips, "",
               absl::StrCat("context switches per round trip: ", p.name), Better::kLower);
  }
  report.Add(section, "errors", static_cast<double>(r.errors), "", "failed round trips",
             Better::kLower);
  if (r.errors > 0) report.Note(section, "first error: " + r.first_error);
}

}  // namespace nsm::bench

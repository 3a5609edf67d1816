#include "tools/bench/registry_bench.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "registry.grpc.pb.h"
#include "tools/bench/progress.h"
#include "tools/bench/stats.h"

namespace nsm::bench {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using Stub = ::registry::NetworkServiceEndpointRegistry::Stub;

constexpr char kSection[] = "registry";
constexpr char kWatchService[] = "svc-watch";

std::string ServiceOf(int i, int per_service) { return absl::StrCat("svc-", i / per_service); }

// An NSE as the reference NSE registers it: one service with labels, a tcp URL.
NSE MakeNse(int i, int per_service) {
  NSE nse;
  nse.set_name(absl::StrCat("nse-", i));
  const std::string svc = ServiceOf(i, per_service);
  nse.add_network_service_names(svc);
  auto& labels = *(*nse.mutable_network_service_labels())[svc].mutable_labels();
  labels["app"] = "bench";
  labels["nodeName"] = absl::StrCat("node-", i % 16);
  nse.set_url(absl::StrFormat("tcp://10.%d.%d.%d:5001", (i >> 16) & 255, (i >> 8) & 255, i & 255));
  return nse;
}

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

struct PhaseResult {
  absl::Duration elapsed;
  std::vector<absl::Duration> latencies;
  int errors = 0;
  std::string first_error;
};

// Registers NSEs [from, to) on `stub`, one after the other.
void RegisterRange(Stub& stub, int from, int to, int per_service, PhaseResult& r,
                   std::atomic<int>& done) {
  r.latencies.reserve(static_cast<size_t>(to - from));
  for (int i = from; i < to; ++i) {
    NSE nse = MakeNse(i, per_service), out;
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(absl::Seconds(15)));
    const absl::Time t0 = absl::Now();
    grpc::Status s = stub.Register(&ctx, nse, &out);
    r.latencies.push_back(absl::Now() - t0);
    if (!s.ok() && r.errors++ == 0) r.first_error = s.error_message();
    done.fetch_add(1);
  }
}

// A non-watch Find: the number of NSEs received, or -1 on error.
int FindOnce(Stub& stub, const NSEQuery& q, std::string* error) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(absl::Seconds(15)));
  auto reader = stub.Find(&ctx, q);
  NSEResponse r;
  int n = 0;
  while (reader->Read(&r)) ++n;
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    *error = s.error_message();
    return -1;
  }
  return n;
}

// Watch streams on the callback API: each counts what it received and when the latest arrived.
class WatchSet {
 public:
  class Watcher : public grpc::ClientReadReactor<NSEResponse> {
   public:
    Watcher(WatchSet* set, size_t index, Stub* stub, const NSEQuery* query)
        : set_(set), index_(index) {
      stub->async()->Find(&ctx_, query, this);
      StartRead(&response_);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // OnDone follows
      set_->Arrived(index_);
      StartRead(&response_);
    }
    void OnDone(const grpc::Status& s) override { set_->Done(s); }
    void Cancel() { ctx_.TryCancel(); }

   private:
    WatchSet* set_;
    size_t index_;
    grpc::ClientContext ctx_;
    NSEResponse response_;
  };

  WatchSet(size_t n, const std::vector<std::unique_ptr<Stub>>& stubs) : counts_(n), last_(n) {
    query_.mutable_network_service_endpoint()->add_network_service_names(kWatchService);
    query_.set_watch(true);
    for (size_t i = 0; i < n; ++i) {
      watchers_.push_back(
          std::make_unique<Watcher>(this, i, stubs[i % stubs.size()].get(), &query_));
    }
  }

  // Cancels every stream and waits for them to end; streams that do not end are leaked rather
  // than freed under gRPC's feet.
  ~WatchSet() {
    for (auto& w : watchers_) w->Cancel();
    absl::MutexLock lock(&mu_);
    auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_ == watchers_.size(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(10))) {
      for (auto& w : watchers_) (void)w.release();
    }
  }

  // Waits until every stream has received at least `n` messages; how many have.
  size_t AwaitAll(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return std::all_of(counts_.begin(), counts_.end(), [n](int c) { return c >= n; }) ||
             done_ > 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
    return static_cast<size_t>(
        std::count_if(counts_.begin(), counts_.end(), [n](int c) { return c >= n; }));
  }

  // Arrival times of the latest message of each stream that has `n` messages.
  std::vector<absl::Time> Arrivals(int n) {
    absl::MutexLock lock(&mu_);
    std::vector<absl::Time> out;
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == n) out.push_back(last_[i]);
    }
    return out;
  }

  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  void Arrived(size_t i) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    ++counts_[i];
    last_[i] = now;
  }
  void Done(const grpc::Status& s) {
    absl::MutexLock lock(&mu_);
    ++done_;
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED && first_error_.empty()) {
      first_error_ = s.error_message();
    }
  }

  NSEQuery query_;
  absl::Mutex mu_;
  std::vector<int> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> last_ ABSL_GUARDED_BY(mu_);
  size_t done_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Watcher>> watchers_;
};

double PerSecond(int n, absl::Duration d) {
  return d > absl::ZeroDuration() ? n / absl::ToDoubleSeconds(d) : 0;
}

}  // namespace

absl::Status RunRegistryBench(const Env& env, const RegistrySettings& s, Report& report) {
  if (env.bin.registry_memory.empty()) {
    return absl::NotFoundError("registry-memory binary not found (--registry_memory=PATH)");
  }
  const std::string url = "unix://" + env.dir + "/registry.sock";
  std::unique_ptr<Child> child =
      Spawn(env, "registry-memory", env.bin.registry_memory, {},
            {"NSM_LISTEN_ON=" + url, "NSM_EXPIRE_PERIOD=1h", "NSM_LOG_LEVEL=" + env.log_level});
  Child& registry = *child;
  if (absl::Status st = WaitServing(registry, url, env.start_timeout); !st.ok()) return st;
  absl::SleepFor(absl::Milliseconds(200));
  const ProcSample idle = ReadProc(registry.pid());
  report.Add(kSection, "rss_idle_kb", static_cast<double>(idle.rss_kb), "kB",
             "registry-memory RSS, idle", Better::kLower);

  auto main_channel = OwnChannel(url);
  auto stub = ::registry::NetworkServiceEndpointRegistry::NewStub(main_channel);
  const int per = std::max(1, s.nses_per_service);
  const int half = s.nses / 2;

  // 1. Sequential Register of the first half.
  {
    PhaseResult r;
    std::atomic<int> done{0};
    Progress bar(env.progress, "register", [&] { return done.load() / double(std::max(1, half)); });
    const ProcSample cpu0 = ReadProc(registry.pid());
    const absl::Time t0 = absl::Now();
    RegisterRange(*stub, 0, half, per, r, done);
    r.elapsed = absl::Now() - t0;
    const ProcSample cpu1 = ReadProc(registry.pid());
    report.Add(kSection, "register_per_s_sequential", PerSecond(half, r.elapsed), "/s",
               "Register/s, 1 client", Better::kHigher);
    report.AddLatency(kSection, "register_sequential", "Register latency, 1 client", Summarize([&] {
                        std::vector<double> v;
                        for (auto d : r.latencies) v.push_back(absl::ToDoubleMicroseconds(d));
                        return v;
                      }()),
                      false);
    if (half > 0) {
      report.Add(kSection, "register_cpu_ms_per_1000", (cpu1.cpu_s - cpu0.cpu_s) * 1e6 / half, "ms",
                 "registry CPU per 1,000 Register", Better::kLower);
    }
    if (r.errors > 0) {
      report.Note(kSection,
                  absl::StrCat(r.errors, " sequential Register errors, first: ", r.first_error));
    }
  }

  // 2. Concurrent Register of the second half, each client on its own connection.
  {
    const int n = s.nses - half;
    const int c = std::max(1, s.concurrency);
    std::vector<PhaseResult> results(static_cast<size_t>(c));
    std::vector<std::unique_ptr<Stub>> stubs;
    for (int i = 0; i < c; ++i) {
      stubs.push_back(::registry::NetworkServiceEndpointRegistry::NewStub(OwnChannel(url)));
    }
    std::atomic<int> done{0};
    Progress bar(env.progress, "register", [&] { return done.load() / double(std::max(1, n)); });
    const absl::Time t0 = absl::Now();
    std::vector<std::thread> threads;
    for (int i = 0; i < c; ++i) {
      const int from = half + n * i / c, to = half + n * (i + 1) / c;
      threads.emplace_back([&, i, from, to] {
        RegisterRange(*stubs[static_cast<size_t>(i)], from, to, per,
                      results[static_cast<size_t>(i)], done);
      });
    }
    for (auto& t : threads) t.join();
    const absl::Duration elapsed = absl::Now() - t0;
    std::vector<double> us;
    int errors = 0;
    std::string first;
    for (auto& r : results) {
      for (auto d : r.latencies) us.push_back(absl::ToDoubleMicroseconds(d));
      if (r.errors > 0 && first.empty()) first = r.first_error;
      errors += r.errors;
    }
    report.Add(kSection, absl::StrCat("register_per_s_concurrent"), PerSecond(n, elapsed), "/s",
               absl::StrCat("Register/s, ", c, " concurrent clients"), Better::kHigher);
    report.AddLatency(kSection, "register_concurrent",
                      absl::StrCat("Register latency, ", c, " clients"), Summarize(us), false);
    if (errors > 0) {
      report.Note(kSection, absl::StrCat(errors, " concurrent Register errors, first: ", first));
    }
  }

  absl::SleepFor(absl::Milliseconds(200));
  const ProcSample full = ReadProc(registry.pid());
  report.Add(kSection, "rss_nses_kb", static_cast<double>(full.rss_kb), "kB",
             absl::StrCat("registry-memory RSS, ", s.nses, " NSEs"), Better::kLower);
  if (s.nses > 0) {
    report.Add(kSection, "rss_kb_per_1000_nses",
               static_cast<double>(full.rss_kb - idle.rss_kb) * 1000.0 / s.nses, "kB",
               "registry-memory RSS per 1,000 NSEs", Better::kLower);
  }

  // 3. Find by network service, one client, then `concurrency` clients.
  {
    const int services = std::max(1, (s.nses + per - 1) / per);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> pick(0, services - 1);
    std::vector<double> us;
    int errors = 0, found = 0;
    std::string first;
    std::atomic<int> done{0};
    Progress bar(env.progress, "find", [&] { return done.load() / double(std::max(1, s.finds)); });
    const ProcSample cpu0 = ReadProc(registry.pid());
    for (int i = 0; i < s.finds; ++i) {
      NSEQuery q;
      q.mutable_network_service_endpoint()->add_network_service_names(
          absl::StrCat("svc-", pick(rng)));
      std::string error;
      const absl::Time t0 = absl::Now();
      const int n = FindOnce(*stub, q, &error);
      us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      if (n < 0 && errors++ == 0) first = error;
      if (n > 0) found += n;
      done.fetch_add(1);
    }
    const ProcSample cpu1 = ReadProc(registry.pid());
    report.AddLatency(kSection, "find",
                      absl::StrCat("Find by service (", s.nses, " NSEs stored), 1 client"),
                      Summarize(us));
    if (s.finds > 0) {
      report.Add(kSection, "find_matches_per_query", found / double(s.finds), "NSEs",
                 "NSEs returned per Find", Better::kNeither);
      report.Add(kSection, "find_cpu_ms_per_1000", (cpu1.cpu_s - cpu0.cpu_s) * 1e6 / s.finds, "ms",
                 "registry CPU per 1,000 Find", Better::kLower);
    }
    if (errors > 0) report.Note(kSection, absl::StrCat(errors, " Find errors, first: ", first));

    // Throughput with concurrent clients for about as long as the sequential phase took.
    const int c = std::max(1, s.concurrency);
    const int per_client = std::max(1, s.finds / c);
    std::vector<std::thread> threads;
    std::atomic<int> calls{0};
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < c; ++i) {
      threads.emplace_back([&, i] {
        auto own = ::registry::NetworkServiceEndpointRegistry::NewStub(OwnChannel(url));
        std::mt19937 r(static_cast<unsigned>(i));
        for (int k = 0; k < per_client; ++k) {
          NSEQuery q;
          q.mutable_network_service_endpoint()->add_network_service_names(
              absl::StrCat("svc-", pick(r)));
          std::string error;
          if (FindOnce(*own, q, &error) >= 0) calls.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    report.Add(kSection, "find_per_s_concurrent", PerSecond(calls.load(), absl::Now() - t0), "/s",
               absl::StrCat("Find/s, ", c, " concurrent clients"), Better::kHigher);
  }

  // 4. Watch fan-out: `watchers` streams watch one service; each round re-registers its NSE with
  // a new label and times until every stream has the update.
  if (s.watchers > 0) {
    NSE watched = MakeNse(0, 1);
    watched.set_name("watched-nse");
    watched.clear_network_service_names();
    watched.clear_network_service_labels();
    watched.add_network_service_names(kWatchService);
    {
      NSE out;
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline(absl::Seconds(15)));
      grpc::Status st = stub->Register(&ctx, watched, &out);
      if (!st.ok()) return absl::InternalError("register watched NSE: " + st.error_message());
    }
    std::vector<std::unique_ptr<Stub>> stubs;
    const int channels = std::max(1, (s.watchers + 99) / 100);
    for (int i = 0; i < channels; ++i) {
      stubs.push_back(::registry::NetworkServiceEndpointRegistry::NewStub(OwnChannel(url)));
    }
    const absl::Duration wait = absl::Seconds(30);
    WatchSet set(static_cast<size_t>(s.watchers), stubs);
    const absl::Time open0 = absl::Now();
    const size_t open = set.AwaitAll(1, wait);
    const absl::Duration open_time = absl::Now() - open0;
    report.Add(kSection, "watch_open_ms", absl::ToDoubleMilliseconds(open_time), "ms",
               absl::StrCat("time to open ", s.watchers, " watch streams (first message)"),
               Better::kLower);
    if (open < static_cast<size_t>(s.watchers)) {
      report.Note(kSection, absl::StrCat("only ", open, " of ", s.watchers,
                                         " watch streams opened; ", set.first_error()));
    }
    absl::SleepFor(absl::Milliseconds(200));
    const ProcSample watching = ReadProc(registry.pid());
    report.Add(
        kSection, "rss_watchers_kb", static_cast<double>(watching.rss_kb), "kB",
        absl::StrCat("registry-memory RSS, ", s.nses, " NSEs + ", s.watchers, " watch streams"),
        Better::kLower);

    std::vector<double> all_ms, median_ms;
    size_t missed = 0;
    for (int round = 1; round <= s.watch_rounds && open == static_cast<size_t>(s.watchers);
         ++round) {
      (*(*watched.mutable_network_service_labels())[kWatchService].mutable_labels())["round"] =
          absl::StrCat(round);
      NSE out;
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline(absl::Seconds(15)));
      const absl::Time t0 = absl::Now();
      grpc::Status st = stub->Register(&ctx, watched, &out);
      if (!st.ok()) return absl::InternalError("re-register watched NSE: " + st.error_message());
      const size_t got = set.AwaitAll(round + 1, wait);
      missed += static_cast<size_t>(s.watchers) - got;
      std::vector<double> ms;
      for (absl::Time t : set.Arrivals(round + 1)) ms.push_back(absl::ToDoubleMilliseconds(t - t0));
      std::sort(ms.begin(), ms.end());
      if (!ms.empty()) {
        all_ms.push_back(ms.back());
        median_ms.push_back(Percentile(ms, 0.5));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    std::sort(all_ms.begin(), all_ms.end());
    std::sort(median_ms.begin(), median_ms.end());
    report.Add(kSection, "watch_fanout_all_ms", Percentile(all_ms, 0.5), "ms",
               absl::StrCat("update seen by all ", s.watchers, " watchers (median of ",
                            all_ms.size(), " rounds)"),
               Better::kLower);
    report.Add(kSection, "watch_fanout_all_max_ms", all_ms.empty() ? 0 : all_ms.back(), "ms",
               "update seen by all watchers, slowest round", Better::kLower);
    report.Add(kSection, "watch_fanout_half_ms", Percentile(median_ms, 0.5), "ms",
               "update seen by half of the watchers", Better::kLower);
    if (missed > 0) {
      report.Note(kSection, absl::StrCat(missed, " watcher updates did not arrive within ",
                                         absl::FormatDuration(wait)));
    }
  }

  report.Note(kSection,
              absl::StrCat("registry-memory process on ", url, "; raw gRPC clients; NSEs offer ",
                           per, " per network service; NSM_EXPIRE_PERIOD=1h"));
  registry.Stop();
  return absl::OkStatus();
}

}  // namespace nsm::bench

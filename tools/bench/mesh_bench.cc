#include "tools/bench/mesh_bench.h"

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/credentials.h"
#include "core/token.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "tools/bench/baseline.h"
#include "tools/bench/progress.h"

namespace nsm::bench {
namespace {

constexpr char kSection[] = "mesh";
constexpr char kService[] = "bench";

// The local topology: every process with its URL.
struct Topology {
  std::string registry_url, nsmgr_url, forwarder_url, nse_url;
  std::unique_ptr<Child> registry, nsmgr, forwarder, nse;

  std::vector<std::pair<std::string, pid_t>> Pids() const {
    return {{"registry-memory", registry->pid()},
            {"nsmgr", nsmgr->pid()},
            {"forwarder", forwarder->pid()},
            {"nse", nse->pid()}};
  }
  void Stop() {
    // Leaves first, so they unregister while the nsmgr and registry still serve.
    for (Child* c : {nse.get(), forwarder.get(), nsmgr.get(), registry.get()}) {
      if (c != nullptr) c->Stop();
    }
  }
};

absl::Status StartTopology(const Env& env, Topology& t) {
  const std::vector<std::pair<std::string, std::string>> binaries = {
      {"registry_memory", env.bin.registry_memory},
      {"nsmgr", env.bin.nsmgr},
      {"forwarder", env.bin.forwarder},
      {"nse", env.bin.nse}};
  for (const auto& [flag, path] : binaries) {
    if (path.empty()) {
      return absl::NotFoundError(absl::StrCat(flag, " binary not found (--", flag, "=PATH)"));
    }
  }
  const std::string& d = env.dir;
  t.registry_url = "unix://" + d + "/registry.sock";
  t.nsmgr_url = "unix://" + d + "/nsmgr.sock";
  t.forwarder_url = "unix://" + d + "/forwarder.sock";
  t.nse_url = "unix://" + d + "/nse.sock";
  const std::string log = "NSM_LOG_LEVEL=" + env.log_level;
  t.registry = Spawn(env, "registry-memory", env.bin.registry_memory, std::vector<std::string>{},
                     std::vector<std::string>{"NSM_LISTEN_ON=" + t.registry_url, log});
  if (absl::Status s = WaitServing(*t.registry, t.registry_url, env.start_timeout); !s.ok()) {
    return s;
  }
  t.nsmgr = Spawn(
      env, "nsmgr", env.bin.nsmgr, std::vector<std::string>{},
      std::vector<std::string>{"NSM_NAME=nsmgr-bench", "NSM_LISTEN_ON=" + t.nsmgr_url,
                               "NSM_REGISTRY_URL=" + t.registry_url,
                               "NSM_EXCLUDED_PREFIXES_FILE=" + d + "/excluded_prefixes.yaml", log});
  if (absl::Status s = WaitServing(*t.nsmgr, t.nsmgr_url, env.start_timeout); !s.ok()) return s;
  t.forwarder =
      Spawn(env, "forwarder", env.bin.forwarder, std::vector<std::string>{},
            std::vector<std::string>{"NSM_NAME=forwarder-bench", "NSM_LISTEN_ON=" + t.forwarder_url,
                                     "NSM_CONNECT_TO=" + t.nsmgr_url, log});
  t.nse = Spawn(env, "nse", env.bin.nse, std::vector<std::string>{},
                std::vector<std::string>{"NSM_NAME=nse-bench", "NSM_LISTEN_ON=" + t.nse_url,
                                         "NSM_CONNECT_TO=" + t.nsmgr_url,
                                         absl::StrCat("NSM_SERVICE_NAMES=", kService),
                                         "NSM_CIDR_PREFIX=10.128.0.0/12", log});
  if (absl::Status s =
          WaitRegistered(*t.forwarder, t.nsmgr_url, "forwarder-bench", env.start_timeout);
      !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat(s.message(), "\n", t.forwarder->Tail(), "\n", t.nsmgr->Tail()));
  }
  if (absl::Status s = WaitRegistered(*t.nse, t.nsmgr_url, "nse-bench", env.start_timeout);
      !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat(s.message(), "\n", t.nse->Tail(), "\n", t.nsmgr->Tail()));
  }
  return absl::OkStatus();
}

// One NSC per worker: the NSM client chain (updatepath, begin, metadata, clienturl, dial,
// trimpath, updatetoken, connect) on its own connection to the nsmgr. No refresh or heal: the
// round trips are shorter than any token lifetime.
class Workers {
 public:
  static absl::StatusOr<std::unique_ptr<Workers>> Create(int n, const std::string& nsmgr_url) {
    auto url = api::ParseNsmUrl(nsmgr_url);
    if (!url.ok()) return url.status();
    auto mech = api::ParseNscRequestUrl(absl::StrCat("kernel://", kService, "/nsm-1"));
    if (!mech.ok()) return mech.status();
    auto w = std::unique_ptr<Workers>(new Workers());
    w->mechanism_ = mech->ToMechanism();
    for (int i = 0; i < n; ++i) {
      connect::ChannelOptions options;
      options.customize = [](grpc::ChannelArguments& args) {
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      };
      auto pool =
          connect::ChannelPool::Create(MakeInsecureCredentials()->ChannelCredentials(), options);
      const std::string name = absl::StrCat("bench-nsc-", i);
      auto client =
          client::NewClient(NewInsecureTokenGenerator(name),
                            {.name = name,
                             .client_url = clienturl::NewClient(*url),
                             .dial = connect::NewDial(pool, {.dial_timeout = absl::Seconds(5)}),
                             .connect = connect::NewClient()});
      if (!client.ok()) return client.status();
      w->clients_.push_back(*client);
    }
    return w;
  }

  size_t size() const { return clients_.size(); }

  absl::StatusOr<Connection> Request(int w, const std::string& id, absl::Duration* latency) {
    NetworkServiceRequest req;
    Connection& c = *req.mutable_connection();
    c.set_id(id);
    c.set_network_service(kService);
    (*c.mutable_labels())["app"] = "bench";
    *req.add_mechanism_preferences() = mechanism_;
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(15));
    const absl::Time t0 = absl::Now();
    auto conn = clients_[static_cast<size_t>(w)]->Request(ctx, req);
    *latency = absl::Now() - t0;
    cancel();
    return conn;
  }

  absl::Status Close(int w, Connection& conn, absl::Duration* latency) {
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(15));
    const absl::Time t0 = absl::Now();
    absl::Status s = clients_[static_cast<size_t>(w)]->Close(ctx, conn);
    *latency = absl::Now() - t0;
    cancel();
    return s;
  }

 private:
  Workers() = default;
  connection::Mechanism mechanism_;
  std::vector<std::shared_ptr<client::Client>> clients_;
};

// The first Request through a freshly registered topology may race the registrations reaching
// every cache: retry for a while, then report the last error.
absl::Status FirstRoundTrip(Workers& workers, Topology& t) {
  const absl::Time end = absl::Now() + absl::Seconds(20);
  absl::Status last;
  while (absl::Now() < end) {
    absl::Duration a, b;
    auto conn = workers.Request(0, "bench-first", &a);
    if (conn.ok()) return workers.Close(0, *conn, &b);
    last = conn.status();
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::Status(
      last.code(),
      absl::StrCat("no Request through the mesh succeeded within 20s: ", last.message(), "\n",
                   t.nsmgr->Tail(), "\n", t.forwarder->Tail(), "\n", t.nse->Tail()));
}

std::vector<ProcSample> Sample(const Topology& t) {
  std::vector<ProcSample> out;
  for (const auto& [name, pid] : t.Pids()) out.push_back(ReadProc(pid));
  return out;
}

// Holds `n` connections (Requested by all workers in parallel), measures RSS and idle CPU, then
// Closes them.
absl::Status Hold(const Env& env, const MeshSettings& s, Workers& workers, Topology& t, int n,
                  Report& report) {
  absl::SleepFor(absl::Milliseconds(300));
  const std::vector<ProcSample> before = Sample(t);
  const int nw = static_cast<int>(workers.size());
  std::vector<std::vector<Connection>> held(static_cast<size_t>(nw));
  std::atomic<int> done{0}, errors{0};
  absl::Mutex mu;
  std::string first_error;
  auto parallel = [&](const std::function<void(int)>& body) {
    std::vector<std::thread> threads;
    for (int w = 0; w < nw; ++w) threads.emplace_back(body, w);
    for (auto& th : threads) th.join();
  };
  const absl::Time t0 = absl::Now();
  {
    Progress bar(env.progress, absl::StrCat("hold ", n), [&] { return done.load() / double(n); });
    parallel([&](int w) {
      for (int i = w; i < n; i += nw) {
        absl::Duration lat;
        auto conn = workers.Request(w, absl::StrCat("hold-", w, "-", i), &lat);
        if (conn.ok()) {
          held[static_cast<size_t>(w)].push_back(*std::move(conn));
        } else if (errors.fetch_add(1) == 0) {
          absl::MutexLock lock(&mu);
          first_error = std::string(conn.status().message());
        }
        done.fetch_add(1);
      }
    });
  }
  const absl::Duration open_time = absl::Now() - t0;
  absl::SleepFor(absl::Milliseconds(500));
  const std::vector<ProcSample> holding = Sample(t);
  absl::SleepFor(s.hold_idle);
  const std::vector<ProcSample> after_idle = Sample(t);
  size_t count = 0;
  for (auto& v : held) count += v.size();

  const std::string tag = absl::StrCat(n);
  report.Add(kSection, "hold_" + tag + "_open_per_s",
             count / std::max(1e-9, absl::ToDoubleSeconds(open_time)), "/s",
             absl::StrCat("Requests/s opening ", n, " held connections"), Better::kHigher);
  const auto pids = t.Pids();
  for (size_t k = 0; k < pids.size(); ++k) {
    const std::string& name = pids[k].first;
    std::string key = name;
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    if (name == "nsmgr") {
      report.Add(kSection, "nsmgr_rss_held_" + tag + "_kb", static_cast<double>(holding[k].rss_kb),
                 "kB", absl::StrCat("nsmgr RSS with ", count, " connections held"), Better::kLower);
    }
    if (count > 0) {
      report.Add(kSection, absl::StrCat(key, "_rss_kb_per_1000_held_", tag),
                 static_cast<double>(holding[k].rss_kb - before[k].rss_kb) * 1000.0 / count, "kB",
                 absl::StrCat(name, " RSS per 1,000 held (", tag, " held)"), Better::kLower);
    }
    report.Add(
        kSection, absl::StrCat(key, "_idle_cpu_ms_per_s_held_", tag),
        (after_idle[k].cpu_s - holding[k].cpu_s) * 1000.0 / absl::ToDoubleSeconds(s.hold_idle),
        "ms/s", absl::StrCat(name, " CPU while idle with ", tag, " held"), Better::kLower);
  }
  if (errors.load() > 0) {
    report.Note(kSection, absl::StrCat(errors.load(), " of ", n,
                                       " held-connection Requests failed, first: ", first_error));
  }

  done.store(0);
  std::atomic<int> close_errors{0};
  const absl::Time c0 = absl::Now();
  {
    Progress bar(env.progress, "close",
                 [&] { return done.load() / double(std::max<size_t>(1, count)); });
    parallel([&](int w) {
      for (auto& conn : held[static_cast<size_t>(w)]) {
        absl::Duration lat;
        if (!workers.Close(w, conn, &lat).ok()) close_errors.fetch_add(1);
        done.fetch_add(1);
      }
    });
  }
  report.Add(kSection, "hold_" + tag + "_close_per_s",
             count / std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - c0)), "/s",
             absl::StrCat("Closes/s of ", count, " held connections"), Better::kHigher);
  if (close_errors.load() > 0) {
    report.Note(kSection, absl::StrCat(close_errors.load(), " Closes of held connections failed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunMeshBench(const Env& env, const MeshSettings& s, Report& report) {
  Topology t;
  if (absl::Status st = StartTopology(env, t); !st.ok()) {
    t.Stop();
    return st;
  }
  std::fprintf(stderr, "nsm-bench mesh: pids registry-memory=%d nsmgr=%d forwarder=%d nse=%d\n",
               t.registry->pid(), t.nsmgr->pid(), t.forwarder->pid(), t.nse->pid());
  absl::SleepFor(absl::Milliseconds(500));
  const std::vector<ProcSample> idle = Sample(t);
  const auto pids = t.Pids();
  for (size_t k = 0; k < pids.size(); ++k) {
    std::string key = pids[k].first;
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    report.Add(kSection, key + "_rss_idle_kb", static_cast<double>(idle[k].rss_kb), "kB",
               pids[k].first + " RSS, idle after start-up", Better::kLower);
  }

  auto workers = Workers::Create(std::max(1, s.load.workers), t.nsmgr_url);
  if (!workers.ok()) return workers.status();
  if (absl::Status st = FirstRoundTrip(**workers, t); !st.ok()) {
    t.Stop();
    return st;
  }

  LoadResult mesh = RunLoad(
      env, s.load, "mesh", pids, [&](int w, int64_t i, absl::Duration* req, absl::Duration* close) {
        auto conn = (*workers)->Request(w, absl::StrCat("bench-", w, "-", i), req);
        if (!conn.ok()) return conn.status();
        return (*workers)->Close(w, *conn, close);
      });
  ReportLoad(report, kSection, s.load, mesh);
  absl::SleepFor(absl::Milliseconds(300));
  const std::vector<ProcSample> after = Sample(t);
  report.Add(kSection, "nsmgr_rss_after_load_kb", static_cast<double>(after[1].rss_kb), "kB",
             "nsmgr RSS after the load, no connections", Better::kLower);
  report.Add(kSection, "nsmgr_threads", after[1].threads, "", "nsmgr threads after the load",
             Better::kNeither);

  for (int n : s.holds) {
    if (n <= 0) continue;
    if (absl::Status st = Hold(env, s, **workers, t, n, report); !st.ok()) return st;
  }
  report.Note(kSection, absl::StrCat("processes: registry-memory, nsmgr, forwarder, nse on unix "
                                     "sockets; ",
                                     s.load.workers,
                                     " in-process NSM client chains, each on its own connection; "
                                     "NSM_LOG_LEVEL=",
                                     env.log_level));
  workers->reset();
  t.Stop();

  if (!s.baseline) return absl::OkStatus();
  LoadResult base;
  if (absl::Status st = RunBaselineBench(env, s.load, report, "baseline", &base); !st.ok()) {
    return st;
  }
  const char* ratios = "mesh / baseline";
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  report.Add(ratios, "throughput_ratio", ratio(mesh.per_second(), base.per_second()), "x",
             "round trips/s, mesh / baseline", Better::kHigher);
  report.Add(ratios, "request_p50_ratio", ratio(mesh.request.p50_us, base.request.p50_us), "x",
             "Request p50, mesh / baseline", Better::kLower);
  report.Add(ratios, "request_p99_ratio", ratio(mesh.request.p99_us, base.request.p99_us), "x",
             "Request p99, mesh / baseline", Better::kLower);
  report.Add(ratios, "close_p50_ratio", ratio(mesh.close.p50_us, base.close.p50_us), "x",
             "Close p50, mesh / baseline", Better::kLower);
  report.Add(ratios, "round_trip_p50_ratio", ratio(mesh.round_trip.p50_us, base.round_trip.p50_us),
             "x", "Request+Close p50, mesh / baseline", Better::kLower);
  double mesh_cpu = 0, base_cpu = 0;
  for (const auto& c : mesh.cpu) mesh_cpu += c.cpu_s;
  for (const auto& c : base.cpu) base_cpu += c.cpu_s;
  if (mesh.round_trips > 0 && base.round_trips > 0) {
    report.Add(ratios, "cpu_per_rt_ratio",
               ratio(mesh_cpu / mesh.round_trips, base_cpu / base.round_trips), "x",
               "CPU per round trip (all processes), mesh / baseline", Better::kLower);
  }

  // Issue #7's targets, said plainly next to the figures.
  const char* targets = "targets (issue #7)";
  auto verdict = [](bool ok) { return ok ? "met" : "NOT met"; };
  const double nsmgr_idle_mb = static_cast<double>(idle[1].rss_kb) / 1024.0;
  report.Note(targets,
              absl::StrFormat(">= 2,000 round trips/s with %d workers: %.0f/s, %s", s.load.workers,
                              mesh.per_second(), verdict(mesh.per_second() >= 2000)));
  report.Note(targets,
              absl::StrFormat("Request p99 < 10 ms: %.2f ms, %s", mesh.request.p99_us / 1000.0,
                              verdict(mesh.request.p99_us < 10000)));
  report.Note(targets, absl::StrFormat("nsmgr RSS < 15 MB idle: %.1f MB, %s", nsmgr_idle_mb,
                                       verdict(nsmgr_idle_mb < 15)));
  for (int n : s.holds) {
    const double per =
        report.Get(kSection, absl::StrCat("nsmgr_rss_kb_per_1000_held_", n), -1) / 1024.0;
    if (per < 0) continue;
    report.Note(targets, absl::StrFormat("nsmgr < 10 MB more per 1,000 held (%d held): %.2f MB, %s",
                                         n, per, verdict(per < 10)));
  }
  const double lat_ratio = ratio(mesh.request.p50_us, base.request.p50_us);
  report.Note(targets, absl::StrFormat("within 2x of the bare gRPC chain's latency (Request p50): "
                                       "%.2fx, %s",
                                       lat_ratio, verdict(lat_ratio <= 2)));
  return absl::OkStatus();
}

}  // namespace nsm::bench

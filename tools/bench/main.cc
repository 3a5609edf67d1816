// nsm-bench: end-to-end benchmarks of nsm-cpp on this machine (DESIGN.md §6, issue #7).
//
//   nsm-bench [registry|mesh|baseline|heal|all] [--topology=local|remote|both] [--smoke]
//             [--json=FILE] [--compare=OLD.json] ...
//   nsm-bench compare OLD.json NEW.json
//   nsm-bench hop --listen=URL [--next=URL] --hop_name=NAME [--hop_pool=N]  (internal)
//
// Every mode starts its own processes on unix sockets in a temp dir and kills them at the end.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"
#include "tools/bench/baseline.h"
#include "tools/bench/heal_bench.h"
#include "tools/bench/mesh_bench.h"
#include "tools/bench/registry_bench.h"
#include "tools/bench/report.h"
#include "tools/bench/stats.h"
#include "tools/bench/topology.h"

ABSL_FLAG(bool, smoke, false,
          "run each mode for about a second with tiny counts (CI); figures are meaningless");
ABSL_FLAG(std::string, json, "", "write the results as JSON to this file");
ABSL_FLAG(std::string, compare, "", "print each figure as a ratio to this earlier --json file");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(30),
          "kill everything and exit 3 if the whole run takes longer");
ABSL_FLAG(std::string, log_level, "INFO", "NSM_LOG_LEVEL of the started processes");
ABSL_FLAG(std::string, wrap, "",
          "NAME=COMMAND: run the child NAME (registry-memory, nsmgr, forwarder, nse, hop-nsmgr, "
          "...) under COMMAND, e.g. --wrap='nsmgr=valgrind --tool=callgrind' for a profile");
ABSL_FLAG(std::vector<std::string>, child_env, {},
          "NAME=VALUE,...: environment variables added to every started process (e.g. "
          "NSM_FIBERS=false); nsm-bench otherwise gives its children an environment of its own");
ABSL_FLAG(bool, keep_dir, false, "keep the temp dir with sockets and process output");
// Load of mesh and baseline.
ABSL_FLAG(int, workers, 8, "mesh/baseline: concurrent client workers");
ABSL_FLAG(int64_t, count, 0, "mesh/baseline: round trips in all (0: run for --duration)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "mesh/baseline: measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "mesh/baseline: unmeasured warm-up");
ABSL_FLAG(std::vector<std::string>, hold, {"1000"},
          "mesh: held-connection counts whose memory is measured (comma-separated)");
ABSL_FLAG(bool, hold_10k, false, "mesh: also hold 10,000 connections");
ABSL_FLAG(absl::Duration, hold_idle, absl::Seconds(3),
          "mesh: CPU is sampled this long while connections are held");
ABSL_FLAG(bool, baseline, true, "mesh: also run the baseline and print ratios");
ABSL_FLAG(int, slices, 4,
          "mesh: with the baseline, the load alternates between mesh and baseline in this many "
          "slices of each (ABBA order), so that the machine's changing speed moves both alike");
ABSL_FLAG(std::string, topology, "local",
          "mesh/baseline: local (one nsmgr, forwarder and nse: 3 hops), remote (two nodes: "
          "nsmgr-1, forwarder-1, nsmgr-2, forwarder-2, nse: 5 hops) or both");
ABSL_FLAG(bool, refresh, true,
          "mesh: held connections use the refresh element with short client tokens, and their "
          "refreshes' rate and CPU are measured");
ABSL_FLAG(absl::Duration, refresh_period, absl::ZeroDuration(),
          "mesh: refresh period of held connections (the client token lifetime is 5x); 0: long "
          "enough that refreshes start after opening and the idle sample");
ABSL_FLAG(double, refresh_cycles, 1,
          "mesh: refresh periods measured once the first refresh of the held connections came");
ABSL_FLAG(int, heal_connections, 100, "heal: connections held (and healed) at once");
ABSL_FLAG(int, heal_nsc_workers, 16,
          "heal: workers of the benchmark's NSC chain, which stands for the many NSC pods that "
          "hold a node's connections (4: a single NSC on 2 cores with the default pool, which "
          "adds workers only when none finishes a task for 20 ms)");
// Registry.
ABSL_FLAG(int, nses, 10000, "registry: NSEs registered (half sequentially, half concurrently)");
ABSL_FLAG(int, concurrency, 8, "registry: concurrent clients");
ABSL_FLAG(int, nses_per_service, 10, "registry: NSEs per network service");
ABSL_FLAG(int, finds, 1000, "registry: Find calls timed");
ABSL_FLAG(int, watchers, 1000, "registry: watch streams of the fan-out phase");
ABSL_FLAG(int, watch_rounds, 5, "registry: updates whose fan-out is timed");
// Binaries (default: the ones built with nsm-bench).
ABSL_FLAG(std::string, registry_memory, "", "registry-memory binary");
ABSL_FLAG(std::string, nsmgr, "", "nsmgr binary");
ABSL_FLAG(std::string, forwarder, "", "forwarder binary");
ABSL_FLAG(std::string, nse, "", "nse binary");
// hop (internal).
ABSL_FLAG(std::string, listen, "", "hop: URL to serve on");
ABSL_FLAG(std::string, next, "", "hop: URL of the next hop (empty: the last hop)");
ABSL_FLAG(std::string, hop_name, "hop", "hop: path segment name");
ABSL_FLAG(int, hop_pool, 0,
          "hop: forward on this many worker threads with blocking calls (0: async)");
ABSL_FLAG(int, baseline_pool, 0,
          "baseline: the hops forward on pools of this many workers with blocking calls, the "
          "threading of our synchronous transport (0: asynchronously, the physical limit)");

ABSL_FLAG(bool, baseline_own_binaries, true,
          "baseline: each hop runs from its own copy of nsm-bench, as nsmgr, forwarder and NSE are "
          "distinct programs (false: the hops share one binary's code pages, and its cache lines)");

namespace {

using nsm::bench::Report;

bool ReadJson(const std::string& path, nlohmann::json* out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "nsm-bench: cannot read %s\n", path.c_str());
    return false;
  }
  try {
    *out = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nsm-bench: %s is not JSON: %s\n", path.c_str(), e.what());
    return false;
  }
  return true;
}

int Compare(const std::string& old_path, const std::string& new_path) {
  nlohmann::json a, b;
  if (!ReadJson(old_path, &a) || !ReadJson(new_path, &b)) return 2;
  std::printf("old: %s\nnew: %s\n", old_path.c_str(), new_path.c_str());
  if (nsm::bench::PrintComparison(a, b, stdout) == 0) {
    std::fprintf(stderr, "nsm-bench: no figures in common\n");
    return 1;
  }
  return 0;
}

int Run(const std::vector<std::string>& modes) {
  const bool smoke = absl::GetFlag(FLAGS_smoke);
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (smoke) timeout = std::min(timeout, absl::Minutes(3));
  nsm::bench::InstallChildReaper(timeout);

  nsm::bench::Env env;
  env.bin = nsm::bench::FindBinaries({.registry_memory = absl::GetFlag(FLAGS_registry_memory),
                                      .nsmgr = absl::GetFlag(FLAGS_nsmgr),
                                      .forwarder = absl::GetFlag(FLAGS_forwarder),
                                      .nse = absl::GetFlag(FLAGS_nse),
                                      .self = ""});
  env.progress = isatty(STDOUT_FILENO) == 1;
  env.smoke = smoke;
  env.log_level = absl::GetFlag(FLAGS_log_level);
  env.hop_pool = absl::GetFlag(FLAGS_baseline_pool);
  env.hop_own_binaries = absl::GetFlag(FLAGS_baseline_own_binaries);
  for (const std::string& var : absl::GetFlag(FLAGS_child_env)) {
    const size_t eq = var.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "nsm-bench: --child_env wants NAME=VALUE, got \"%s\"\n", var.c_str());
      return 2;
    }
    env.child_env.push_back(var);
  }
  if (const std::string wrap = absl::GetFlag(FLAGS_wrap); !wrap.empty()) {
    const size_t eq = wrap.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == wrap.size()) {
      std::fprintf(stderr, "nsm-bench: --wrap wants NAME=COMMAND, got \"%s\"\n", wrap.c_str());
      return 2;
    }
    env.wrap_name = wrap.substr(0, eq);
    env.wrap_command = wrap.substr(eq + 1);
    env.start_timeout = absl::Minutes(2);
  }
  env.dir = nsm::bench::MakeTempDir();
  if (env.dir.empty()) {
    std::fprintf(stderr, "nsm-bench: cannot create a temp dir\n");
    return 1;
  }

  nsm::bench::RegistrySettings reg;
  reg.nses = absl::GetFlag(FLAGS_nses);
  reg.concurrency = absl::GetFlag(FLAGS_concurrency);
  reg.nses_per_service = absl::GetFlag(FLAGS_nses_per_service);
  reg.finds = absl::GetFlag(FLAGS_finds);
  reg.watchers = absl::GetFlag(FLAGS_watchers);
  reg.watch_rounds = absl::GetFlag(FLAGS_watch_rounds);

  nsm::bench::MeshSettings mesh;
  mesh.load.workers = absl::GetFlag(FLAGS_workers);
  mesh.load.count = absl::GetFlag(FLAGS_count);
  mesh.load.duration = absl::GetFlag(FLAGS_duration);
  mesh.load.warmup = absl::GetFlag(FLAGS_warmup);
  mesh.holds.clear();
  for (const std::string& h : absl::GetFlag(FLAGS_hold)) {
    int n = 0;
    if (!absl::SimpleAtoi(h, &n) || n < 0) {
      std::fprintf(stderr, "nsm-bench: --hold=%s is not a list of counts\n", h.c_str());
      return 2;
    }
    mesh.holds.push_back(n);
  }
  if (absl::GetFlag(FLAGS_hold_10k)) mesh.holds.push_back(10000);
  mesh.hold_idle = absl::GetFlag(FLAGS_hold_idle);
  mesh.baseline = absl::GetFlag(FLAGS_baseline);
  mesh.slices = absl::GetFlag(FLAGS_slices);
  if (mesh.slices < 1 || mesh.slices > 100) {
    std::fprintf(stderr, "nsm-bench: --slices=%d must be 1 to 100\n", mesh.slices);
    return 2;
  }
  mesh.refresh = absl::GetFlag(FLAGS_refresh);
  mesh.refresh_period = absl::GetFlag(FLAGS_refresh_period);
  mesh.refresh_cycles = absl::GetFlag(FLAGS_refresh_cycles);
  std::vector<nsm::bench::MeshTopology> topologies;
  const std::string topology = absl::GetFlag(FLAGS_topology);
  if (topology == "local" || topology == "both") {
    topologies.push_back(nsm::bench::MeshTopology::kLocal);
  }
  if (topology == "remote" || topology == "both") {
    topologies.push_back(nsm::bench::MeshTopology::kRemote);
  }
  if (topologies.empty()) {
    std::fprintf(stderr, "nsm-bench: --topology=%s is not local, remote or both\n",
                 topology.c_str());
    return 2;
  }
  nsm::bench::HealSettings heal;
  heal.connections = absl::GetFlag(FLAGS_heal_connections);
  if (heal.connections < 1) {
    std::fprintf(stderr, "nsm-bench: --heal_connections=%d must be at least 1\n", heal.connections);
    return 2;
  }
  heal.nsc_workers = absl::GetFlag(FLAGS_heal_nsc_workers);
  if (heal.nsc_workers < 1 || heal.nsc_workers > 128) {
    std::fprintf(stderr, "nsm-bench: --heal_nsc_workers=%d must be 1 to 128\n", heal.nsc_workers);
    return 2;
  }

  if (smoke) {
    reg.nses = 200;
    reg.finds = 50;
    reg.watchers = 20;
    reg.watch_rounds = 2;
    mesh.load.workers = 2;
    mesh.load.count = 0;
    mesh.load.duration = absl::Seconds(1);
    mesh.load.warmup = absl::Milliseconds(200);
    mesh.holds = {50};
    mesh.hold_idle = absl::Milliseconds(300);
    mesh.min_refresh_period = absl::Seconds(1);
    mesh.refresh_cycles = std::min(mesh.refresh_cycles, 1.0);
    heal.connections = 5;
    heal.wait = absl::Seconds(30);
  }

  Report report;
  const nsm::bench::MachineInfo m = nsm::bench::ReadMachine();
  report.SetInfo("machine", {{"nproc", m.nproc},
                             {"cpu_model", m.cpu_model},
                             {"mem_total_kb", m.mem_total_kb},
                             {"loadavg_1m_at_start", m.loadavg_1m},
                             {"kernel", m.kernel}});
  report.SetInfo("modes", modes);
  report.SetInfo("smoke", smoke);
  report.SetInfo("started", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));
  report.SetInfo("settings", {{"workers", mesh.load.workers},
                              {"count", mesh.load.count},
                              {"duration_s", absl::ToDoubleSeconds(mesh.load.duration)},
                              {"holds", mesh.holds},
                              {"topology", topology},
                              {"refresh", mesh.refresh},
                              {"refresh_period_s", absl::ToDoubleSeconds(mesh.refresh_period)},
                              {"refresh_cycles", mesh.refresh_cycles},
                              {"nses", reg.nses},
                              {"concurrency", reg.concurrency},
                              {"nses_per_service", reg.nses_per_service},
                              {"finds", reg.finds},
                              {"watchers", reg.watchers},
                              {"log_level", env.log_level}});
  std::printf("nsm-bench %s%s on %d x %s, %.1f GiB RAM, load average %.2f at start\n",
              absl::StrJoin(modes, " ").c_str(), smoke ? " (smoke: figures are meaningless)" : "",
              m.nproc, m.cpu_model.c_str(), m.mem_total_kb / 1048576.0, m.loadavg_1m);
  std::fflush(stdout);

  int failures = 0;
  std::vector<std::pair<std::string, double>> wall, load_after;
  // The children's setting (the last --child_env for it wins, as in their environment). The
  // load's clients keep all of gRPC's callback threads: with one, their CPU per round trip rose by
  // half (docs/PERFORMANCE.md).
  std::string callback_threads = nsm::callback_threads::kDefault;
  const std::string prefix = absl::StrCat(nsm::callback_threads::kVariable, "=");
  for (const std::string& var : env.child_env) {
    if (absl::StartsWith(var, prefix)) callback_threads = var.substr(prefix.size());
  }
  std::vector<std::string> run_notes = {absl::StrCat(
      "gRPC callback threads (core/callback_threads.h): the binaries and the baseline's hops run "
      "with ",
      prefix, callback_threads, "; nsm-bench's clients on all of gRPC's")};
  if (int n = 0; absl::SimpleAtoi(callback_threads, &n)) {
    report.Add("run", "grpc_callback_threads", n, "",
               "gRPC callback threads of each child (0: all)", nsm::bench::Better::kNeither);
  }
  auto run = [&](const std::string& mode, const std::function<absl::Status()>& body) {
    const absl::Time t0 = absl::Now();
    absl::Status st = body();
    wall.emplace_back(mode, absl::ToDoubleSeconds(absl::Now() - t0));
    load_after.emplace_back(mode, nsm::bench::ReadMachine().loadavg_1m);
    if (st.ok()) return;
    if (st.code() == absl::StatusCode::kNotFound) {
      std::fprintf(stderr, "nsm-bench: %s skipped: %s\n", mode.c_str(),
                   std::string(st.message()).c_str());
      run_notes.push_back(mode + " skipped: " + std::string(st.message()));
      return;
    }
    ++failures;
    std::fprintf(stderr, "nsm-bench: %s failed: %s\n", mode.c_str(),
                 std::string(st.message()).c_str());
    run_notes.push_back(mode + " FAILED: " + std::string(st.message()).substr(0, 300));
  };
  for (const std::string& mode : modes) {
    if (mode == "registry") {
      run(mode, [&] { return nsm::bench::RunRegistryBench(env, reg, report); });
    } else if (mode == "mesh") {
      for (nsm::bench::MeshTopology kind : topologies) {
        const bool remote = kind == nsm::bench::MeshTopology::kRemote;
        run(remote ? "mesh_remote" : "mesh",
            [&] { return nsm::bench::RunMeshBench(env, mesh, kind, report); });
      }
    } else if (mode == "baseline") {
      for (nsm::bench::MeshTopology kind : topologies) {
        const bool remote = kind == nsm::bench::MeshTopology::kRemote;
        run(remote ? "baseline_remote" : "baseline", [&] {
          return nsm::bench::RunBaselineBench(
              env, mesh.load, report, remote ? "baseline_remote" : "baseline",
              remote ? nsm::bench::kRemoteHops : nsm::bench::kLocalHops);
        });
      }
    } else if (mode == "heal") {
      run(mode, [&] { return nsm::bench::RunHealBench(env, heal, report); });
    }
  }
  for (const auto& [mode, secs] : wall) {
    report.Add("run", mode + "_seconds", secs, "s", mode + " mode wall time",
               nsm::bench::Better::kNeither);
  }
  for (const auto& [mode, load] : load_after) {
    report.Add("run", mode + "_loadavg_1m_end", load, "",
               mode + " mode: 1-minute load average at its end", nsm::bench::Better::kNeither);
  }
  for (const auto& n : run_notes) report.Note("run", n);

  report.PrintTable(stdout);
  const nlohmann::json j = report.ToJson();
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "nsm-bench: cannot write %s\n", path.c_str());
      ++failures;
    } else {
      std::printf("\nresults written to %s\n", path.c_str());
    }
  }
  if (const std::string path = absl::GetFlag(FLAGS_compare); !path.empty()) {
    nlohmann::json old;
    if (ReadJson(path, &old)) {
      std::printf("\ncompared with %s\n", path.c_str());
      nsm::bench::PrintComparison(old, j, stdout);
    } else {
      ++failures;
    }
  }
  if (absl::GetFlag(FLAGS_keep_dir)) {
    std::printf("processes' output kept in %s\n", env.dir.c_str());
  } else {
    nsm::bench::RemoveDir(env.dir);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // As our binaries (core/cmd.h): glibc's malloc with a larger per-thread cache, in the load's
  // client chains and in the baseline's hops alike (each hop process re-executes itself too).
  if (auto s = nsm::malloc_tuning::ReexecWithTunables(argv); !s.ok()) {
    std::fprintf(stderr, "nsm-bench: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::SetProgramUsageMessage(
      "end-to-end benchmarks of nsm-cpp (DESIGN.md §6)\n"
      "  nsm-bench [registry|mesh|baseline|heal|all] [--topology=local|remote|both] [--smoke]\n"
      "            [--json=FILE] [--compare=OLD.json]\n"
      "  nsm-bench compare OLD.json NEW.json\n"
      "registry: registry-memory Register/s, Find latency, watch fan-out, RSS\n"
      "mesh:     registry-memory + nsmgr + forwarder + nse processes, Request/Close round trips,\n"
      "          latency, CPU per 1,000 round trips per process, nsmgr RSS with held connections\n"
      "          and the CPU of their refreshes; with the baseline, the load alternates between\n"
      "          the two (--slices) and the ratios to the baseline are printed;\n"
      "          --topology=remote: two nodes (nsmgr-1 + forwarder-1, nsmgr-2 + forwarder-2 + "
      "nse)\n"
      "baseline: 3 (remote: 5) no-op gRPC hop processes, the physical limit of the mesh figures\n"
      "heal:     registry-memory + nsmgr + 2 forwarders + 2 nses; time from SIGKILL of the\n"
      "          forwarder in use, then of an nse, to each held connection healed");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  // As in our binaries (core/cmd.h): no lock-order check, which Debian's Abseil runs on every
  // Mutex lock (gRPC's included). It was ~7 % of this process's instructions, in the load's
  // client chains and in the baseline's hops alike.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (!args.empty() && args[0] == "hop") {
    return nsm::bench::RunHop(absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_next),
                              absl::GetFlag(FLAGS_hop_name), absl::GetFlag(FLAGS_hop_pool));
  }
  if (!args.empty() && args[0] == "compare") {
    if (args.size() != 3) {
      std::fprintf(stderr, "usage: nsm-bench compare OLD.json NEW.json\n");
      return 2;
    }
    return Compare(args[1], args[2]);
  }
  std::vector<std::string> modes;
  for (const std::string& a : args) {
    if (a == "all") {
      modes.insert(modes.end(), {"registry", "mesh", "heal"});
    } else if (a == "registry" || a == "mesh" || a == "baseline" || a == "heal") {
      modes.push_back(a);
    } else {
      std::fprintf(stderr, "nsm-bench: unknown mode \"%s\" (registry, mesh, baseline, heal, all)\n",
                   a.c_str());
      return 2;
    }
  }
  if (modes.empty()) modes = {"registry", "mesh"};
  return Run(modes);
}

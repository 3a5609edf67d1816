// nsm-bench heal: SIGKILLs the forwarder in use, then an NSE, and times each held connection's
// heal (issue #6 "Speed"); see heal_bench.h.
#include "tools/bench/heal_bench.h"

#include <signal.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/token.h"
#include "healing/heal/client.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "tools/bench/progress.h"
#include "tools/bench/stats.h"

namespace nsm::bench {
namespace {

constexpr char kSection[] = "heal";
constexpr char kService[] = "bench-heal";

// registry-memory, nsmgr, two forwarders and two NSEs of one service.
struct HealTopology {
  std::string nsmgr_url;
  std::unique_ptr<Child> registry, nsmgr;
  std::map<std::string, std::unique_ptr<Child>> hops;  // forwarders and NSEs by NSM name

  void Stop() {
    for (auto& [name, c] : hops) {
      if (c) c->Stop();
    }
    if (nsmgr) nsmgr->Stop();
    if (registry) registry->Stop();
  }
};

absl::Status StartHealTopology(const Env& env, HealTopology& t) {
  for (const auto& [flag, path] : std::vector<std::pair<std::string, std::string>>{
           {"registry_memory", env.bin.registry_memory},
           {"nsmgr", env.bin.nsmgr},
           {"forwarder", env.bin.forwarder},
           {"nse", env.bin.nse}}) {
    if (path.empty()) {
      return absl::NotFoundError(absl::StrCat(flag, " binary not found (--", flag, "=PATH)"));
    }
  }
  const std::string& d = env.dir;
  const std::string log = "NSM_LOG_LEVEL=" + env.log_level;
  const std::string registry_url = "unix://" + d + "/heal-registry.sock";
  t.nsmgr_url = "unix://" + d + "/heal-nsmgr.sock";
  t.registry = Spawn(env, "registry-memory", env.bin.registry_memory, {},
                     {"NSM_LISTEN_ON=" + registry_url, log});
  if (auto s = WaitServing(*t.registry, registry_url, env.start_timeout); !s.ok()) return s;
  t.nsmgr = Spawn(
      env, "nsmgr", env.bin.nsmgr, {},
      {"NSM_NAME=nsmgr-heal", "NSM_LISTEN_ON=" + t.nsmgr_url, "NSM_REGISTRY_URL=" + registry_url,
       "NSM_EXCLUDED_PREFIXES_FILE=" + d + "/heal-excluded_prefixes.yaml", log});
  if (auto s = WaitServing(*t.nsmgr, t.nsmgr_url, env.start_timeout); !s.ok()) return s;
  // The forwarders one after the other: registration order makes forwarder-a the one in use.
  for (const char* name : {"forwarder-a", "forwarder-b"}) {
    auto& c = t.hops[name];
    c = Spawn(env, name, env.bin.forwarder, {},
              {absl::StrCat("NSM_NAME=", name),
               absl::StrCat("NSM_LISTEN_ON=unix://", d, "/", name, ".sock"),
               "NSM_CONNECT_TO=" + t.nsmgr_url, log});
    if (auto s = WaitRegistered(*c, t.nsmgr_url, name, env.start_timeout); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "\n", c->Tail()));
    }
  }
  int cidr = 0;
  for (const char* name : {"nse-a", "nse-b"}) {
    auto& c = t.hops[name];
    c = Spawn(env, name, env.bin.nse, {},
              {absl::StrCat("NSM_NAME=", name),
               absl::StrCat("NSM_LISTEN_ON=unix://", d, "/", name, ".sock"),
               "NSM_CONNECT_TO=" + t.nsmgr_url, absl::StrCat("NSM_SERVICE_NAMES=", kService),
               absl::StrCat("NSM_CIDR_PREFIX=10.", 128 + 16 * cidr++, ".0.0/12"), log});
    if (auto s = WaitRegistered(*c, t.nsmgr_url, name, env.start_timeout); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), "\n", c->Tail()));
    }
  }
  return absl::OkStatus();
}

// When each connection last healed (real time), from heal's observer.
struct HealClock {
  absl::Mutex mu;
  std::map<std::string, absl::Time> healed ABSL_GUARDED_BY(mu);
  std::map<std::string, absl::Time> started ABSL_GUARDED_BY(mu);  // first detection after a kill
  std::map<std::string, int> attempts ABSL_GUARDED_BY(mu);
  int failed ABSL_GUARDED_BY(mu) = 0;
};

std::string HopAt(const Connection& conn, int index) {
  return conn.path().path_segments_size() > index ? conn.path().path_segments(index).name() : "";
}

// Kills `victim` and waits until every connection in `affected` healed after the kill. Reports
// the time from the kill to each healed connection.
void KillAndMeasure(const Env& env, const HealSettings& s, HealTopology& t, HealClock& clock,
                    const std::string& victim, const std::vector<std::string>& affected,
                    const std::string& key, Report& report) {
  Child& child = *t.hops.at(victim);
  // CPU of every process that survives, over the heal: where a heal's work goes.
  std::vector<std::pair<std::string, pid_t>> survivors = {{"registry-memory", t.registry->pid()},
                                                          {"nsmgr", t.nsmgr->pid()}};
  for (const auto& [name, c] : t.hops) {
    if (name != victim && c && c->ExitedWith() < 0) survivors.emplace_back(name, c->pid());
  }
  std::vector<ProcSample> before;
  for (const auto& [name, pid] : survivors) before.push_back(ReadProc(pid));
  const ProcSample self_before = ReadSelf();
  const absl::Time killed = absl::Now();
  kill(child.pid(), SIGKILL);
  auto healed_since = [&] {
    absl::MutexLock lock(&clock.mu);
    size_t n = 0;
    for (const auto& id : affected) {
      auto it = clock.healed.find(id);
      if (it != clock.healed.end() && it->second >= killed) ++n;
    }
    return n;
  };
  {
    Progress bar(env.progress, "heal after killing " + victim,
                 [&] { return healed_since() / double(std::max<size_t>(1, affected.size())); });
    const absl::Time end = killed + s.wait;
    while (healed_since() < affected.size() && absl::Now() < end) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  std::vector<std::pair<std::string, double>> cpu_s;  // name, CPU seconds over the heal
  for (size_t i = 0; i < survivors.size(); ++i) {
    cpu_s.emplace_back(survivors[i].first, ReadProc(survivors[i].second).cpu_s - before[i].cpu_s);
  }
  cpu_s.emplace_back("nsm-bench", ReadSelf().cpu_s - self_before.cpu_s);
  std::vector<double> us, detected_us;
  double attempts = 0;
  {
    absl::MutexLock lock(&clock.mu);
    for (const auto& id : affected) {
      auto it = clock.healed.find(id);
      if (it == clock.healed.end() || it->second < killed) continue;
      us.push_back(absl::ToDoubleMicroseconds(it->second - killed));
      attempts += clock.attempts[id];
      if (auto st = clock.started.find(id); st != clock.started.end() && st->second >= killed) {
        detected_us.push_back(absl::ToDoubleMicroseconds(st->second - killed));
      }
    }
  }
  const LatencySummary sum = Summarize(us);
  report.AddLatency(kSection, key, absl::StrCat("time to heal after SIGKILL of ", victim), sum);
  report.AddLatency(kSection, key + "_detected",
                    absl::StrCat("of which until heal started (", victim, ")"),
                    Summarize(detected_us));
  if (!us.empty()) {
    report.Add(kSection, key + "_attempts_mean", attempts / static_cast<double>(us.size()), "",
               absl::StrCat("heal attempts per connection after SIGKILL of ", victim),
               Better::kLower);
  }
  if (!us.empty() && us.size() == affected.size()) {  // else the window ran to the timeout
    double total = 0;
    for (const auto& [name, secs] : cpu_s) {
      total += secs;
      report.Add(kSection, absl::StrCat(key, "_cpu_ms_per_heal_", Key(name)),
                 secs * 1000.0 / static_cast<double>(us.size()), "ms",
                 absl::StrCat("CPU per healed connection after SIGKILL of ", victim, ": ", name),
                 Better::kLower);
    }
    report.Add(kSection, key + "_cpu_ms_per_heal", total * 1000.0 / static_cast<double>(us.size()),
               "ms", absl::StrCat("CPU per healed connection after SIGKILL of ", victim, ", all"),
               Better::kLower);
  }
  if (us.size() < affected.size()) {
    report.Note(kSection, absl::StrCat(affected.size() - us.size(), " of ", affected.size(),
                                       " connections did not heal within ",
                                       absl::FormatDuration(s.wait), " after killing ", victim));
  }
}

}  // namespace

absl::Status RunHealBench(const Env& env, const HealSettings& s, Report& report) {
  HealTopology t;
  if (auto st = StartHealTopology(env, t); !st.ok()) {
    t.Stop();
    return st;
  }
  auto url = api::ParseNsmUrl(t.nsmgr_url);
  if (!url.ok()) return url.status();
  auto mech = api::ParseNscRequestUrl(absl::StrCat("kernel://", kService, "/nsm-1"));
  if (!mech.ok()) return mech.status();

  auto clock = std::make_shared<HealClock>();
  auto heal =
      healing::heal::NewClient({.observer = {
                                    .started =
                                        [clock](const Connection& conn, const absl::Status&) {
                                          absl::MutexLock lock(&clock->mu);
                                          auto& at = clock->started[conn.id()];
                                          if (clock->healed[conn.id()] >= at) at = absl::Now();
                                        },
                                    .healed =
                                        [clock](const Connection& conn, int attempts) {
                                          absl::MutexLock lock(&clock->mu);
                                          clock->healed[conn.id()] = absl::Now();
                                          clock->attempts[conn.id()] = attempts;
                                        },
                                    .failed =
                                        [clock](const Connection&, const absl::Status&) {
                                          absl::MutexLock lock(&clock->mu);
                                          ++clock->failed;
                                        },
                                }});
  auto pool = connect::ChannelPool::Create(MakeInsecureCredentials()->ChannelCredentials());
  auto client =
      client::NewClient(NewInsecureTokenGenerator("bench-heal-nsc"),
                        {.name = "bench-heal-nsc",
                         .client_url = clienturl::NewClient(*url),
                         .heal = heal,
                         .dial = connect::NewDial(pool, {.dial_timeout = absl::Seconds(1)}),
                         .connect = connect::NewClient(),
                         .pool = NewChainPool(static_cast<size_t>(s.nsc_workers))});
  if (!client.ok()) return client.status();

  // Open the connections (retrying the first while registrations settle).
  std::vector<Connection> conns;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  for (int i = 0; i < s.connections; ++i) {
    NetworkServiceRequest req;
    req.mutable_connection()->set_id(absl::StrCat("heal-", i));
    req.mutable_connection()->set_network_service(kService);
    *req.add_mechanism_preferences() = mech->ToMechanism();
    absl::StatusOr<Connection> conn;
    do {
      auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(15));
      conn = (*client)->Request(ctx, req);
      cancel();
      if (!conn.ok() && conns.empty()) absl::SleepFor(absl::Milliseconds(200));
    } while (!conn.ok() && conns.empty() && absl::Now() < give_up);
    if (!conn.ok()) {
      t.Stop();
      return absl::Status(conn.status().code(),
                          absl::StrCat("opening connection ", i, ": ", conn.status().message()));
    }
    conns.push_back(*std::move(conn));
  }
  // Every connection watched at the nsmgr before anything is killed.
  const absl::Time watched_by = absl::Now() + absl::Seconds(20);
  while (heal->open_watches() < conns.size() && absl::Now() < watched_by) {
    absl::SleepFor(absl::Milliseconds(5));
  }

  // 1. The forwarder in use dies: every connection moves to the other forwarder.
  std::map<std::string, std::vector<std::string>> by_forwarder, by_nse;
  for (const auto& c : conns) by_forwarder[HopAt(c, 2)].push_back(c.id());
  const std::string forwarder = by_forwarder.begin()->first;
  KillAndMeasure(env, s, t, *clock, forwarder, by_forwarder.begin()->second, "forwarder_death",
                 report);

  // 2. An NSE dies: its connections reselect the other NSE (through the surviving forwarder).
  //    The current endpoint of each connection comes from a refresh.
  for (const auto& c : conns) {
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(15));
    NetworkServiceRequest again;
    *again.mutable_connection() = c;
    auto now = (*client)->Request(ctx, again);
    cancel();
    if (now.ok()) by_nse[now->network_service_endpoint_name()].push_back(c.id());
  }
  if (!by_nse.empty()) {
    const auto& [nse, ids] = *by_nse.begin();
    KillAndMeasure(env, s, t, *clock, nse, ids, "nse_death", report);
  }

  int failed_heals = 0;
  {
    absl::MutexLock lock(&clock->mu);
    failed_heals = clock->failed;
  }
  int close_errors = 0;
  for (auto& c : conns) {
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(15));
    if (!(*client)->Close(ctx, c).ok()) ++close_errors;
    cancel();
  }
  report.Add(kSection, "connections", static_cast<double>(conns.size()), "",
             "connections held by one NSC with heal", Better::kNeither);
  report.Note(kSection,
              absl::StrCat("registry-memory, nsmgr, forwarder-a/-b, nse-a/-b on unix sockets; one "
                           "in-process NSC chain with heal holds ",
                           conns.size(), " connections with a pool of ", s.nsc_workers,
                           " workers; time from SIGKILL to each connection's successful heal "
                           "Request; ",
                           failed_heals, " heals gave up, ", close_errors, " Closes failed"));
  client->reset();
  t.Stop();
  return absl::OkStatus();
}

}  // namespace nsm::bench

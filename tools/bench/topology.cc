#include "tools/bench/topology.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/grpc_server.h"
#include "registry.grpc.pb.h"

namespace nsm::bench {
namespace {

// Compiled-in paths of the CMake build (empty in Bazel, which uses runfiles).
#ifndef NSM_BENCH_REGISTRY_MEMORY_BIN
#define NSM_BENCH_REGISTRY_MEMORY_BIN ""
#endif
#ifndef NSM_BENCH_NSMGR_BIN
#define NSM_BENCH_NSMGR_BIN ""
#endif
#ifndef NSM_BENCH_FORWARDER_BIN
#define NSM_BENCH_FORWARDER_BIN ""
#endif
#ifndef NSM_BENCH_NSE_BIN
#define NSM_BENCH_NSE_BIN ""
#endif

bool Executable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

std::string Pick(const std::string& flag, const char* env_name, const char* compiled,
                 std::initializer_list<const char*> runfiles) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env_name); v != nullptr && *v != '\0') return v;
  if (Executable(compiled)) return compiled;
  // Bazel: tests run in the runfiles tree of the workspace "nsm"; `bazel run` sets RUNFILES_DIR.
  const char* runfiles_dir = std::getenv("RUNFILES_DIR");
  for (const char* runfile : runfiles) {
    if (Executable(runfile)) return runfile;
    if (runfiles_dir != nullptr) {
      const std::string p = absl::StrCat(runfiles_dir, "/nsm/", runfile);
      if (Executable(p)) return p;
    }
  }
  return "";
}

// Children to kill when the bench is interrupted or overruns; async-signal-safe to walk.
constexpr size_t kMaxChildren = 64;
std::array<std::atomic<pid_t>, kMaxChildren> g_children{};

void Track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void Untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void KillAll() {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
}

void OnSignal(int sig) {
  KillAll();
  _exit(128 + sig);
}

}  // namespace

Binaries FindBinaries(const Binaries& flags) {
  Binaries b;
  b.registry_memory =
      Pick(flags.registry_memory, "NSM_BENCH_REGISTRY_MEMORY_BIN", NSM_BENCH_REGISTRY_MEMORY_BIN,
           {"registry/registry-memory/registry-memory"});
  b.nsmgr = Pick(flags.nsmgr, "NSM_BENCH_NSMGR_BIN", NSM_BENCH_NSMGR_BIN,
                 {"nsmgr/nsmgr", "nsmgr/nsmgr-bin"});
  b.forwarder = Pick(flags.forwarder, "NSM_BENCH_FORWARDER_BIN", NSM_BENCH_FORWARDER_BIN,
                     {"reference/forwarder/forwarder"});
  b.nse = Pick(flags.nse, "NSM_BENCH_NSE_BIN", NSM_BENCH_NSE_BIN, {"reference/nse/nse"});
  std::error_code ec;
  b.self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  return b;
}

Child::Child(const std::string& name, const std::string& binary, const std::string& dir,
             std::vector<std::string> args, std::vector<std::string> env)
    : name_(name),
      process_(std::make_unique<nsm::testing::Process>(binary, dir, name, std::move(args),
                                                       std::move(env))) {
  pid_ = process_->pid();
  if (pid_ > 0) Track(pid_);
}

Child::~Child() {
  if (pid_ > 0) Untrack(pid_);
  process_.reset();  // SIGKILL if still running
}

int Child::ExitedWith() { return process_->Wait(absl::ZeroDuration()); }

std::string Child::Tail(size_t lines) const {
  std::vector<std::string> all = absl::StrSplit(process_->err() + process_->out(), '\n');
  while (!all.empty() && all.back().empty()) all.pop_back();
  if (all.size() > lines) all.erase(all.begin(), all.end() - static_cast<long>(lines));
  return absl::StrCat("--- ", name_, " (pid ", pid_, ") output:\n", absl::StrJoin(all, "\n"));
}

void Child::Stop(absl::Duration grace) {
  process_->Signal(SIGTERM);
  if (process_->Wait(grace) < 0) process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(5));
}

namespace {

// `program` itself when it has a slash, else the first executable of that name on PATH.
std::string OnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    const std::string p = absl::StrCat(dir, "/", program);
    if (Executable(p)) return p;
  }
  return program;
}

}  // namespace

std::unique_ptr<Child> Spawn(const Env& env, const std::string& name, const std::string& binary,
                             std::vector<std::string> args, std::vector<std::string> vars) {
  vars.insert(vars.end(), env.child_env.begin(), env.child_env.end());
  if (env.wrap_name != name || env.wrap_command.empty()) {
    return std::make_unique<Child>(name, binary, env.dir, std::move(args), std::move(vars));
  }
  std::vector<std::string> wrapped = absl::StrSplit(env.wrap_command, ' ', absl::SkipEmpty());
  const std::string program = OnPath(wrapped.front());
  wrapped.erase(wrapped.begin());
  wrapped.push_back(binary);
  wrapped.insert(wrapped.end(), args.begin(), args.end());
  if (const char* home = std::getenv("HOME")) vars.push_back(absl::StrCat("HOME=", home));
  return std::make_unique<Child>(name, program, env.dir, std::move(wrapped), std::move(vars));
}

void InstallChildReaper(absl::Duration deadline) {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  std::thread([deadline] {
    absl::SleepFor(deadline);
    std::fprintf(stderr,
                 "nsm-bench: the run overran its deadline of %s (--timeout); killing "
                 "the topology\n",
                 absl::FormatDuration(deadline).c_str());
    KillAll();
    _exit(3);
  }).detach();
}

int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/nsm-bench-XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "";
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& nsm_url) {
  std::string target = nsm_url;
  if (absl::StartsWith(target, "unix://")) {
    target = "unix:" + target.substr(7);
  } else if (absl::StartsWith(target, "tcp://")) {
    target = target.substr(6);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitServing(Child& child, const std::string& url, absl::Duration timeout) {
  auto channel = OwnChannel(url);
  const absl::Time end = absl::Now() + timeout;
  std::string last = "no answer";
  while (absl::Now() < end) {
    if (int code = child.ExitedWith(); code >= 0) {
      return absl::UnavailableError(
          absl::StrCat(child.name(), " exited with ", code, " before serving\n", child.Tail()));
    }
    auto health = CheckHealth(channel, "", absl::Milliseconds(500));
    if (health.ok() && *health == "SERVING") return absl::OkStatus();
    last = health.ok() ? *health : std::string(health.status().message());
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(child.name(), " not serving on ", url, " within ",
                                                  absl::FormatDuration(timeout), ": ", last, "\n",
                                                  child.Tail()));
}

absl::Status WaitRegistered(Child& observer, const std::string& url, const std::string& name,
                            absl::Duration timeout) {
  auto channel = OwnChannel(url);
  auto stub = ::registry::NetworkServiceEndpointRegistry::NewStub(channel);
  const absl::Time end = absl::Now() + timeout;
  std::string last = "not found";
  while (absl::Now() < end) {
    if (int code = observer.ExitedWith(); code >= 0) {
      return absl::UnavailableError(
          absl::StrCat(observer.name(), " exited with ", code, "\n", observer.Tail()));
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    ::registry::NetworkServiceEndpointQuery q;
    q.mutable_network_service_endpoint()->set_name(name);
    auto reader = stub->Find(&ctx, q);
    ::registry::NetworkServiceEndpointResponse r;
    bool found = false;
    while (reader->Read(&r)) found = found || r.network_service_endpoint().name() == name;
    grpc::Status s = reader->Finish();
    if (found) return absl::OkStatus();
    if (!s.ok()) last = s.error_message();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(name, " not registered at ", url, " within ",
                                                  absl::FormatDuration(timeout), ": ", last));
}

}  // namespace nsm::bench

// The processes nsm-bench starts: finding their binaries, starting them on unix sockets, waiting
// until they serve, and killing every child at the end, on a signal or past the deadline.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "testing/process.h"

namespace nsm::bench {

struct Binaries {
  std::string registry_memory, nsmgr, forwarder, nse;
  std::string self;  // nsm-bench itself (its `hop` mode serves the baseline)
};

// Flag value, else NSM_BENCH_<NAME>_BIN, else the path CMake compiled in, else the Bazel runfiles
// path, else next to nsm-bench. Missing binaries are left empty.
Binaries FindBinaries(const Binaries& flags);

// What every mode shares.
struct Env {
  Binaries bin;
  std::string dir;        // temp dir for sockets and child output
  bool progress = false;  // stdout is a terminal
  bool smoke = false;
  std::string log_level = "INFO";  // NSM_LOG_LEVEL of the children
  // --wrap=NAME=COMMAND: the child called NAME runs under COMMAND (e.g. valgrind) for profiles.
  std::string wrap_name, wrap_command;
  // --child_env: NAME=VALUE added to every child's environment.
  std::vector<std::string> child_env;
  // How long a child may take to start serving (longer when wrapped).
  absl::Duration start_timeout = absl::Seconds(30);
  // Baseline hops: 0 forward asynchronously (gRPC's callback client, no thread of ours); N > 0
  // forward on a pool of N workers with a blocking call, the threading of our synchronous
  // transport, to measure what that threading costs apart from the elements.
  int hop_pool = 0;
  // Baseline hops each run from their own copy of nsm-bench, as the mesh's processes are distinct
  // programs: processes of one binary share its code pages and so each other's cache lines, which
  // made the bare chain ~20 % faster than distinct programs can be. false: one shared binary.
  bool hop_own_binaries = true;
};

// A child process of the run; SIGKILLed when destroyed (and by the watchdog or a signal).
class Child {
 public:
  // `env` is the complete environment ("NAME=value").
  Child(const std::string& name, const std::string& binary, const std::string& dir,
        std::vector<std::string> args, std::vector<std::string> env);
  ~Child();

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  bool started() const { return process_->started(); }
  // Exit code if it already exited, else -1 (does not wait).
  int ExitedWith();
  // The last lines of its stderr and stdout, for error messages.
  std::string Tail(size_t lines = 15) const;
  // SIGTERM, then SIGKILL after `grace`.
  void Stop(absl::Duration grace = absl::Seconds(3));

 private:
  std::string name_;
  pid_t pid_ = -1;
  std::unique_ptr<nsm::testing::Process> process_;
};

// A child of the run called `name` (its output goes to <dir>/<name>.out/.err), wrapped when
// env.wrap_name is `name`.
std::unique_ptr<Child> Spawn(const Env& env, const std::string& name, const std::string& binary,
                             std::vector<std::string> args, std::vector<std::string> vars);

// Kills every live child on SIGINT/SIGTERM and when `deadline` passes (then exits with 3 after
// printing `what` overran). Call once from main.
void InstallChildReaper(absl::Duration deadline);

// A loopback tcp port nobody listens on right now (bound to 0, read, closed), or 0.
int FreeTcpPort();

// A temp directory "/tmp/nsm-bench-XXXXXX" removed unless `keep`.
std::string MakeTempDir();
void RemoveDir(const std::string& dir);

// An insecure channel of its own (no subchannel sharing with other channels to the same target),
// so concurrent workers each have their own connection as separate clients would.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& nsm_url);

// Waits until grpc.health.v1 says SERVING on `url`, `child` is still running and within `timeout`.
absl::Status WaitServing(Child& child, const std::string& url, absl::Duration timeout);

// Waits until the NSE registry at `url` finds an endpoint named `name`.
absl::Status WaitRegistered(Child& observer, const std::string& url, const std::string& name,
                            absl::Duration timeout);

}  // namespace nsm::bench

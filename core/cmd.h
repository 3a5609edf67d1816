// The start-up and shutdown every binary shares (binaries.md §0.4 signals, DESIGN.md §3
// configuration, issue #8 logs): arguments and --help, signals taken by one thread (stop signals
// end a root context, SIGUSR1/SIGUSR2 step the log level), configuration from the environment or
// "invalid configuration ... see --help", log set-up, the insecure-transport warning, extra
// services (metrics...), the main service, and an orderly stop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/context.h"
#include "core/credentials.h"
#include "core/log.h"

namespace nsm::cmd {

// What a started command can use.
class Process {
 public:
  virtual ~Process() = default;
  virtual const std::string& name() const = 0;
  // Cancelled when the first stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) arrives.
  virtual const Context& context() const = 0;
  // Blocks until a stop signal has arrived.
  virtual void WaitForStop() = 0;
  // When the process started (before the configuration was read).
  virtual absl::Time start_time() const = 0;
  // The transport credentials of every server and client (insecure until SPIFFE lands; the
  // warning saying so is logged before anything starts).
  virtual std::shared_ptr<Credentials> credentials() const = 0;
};

// Something started by a command: the main service or an extra one.
class Service {
 public:
  virtual ~Service() = default;
  // The main service runs here after a successful start, until its work is done or a stop signal
  // arrived; returns the exit code. The default waits for the stop signal and returns 0. Not
  // called for extra services.
  virtual int Run(Process& process) {
    process.WaitForStop();
    return 0;
  }
  // Stops what the start function started, in bounded time. A non-zero code becomes the exit code
  // when Run returned 0.
  virtual int Stop() = 0;
};

// A Service from two functions (`run` nullptr: wait for the stop signal).
std::unique_ptr<Service> MakeService(std::function<int()> stop,
                                     std::function<int(Process&)> run = nullptr);

template <typename Config>
using StartFunc = std::function<absl::StatusOr<std::unique_ptr<Service>>(Process&, Config&)>;

// One binary. Config must have `log::Level log_level`, `log::Format log_format` and
// `std::string spiffe_endpoint_socket`.
template <typename Config>
struct Command {
  std::string name;
  std::function<std::string()> help;
  // Reads the configuration (from the environment); errors name the variable and the value.
  std::function<absl::StatusOr<Config>()> parse;
  // One line for the start-up log.
  std::function<std::string(const Config&)> describe;
  // Command-line arguments besides --help: true when taken. nullptr: none.
  std::function<bool(absl::string_view arg)> flag = nullptr;
  // Started in order before `start`, stopped after the main service in reverse order (a metrics
  // server, a debug endpoint...). An error stops the start-up.
  std::vector<StartFunc<Config>> extras = {};
  // Starts the main service.
  StartFunc<Config> start;
  // Abseil's lock-order (deadlock) check costs about 5 % of the nsmgr's instructions
  // (docs/PERFORMANCE.md): binaries run without it, tests that run a command in-process keep it.
  bool check_lock_order = false;
  // Re-execute once with glibc's malloc tuned (core/malloc_tuning.h) before anything starts. The
  // binaries' mains set it; a test that runs a command in-process must not.
  bool tune_malloc = false;
  // Run on NSM_GRPC_CALLBACK_THREADS of gRPC's callback threads and park the others
  // (core/callback_threads.h) for the life of the command. The binaries' mains set it; a test that
  // runs a command in-process leaves its process's gRPC alone.
  bool limit_callback_threads = false;
};

namespace internal {

struct Settings {
  log::Level level;
  log::Format format;
  std::string spiffe_endpoint_socket;
  std::string description;
};

struct ErasedCommand {
  std::string name;
  std::function<std::string()> help;
  std::function<bool(absl::string_view)> flag;
  bool check_lock_order = false;
  bool tune_malloc = false;
  bool limit_callback_threads = false;
  std::function<absl::StatusOr<Settings>()> configure;
  std::vector<std::function<absl::StatusOr<std::unique_ptr<Service>>(Process&)>> extras;
  std::function<absl::StatusOr<std::unique_ptr<Service>>(Process&)> start;
};

int Run(const ErasedCommand& command, int argc, char** argv);

}  // namespace internal

// The whole life of a binary; returns main's exit code: 0, 1 (invalid configuration, a start
// failure, or what the service's Run/Stop returned), 2 (unknown argument).
template <typename Config>
int RunCommand(Command<Config> command, int argc, char** argv) {
  auto config = std::make_shared<std::optional<Config>>();
  internal::ErasedCommand erased;
  erased.name = command.name;
  erased.help = command.help;
  erased.flag = command.flag;
  erased.check_lock_order = command.check_lock_order;
  erased.tune_malloc = command.tune_malloc;
  erased.limit_callback_threads = command.limit_callback_threads;
  erased.configure = [config, parse = command.parse,
                      describe = command.describe]() -> absl::StatusOr<internal::Settings> {
    auto parsed = parse();
    if (!parsed.ok()) return parsed.status();
    config->emplace(*std::move(parsed));
    const Config& c = **config;
    return internal::Settings{c.log_level, c.log_format, c.spiffe_endpoint_socket, describe(c)};
  };
  for (auto& extra : command.extras) {
    erased.extras.push_back([config, extra](Process& p) { return extra(p, **config); });
  }
  erased.start = [config, start = command.start](Process& p) { return start(p, **config); };
  return internal::Run(erased, argc, argv);
}

}  // namespace nsm::cmd

// The start-up and shutdown every binary shares (binaries.md §0.4 signals, DESIGN.md §3
// configuration, issue #8 logs): see cmd.h.
#include "core/cmd.h"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"

namespace nsm::cmd {
namespace {

bool IsStopSignal(int sig) {
  return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  return set;
}

bool BlockHandledSignals() {
  const sigset_t set = HandledSignals();
  return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
}

class FunctionService : public Service {
 public:
  FunctionService(std::function<int()> stop, std::function<int(Process&)> run)
      : stop_(std::move(stop)), run_(std::move(run)) {}
  int Run(Process& process) override { return run_ ? run_(process) : Service::Run(process); }
  int Stop() override { return stop_ ? stop_() : 0; }

 private:
  std::function<int()> stop_;
  std::function<int(Process&)> run_;
};

// The signals are blocked in every thread (the mask is set before any thread starts) and taken
// synchronously by one thread: a stop signal cancels the root context, SIGUSR1/SIGUSR2 step the
// process-wide log level.
class ProcessImpl : public Process {
 public:
  explicit ProcessImpl(std::string name) : name_(std::move(name)), start_(absl::Now()) {
    const sigset_t set = HandledSignals();
    auto [ctx, cancel] = Context().WithCancel();
    ctx_ = ctx;
    cancel_ = cancel;
    waiter_ = std::thread([this, set] { WaitForSignals(set); });
  }

  ~ProcessImpl() override {
    closing_.store(true);
    pthread_kill(waiter_.native_handle(), SIGUSR1);  // blocked everywhere: sigwait takes it
    waiter_.join();
    cancel_();
  }

  const std::string& name() const override { return name_; }
  const Context& context() const override { return ctx_; }
  void WaitForStop() override { stopped_.WaitForNotification(); }
  absl::Time start_time() const override { return start_; }
  std::shared_ptr<Credentials> credentials() const override { return credentials_; }
  void set_credentials(std::shared_ptr<Credentials> c) { credentials_ = std::move(c); }

 private:
  void WaitForSignals(const sigset_t& set) {
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (closing_.load()) return;
      if (sig == SIGUSR1 || sig == SIGUSR2) {
        log::Level level =
            sig == SIGUSR1 ? log::Default().RaiseLevel() : log::Default().LowerLevel();
        log::Default().Notice(name_,
                              absl::StrCat("log level is now ", log::LevelName(level), " (",
                                           sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2", ")"),
                              {{"level", log::LevelName(level)}});
      } else if (IsStopSignal(sig)) {
        if (stopped_.HasBeenNotified()) {
          log::Info(name_, absl::StrCat("received ", strsignal(sig), ", already shutting down"));
          continue;
        }
        log::Info(name_, absl::StrCat("received ", strsignal(sig), ", shutting down"));
        cancel_();
        stopped_.Notify();
      }
    }
  }

  // First: the mask is set before any member starts a thread (a Context starts the real clock's).
  bool blocked_ = BlockHandledSignals();
  std::string name_;
  absl::Time start_;
  Context ctx_;
  Context::CancelFunc cancel_;
  std::shared_ptr<Credentials> credentials_;
  absl::Notification stopped_;
  std::atomic<bool> closing_{false};
  std::thread waiter_;
};

}  // namespace

std::unique_ptr<Service> MakeService(std::function<int()> stop, std::function<int(Process&)> run) {
  return std::make_unique<FunctionService>(std::move(stop), std::move(run));
}

namespace internal {

int Run(const ErasedCommand& command, int argc, char** argv) {
  const char* cmd = command.name.c_str();
  if (!command.check_lock_order) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::fputs(command.help().c_str(), stdout);
      return 0;
    }
    if (command.flag && command.flag(arg)) continue;
    std::fprintf(stderr,
                 "%s: unknown argument \"%s\"; configuration comes from the environment "
                 "(see %s --help)\n",
                 cmd, arg.c_str(), cmd);
    return 2;
  }

  // Before any thread starts: the process image is replaced, or goes on unchanged.
  if (command.tune_malloc) {
    if (auto s = malloc_tuning::ReexecWithTunables(argv); !s.ok()) {
      std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", cmd,
                   std::string(s.message()).c_str(), cmd);
      return 1;
    }
  }

  // Before any other thread starts, so that every thread inherits the signal mask.
  ProcessImpl process(command.name);
  auto settings = command.configure();
  int keep_callback_threads = 0;  // checked with the rest of the configuration, applied below
  if (settings.ok() && command.limit_callback_threads) {
    auto keep = callback_threads::ParseSetting(std::getenv(callback_threads::kVariable));
    if (keep.ok()) {
      keep_callback_threads = *keep;
    } else {
      settings = keep.status();
    }
  }
  if (!settings.ok()) {
    std::fprintf(stderr, "%s: invalid configuration: %s\n(see %s --help)\n", cmd,
                 std::string(settings.status().message()).c_str(), cmd);
    return 1;
  }
  log::SetLevel(settings->level);
  log::SetFormat(settings->format);
  log::Info(cmd, absl::StrCat("config: ", settings->description));
  if (command.tune_malloc) log::Info(cmd, malloc_tuning::Describe());
  // Destroyed last, after every server and channel of the command: it releases the parked threads.
  std::unique_ptr<callback_threads::Limit> callback_limit;
  if (command.limit_callback_threads) {
    auto applied = callback_threads::ApplySetting(keep_callback_threads);
    callback_limit = std::move(applied.limit);
    log::Write(applied.warning ? log::Level::kWarn : log::Level::kInfo, cmd, applied.description);
  }

  // Explicitly insecure until SPIFFE mTLS lands (DESIGN.md §3): say so on every start.
  process.set_credentials(MakeInsecureCredentials());
  log::Warn(cmd, absl::StrCat("transport security: ", process.credentials()->Describe(),
                              settings->spiffe_endpoint_socket.empty()
                                  ? ""
                                  : "; SPIFFE_ENDPOINT_SOCKET is set but mTLS is not "
                                    "implemented yet"));

  std::vector<std::unique_ptr<Service>> extras;
  auto stop_extras = [&extras] {
    int code = 0;
    for (auto it = extras.rbegin(); it != extras.rend(); ++it) {
      if (int c = (*it)->Stop(); c != 0 && code == 0) code = c;
    }
    extras.clear();
    return code;
  };
  for (const auto& start_extra : command.extras) {
    auto extra = start_extra(process);
    if (!extra.ok()) {
      log::Error(cmd, std::string(extra.status().message()));
      stop_extras();
      return 1;
    }
    extras.push_back(*std::move(extra));
  }
  auto service = command.start(process);
  if (!service.ok()) {
    log::Error(cmd, std::string(service.status().message()));
    stop_extras();
    return 1;
  }
  int code = (*service)->Run(process);
  if (int c = (*service)->Stop(); code == 0) code = c;
  service->reset();
  if (int c = stop_extras(); code == 0) code = c;
  log::Info(cmd, "stopped");
  return code;
}

}  // namespace internal
}  // namespace nsm::cmd

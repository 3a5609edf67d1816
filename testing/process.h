// A child process for black-box tests of the binaries: spawned with an exact environment, output
// captured to files, bounded waits, killed when the test ends (DESIGN.md §3 "resources are owned").
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nsm::testing {

std::string ReadFile(const std::string& path);

class Process {
 public:
  // Runs `binary` with `args` and exactly `env` ("NAME=value"); stdout and stderr go to
  // <dir>/<name>.out and <dir>/<name>.err.
  Process(const std::string& binary, const std::string& dir, const std::string& name,
          std::vector<std::string> args, std::vector<std::string> env);
  // SIGKILL if still running.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return started_; }
  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed by one), or -1 if it did not exit within `timeout`.
  int Wait(absl::Duration timeout = absl::Seconds(30));
  void Signal(int sig);
  // Polls (bounded) until `pred(err() + out())` holds; false on timeout or exit.
  template <class Pred>
  bool WaitForOutput(Pred pred, absl::Duration timeout = absl::Seconds(30));
  std::string out() const { return ReadFile(out_); }
  std::string err() const { return ReadFile(err_); }

 private:
  bool Running();
  pid_t pid_ = -1;
  bool started_ = false;
  int exit_code_ = -1;
  std::string out_, err_;
};

template <class Pred>
bool Process::WaitForOutput(Pred pred, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (pred(err() + out())) return true;
    if (!Running()) return pred(err() + out());
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

}  // namespace nsm::testing

// A child process for black-box tests of the reference binaries: argv and environment given,
// stdout/stderr to files, bounded waits, killed on destruction (tests only; no gtest here).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace nsm::reference {

class Subprocess {
 public:
  // Starts `binary` with `args` and exactly `env`; output goes to <dir>/<name>.out and .err.
  Subprocess(const std::string& binary, std::vector<std::string> args, std::vector<std::string> env,
             const std::string& dir, const std::string& name);
  // SIGKILL and reap if still running.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return started_; }
  // The exit code (128 + signal when killed), or -1 if it did not end within `timeout`.
  int Wait(absl::Duration timeout = absl::Seconds(30));
  bool running();
  void Signal(int sig);
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  bool started_ = false;
  int exit_code_ = -1;
  std::string out_path_, err_path_;
};

// The file's contents ("" when missing).
std::string ReadFile(const std::string& path);

}  // namespace nsm::reference

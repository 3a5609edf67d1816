#include "testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"

namespace nsm::testing {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Process::Process(const std::string& binary, const std::string& dir, const std::string& name,
                 std::vector<std::string> args, std::vector<std::string> env)
    : out_(dir + "/" + name + ".out"), err_(dir + "/" + name + ".err") {
  args.insert(args.begin(), binary);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  started_ = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0;
  posix_spawn_file_actions_destroy(&fa);
  if (!started_) pid_ = -1;
}

Process::~Process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Process::Wait(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > end) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exit_code_;
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

}  // namespace nsm::testing

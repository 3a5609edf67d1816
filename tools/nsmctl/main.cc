// nsmctl: the operator's command-line view of a running mesh (get, describe, watch, graph); Ctrl-C
// ends a watch cleanly (issue #8).
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "tools/nsmctl/cli.h"

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are taken by a thread of ours (blocked everywhere else, so gRPC's threads never
  // see them): the first cancels the command, a second one exits at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto [ctx, cancel] = nsm::Context().WithCancel();
  std::thread([signals, cancel = cancel] {
    int sig = 0;
    sigwait(&signals, &sig);
    cancel();
    sigwait(&signals, &sig);
    _exit(128 + sig);
  }).detach();

  std::vector<std::string> args(argv + 1, argv + argc);
  const int code = nsm::nsmctl::Run(args, std::cout, std::cerr, ctx);
  std::cout.flush();
  return code;
}

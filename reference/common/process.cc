#include "reference/common/process.h"

#include <csignal>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace nsm::reference {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
  return set;
}

}  // namespace

std::unique_ptr<SignalContext> SignalContext::Install(std::string component) {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::unique_ptr<SignalContext> s(new SignalContext());
  s->component_ = std::move(component);
  auto [ctx, cancel] = Context().WithCancel();
  s->ctx_ = ctx;
  s->cancel_ = cancel;
  SignalContext* self = s.get();
  s->waiter_ = std::thread([self, set] {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    if (self->stopping_.load()) return;
    self->signal_.store(sig);
    log::Info(self->component_, absl::StrCat("received ", strsignal(sig), ", shutting down"));
    self->cancel_();
    self->received_.Notify();
  });
  return s;
}

SignalContext::~SignalContext() {
  if (waiter_.joinable()) {
    if (!received_.HasBeenNotified()) {
      stopping_.store(true);
      pthread_kill(waiter_.native_handle(), SIGTERM);  // blocked: sigwait takes it
    }
    waiter_.join();
  }
}

}  // namespace nsm::reference

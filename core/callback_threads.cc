#include "core/callback_threads.h"

#include <grpc/support/cpu.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace nsm::callback_threads {

// What the parked callbacks and the Limit share.
struct Limit::State {
  absl::Mutex mu;
  int parked ABSL_GUARDED_BY(mu) = 0;
  // Callbacks that ran and did not park (the pool is full, or the thread is not the pool's).
  int declined ABSL_GUARDED_BY(mu) = 0;
  int target ABSL_GUARDED_BY(mu) = 0;
  int pool ABSL_GUARDED_BY(mu) = 0;
  bool release ABSL_GUARDED_BY(mu) = false;
};

namespace {

// Threads parked by every Limit of the process: one thread of the pool always stays free.
std::atomic<int> g_parked{0};

// Counts one more parked thread unless `most` are parked already.
bool TakeParkingPlace(int most) {
  int n = g_parked.load();
  while (n < most) {
    if (g_parked.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

bool OnPoolThread() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return false;
  return absl::string_view(name) == kThreadName;
}

// One call that fails at once (its deadline has passed); its callback, on one of the pool's
// threads, parks that thread while the state wants more parked.
void StartParkingCall(grpc::GenericStub& stub, const std::shared_ptr<Limit::State>& state) {
  struct Call {
    grpc::ClientContext context;
    grpc::Slice empty;
    grpc::ByteBuffer request{&empty, 1};  // gRPC refuses a ByteBuffer without a slice
    grpc::ByteBuffer response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now());
  stub.UnaryCall(&call->context, "/nsm.CallbackThreads/Park", grpc::StubOptions(), &call->request,
                 &call->response, [state, call](const grpc::Status&) {
                   absl::MutexLock lock(&state->mu);
                   if (state->release || state->parked >= state->target || !OnPoolThread() ||
                       !TakeParkingPlace(state->pool - 1)) {
                     ++state->declined;
                     return;
                   }
                   ++state->parked;
                   state->mu.Await(absl::Condition(&state->release));
                   --state->parked;
                   --g_parked;
                 });
}

}  // namespace

Limit::Limit(std::shared_ptr<State> state, int pool, std::shared_ptr<grpc::Channel> channel,
             std::unique_ptr<grpc::GenericStub> stub)
    : state_(std::move(state)), pool_(pool), channel_(std::move(channel)), stub_(std::move(stub)) {}

absl::StatusOr<int> ParseSetting(const char* value) {
  const char* setting = value != nullptr ? value : kDefault;
  int count = 0;
  if (!absl::SimpleAtoi(setting, &count) || count < 0 || count > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        kVariable, "=\"", setting,
        "\" is invalid: want a count from 0 to 64 (0: all of gRPC's callback threads)"));
  }
  return count;
}

int CountPoolThreads() {
  int n = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == kThreadName) ++n;
  }
  return n;
}

absl::StatusOr<std::unique_ptr<Limit>> Limit::Apply(int keep, absl::Duration timeout) {
  if (keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("callback threads: keep ", keep, " is invalid: want at least 1"));
  }
  auto state = std::make_shared<State>();
  // Nothing listens there: the calls never leave the process (their deadline has passed anyway).
  auto channel = grpc::CreateChannel("unix:/nonexistent/nsm-callback-threads",
                                     grpc::InsecureChannelCredentials());
  auto stub = std::make_unique<grpc::GenericStub>(channel);
  // A first call makes gRPC start its pool (if nothing did yet); its callback parks nothing.
  StartParkingCall(*stub, state);
  const absl::Time end = absl::Now() + timeout;
  auto declined_at_least = [&state](int n) {
    return [&state, n] {
      state->mu.AssertReaderHeld();
      return state->declined >= n;
    };
  };
  {
    absl::MutexLock lock(&state->mu);
    auto first = declined_at_least(1);
    if (!state->mu.AwaitWithDeadline(absl::Condition(&first), end)) {
      return absl::DeadlineExceededError("callback threads: gRPC did not run a callback in time");
    }
  }
  // gRPC 1.51 starts max(2, cores / 2) threads; each takes its name when it first runs, so a count
  // taken at once can miss some. Only named threads count: another gRPC may start fewer.
  const int expected = std::clamp(static_cast<int>(gpr_cpu_num_cores()) / 2, 2, 16);
  int pool = CountPoolThreads();
  while (pool < expected && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(1));
    pool = CountPoolThreads();
  }
  std::unique_ptr<Limit> limit(new Limit(state, pool, std::move(channel), std::move(stub)));
  // Threads parked by other limits count as gone.
  const int target = pool - keep - g_parked.load();
  if (target <= 0) return limit;
  {
    absl::MutexLock lock(&state->mu);
    state->target = target;
    state->pool = pool;
  }
  // One call at a time: while one thread is parked, the next callback runs on another.
  for (int i = 0; i < target; ++i) {
    int declined_before;
    {
      absl::MutexLock lock(&state->mu);
      declined_before = state->declined;
    }
    StartParkingCall(*limit->stub_, state);
    bool in_time, parked_one;
    {
      absl::MutexLock lock(&state->mu);
      auto done = [&state, declined_before, i] {
        state->mu.AssertReaderHeld();
        return state->parked > i || state->declined > declined_before;
      };
      in_time = state->mu.AwaitWithDeadline(absl::Condition(&done), end);
      parked_one = state->parked > i;
    }
    if (!in_time) {
      limit.reset();  // releases those parked
      return absl::DeadlineExceededError(
          absl::StrCat("callback threads: ", i, " of ", target, " parked in time"));
    }
    // Not a thread of the pool (another gRPC): park nothing more.
    if (!parked_one) break;
  }
  return limit;
}

Limit::~Limit() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->release = true;
    auto gone = [this] {
      state_->mu.AssertReaderHeld();
      return state_->parked == 0;
    };
    state_->mu.Await(absl::Condition(&gone));
  }
  // Here, not in a callback: gRPC joins its pool's threads when the last channel or server that
  // uses the pool goes, and a thread of the pool cannot join itself.
  stub_.reset();
  channel_.reset();
}

int Limit::parked() const {
  absl::MutexLock lock(&state_->mu);
  return state_->parked;
}

std::string Describe(const Limit* limit, int keep) {
  if (limit == nullptr) {
    return absl::StrCat("gRPC callback threads: all of gRPC's (", kVariable, "=", keep, ")");
  }
  return absl::StrCat("gRPC callback threads: ", limit->pool() - limit->parked(), " of ",
                      limit->pool(), " (", kVariable, "=", keep, ")");
}

absl::StatusOr<Applied> ApplyFromEnvironment(absl::Duration timeout) {
  auto keep = ParseSetting(std::getenv(kVariable));
  if (!keep.ok()) return keep.status();
  Applied applied;
  if (*keep > 0) {
    auto limit = Limit::Apply(*keep, timeout);
    if (limit.ok()) {
      applied.limit = *std::move(limit);
    } else {
      applied.warning = true;
      applied.description =
          absl::StrCat("gRPC callback threads: not limited: ", limit.status().message());
      return applied;
    }
  }
  applied.description = Describe(applied.limit.get(), *keep);
  return applied;
}

env::Variable HelpRow() {
  return {kVariable, "count", kDefault,
          "how many of gRPC's callback threads (max(2, cores/2) in gRPC 1.51) run the "
          "binary's work; the others are parked for the life of the process, which saves a "
          "wakeup and a context switch per gRPC event on small nodes; 0: all of them (not in "
          "NSM)",
          /*prefixed=*/false};
}

}  // namespace nsm::callback_threads

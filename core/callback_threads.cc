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
  // Calls whose callback has returned (parked and released, or declined).
  int finished ABSL_GUARDED_BY(mu) = 0;
};

// One call that fails at once (its deadline has passed). The Limit owns it, not its callback: the
// ClientContext holds the channel, and the channel must not go on a thread of the pool.
struct Limit::Call {
  grpc::ClientContext context;
  grpc::Slice empty;
  grpc::ByteBuffer request{&empty, 1};  // gRPC refuses a ByteBuffer without a slice
  grpc::ByteBuffer response;
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

// Parks the calling thread, one of the pool's, while the state wants more parked.
void ParkOrDecline(Limit::State& state) {
  absl::MutexLock lock(&state.mu);
  if (!state.release && state.parked < state.target && OnPoolThread() &&
      TakeParkingPlace(state.pool - 1)) {
    ++state.parked;
    state.mu.Await(absl::Condition(&state.release));
    --state.parked;
    --g_parked;
  } else {
    ++state.declined;
  }
  ++state.finished;
}

}  // namespace

Limit::Limit(std::shared_ptr<grpc::Channel> channel)
    : state_(std::make_shared<State>()),
      channel_(std::move(channel)),
      stub_(std::make_unique<grpc::GenericStub>(channel_)) {}

void Limit::StartCall() {
  calls_.push_back(std::make_unique<Call>());
  Call& call = *calls_.back();
  call.context.set_deadline(std::chrono::system_clock::now());
  stub_->UnaryCall(&call.context, "/nsm.CallbackThreads/Park", grpc::StubOptions(), &call.request,
                   &call.response,
                   [state = state_](const grpc::Status&) { ParkOrDecline(*state); });
}

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
  // Nothing listens there: the calls never leave the process (their deadline has passed anyway),
  // and the channel goes idle a second after the last one instead of retrying to connect.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, 1000);
  std::unique_ptr<Limit> limit(new Limit(grpc::CreateCustomChannel(
      "unix:/nonexistent/nsm-callback-threads", grpc::InsecureChannelCredentials(), args)));
  const std::shared_ptr<State>& state = limit->state_;
  // A first call makes gRPC start its pool (if nothing did yet); its callback parks nothing.
  limit->StartCall();
  const absl::Time end = absl::Now() + timeout;
  {
    absl::MutexLock lock(&state->mu);
    auto first = [&state] {
      state->mu.AssertReaderHeld();
      return state->declined >= 1;
    };
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
  // Threads parked by other limits count as gone.
  const int target = pool - keep - g_parked.load();
  {
    absl::MutexLock lock(&state->mu);
    state->pool = pool;
    if (target <= 0) return limit;
    state->target = target;
  }
  // One call at a time: while one thread is parked, the next callback runs on another.
  for (int i = 0; i < target; ++i) {
    int declined_before;
    {
      absl::MutexLock lock(&state->mu);
      declined_before = state->declined;
    }
    limit->StartCall();
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
  bool finished;
  {
    absl::MutexLock lock(&state_->mu);
    state_->release = true;
    auto all_back = [this] {
      state_->mu.AssertReaderHeld();
      return state_->finished == static_cast<int>(calls_.size());
    };
    // Their deadline has passed: only a gRPC that runs no callback at all keeps one waiting.
    finished = state_->mu.AwaitWithTimeout(absl::Condition(&all_back), absl::Seconds(5));
  }
  if (!finished) {
    // A call still in flight uses its context and the channel: leave them to it.
    for (auto& call : calls_) call.release();
    new std::shared_ptr<grpc::Channel>(std::move(channel_));
    stub_.release();
    return;
  }
  // Here, not in a callback: gRPC joins its pool's threads when the last channel or server that
  // uses the pool goes, and a thread of the pool cannot join itself.
  calls_.clear();
  stub_.reset();
  channel_.reset();
}

int Limit::pool() const {
  absl::MutexLock lock(&state_->mu);
  return state_->pool;
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

Applied ApplySetting(int keep, absl::Duration timeout) {
  Applied applied;
  if (keep > 0) {
    auto limit = Limit::Apply(keep, timeout);
    if (!limit.ok()) {
      applied.warning = true;
      applied.description =
          absl::StrCat("gRPC callback threads: not limited: ", limit.status().message());
      return applied;
    }
    applied.limit = *std::move(limit);
  }
  applied.description = Describe(applied.limit.get(), keep);
  return applied;
}

absl::StatusOr<Applied> ApplyFromEnvironment(absl::Duration timeout) {
  auto keep = ParseSetting(std::getenv(kVariable));
  if (!keep.ok()) return keep.status();
  return ApplySetting(*keep, timeout);
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

// How many of gRPC's callback threads a binary runs its work on (docs/PERFORMANCE.md, "gRPC's
// callback threads"). gRPC 1.51 runs every callback-API event on its own pool of "nexting"
// threads, max(2, cores / 2) of them, which hand the poller role to each other on every event: on a
// small node each handoff is a wakeup and a context switch. A limit parks the surplus threads, each
// in a callback of its own, until it is destroyed.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/envconfig.h"

namespace nsm::callback_threads {

// The variable that sets how many threads keep running callbacks; 0 leaves gRPC's pool as it is.
inline constexpr char kVariable[] = "NSM_GRPC_CALLBACK_THREADS";
inline constexpr char kDefault[] = "1";
// The name gRPC gives the threads of its callback pool.
inline constexpr char kThreadName[] = "nexting_thread";

// kVariable's value (nullptr when unset: kDefault) as a count from 0 to 64; INVALID_ARGUMENT naming
// the variable and the value otherwise.
absl::StatusOr<int> ParseSetting(const char* value);

// Threads of this process named kThreadName now.
int CountPoolThreads();

class Limit {
 public:
  // Parks all but `keep` (>= 1) of the pool's threads, each in the callback of a call that fails at
  // once, and returns when they are parked. Parks nothing when the pool has `keep` threads or
  // fewer, or when gRPC runs the callbacks on threads not named kThreadName (another gRPC). An
  // error when `keep` < 1 or when the threads are not parked within `timeout` (those parked by then
  // are released first).
  static absl::StatusOr<std::unique_ptr<Limit>> Apply(int keep, absl::Duration timeout);

  // Releases the parked threads and waits until each has returned to gRPC.
  ~Limit();
  Limit(const Limit&) = delete;
  Limit& operator=(const Limit&) = delete;

  int pool() const;  // the pool's threads when the limit was applied
  int parked() const;

  struct State;
  struct Call;

 private:
  explicit Limit(std::shared_ptr<grpc::Channel> channel);
  // Starts one call that fails at once; its callback parks its thread or declines.
  void StartCall();

  std::shared_ptr<State> state_;
  // Kept until every call has come back: the pool lives while a channel or server uses it.
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::vector<std::unique_ptr<Call>> calls_;
};

// One line for the start-up log: the threads in use.
std::string Describe(const Limit* limit, int keep);

// A setting (ParseSetting) applied to this process: the limit (null when it is 0, or when the
// threads could not be parked: `warning` is then set) and the line for the start-up log; the
// setting's error when it is invalid.
struct Applied {
  std::unique_ptr<Limit> limit;
  std::string description;
  bool warning = false;
};
Applied ApplySetting(int keep, absl::Duration timeout = absl::Seconds(5));
// ParseSetting of kVariable, then ApplySetting.
absl::StatusOr<Applied> ApplyFromEnvironment(absl::Duration timeout = absl::Seconds(5));

// kVariable's row in a binary's --help (not prefixed).
env::Variable HelpRow();

}  // namespace nsm::callback_threads

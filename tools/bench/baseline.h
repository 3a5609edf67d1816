// The physical limit for the mesh figures: no-op gRPC NetworkService hops (`nsm-bench hop`
// processes) as many as the local or remote topology has, with similar messages, under the same
// load.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "networkservice.grpc.pb.h"
#include "networkservice.pb.h"
#include "tools/bench/load.h"
#include "tools/bench/report.h"
#include "tools/bench/topology.h"

namespace nsm::bench {

inline constexpr int kLocalHops = 3;   // nsmgr, forwarder, nse
inline constexpr int kRemoteHops = 5;  // nsmgr-1, forwarder-1, nsmgr-2 (over tcp), forwarder-2, nse

// `nsm-bench hop`: serves NetworkService on `listen`; each call adds this hop's path segment and
// forwards to `next`, or answers when `next` is empty. Forwarding is asynchronous (on gRPC's
// callback threads) when `pool` is 0, else a blocking call on one of `pool` worker threads (as our
// transport runs a chain). Runs until SIGTERM/SIGINT. Returns the exit code.
int RunHop(const std::string& listen, const std::string& next, const std::string& name,
           int pool = 0);

// A request like the NSM client chain sends: connection id, service, labels, the client's path
// segment with its token, one kernel mechanism preference.
::networkservice::NetworkServiceRequest BaselineRequest(int worker, int64_t i);

// The hop processes of a baseline chain and a gRPC stub per client worker.
class BaselineChain {
 public:
  // Starts `hops` hop processes (kLocalHops or kRemoteHops; in the remote chain the second nsmgr
  // listens on loopback tcp, as the remote topology's does) and reports the idle hop's RSS into
  // `section`.
  static absl::StatusOr<std::unique_ptr<BaselineChain>> Start(const Env& env,
                                                              const std::string& section, int hops,
                                                              int workers, Report& report);
  ~BaselineChain();

  std::vector<std::pair<std::string, pid_t>> Pids() const;
  // One Request/Close round trip of client `worker` (a RoundTripFn).
  absl::Status RoundTrip(int worker, int64_t i, absl::Duration* request, absl::Duration* close);
  void Stop();

 private:
  BaselineChain() = default;
  std::vector<std::unique_ptr<Child>> hops_;
  std::vector<std::unique_ptr<::networkservice::NetworkService::Stub>> stubs_;
  std::vector<std::string> copies_;  // the hops' own copies of the binary (Env::hop_own_binaries)
};

// Starts a baseline chain, runs the load on it and reports into `section`; the summary is
// returned for ratios.
absl::Status RunBaselineBench(const Env& env, const LoadSettings& load, Report& report,
                              const std::string& section, int hops = kLocalHops,
                              LoadResult* result = nullptr);

}  // namespace nsm::bench

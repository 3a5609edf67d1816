// nsmctl command line: argument parsing, usage, and the get/describe/watch/graph commands run
// against an nsmgr or a registry (issue #8).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/context.h"
#include "tools/nsmctl/format.h"

namespace nsm::nsmctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // target unreachable, call failed, object not found
inline constexpr int kExitUsage = 2;  // bad arguments

// NSM's default nsmgr socket (binaries.md §3.1 NSM_LISTEN_ON).
inline constexpr char kDefaultNsmgrUrl[] = "unix:///var/lib/networkservicemesh/nsm.io.sock";

enum class Verb { kHelp, kGet, kDescribe, kWatch, kGraph };
enum class Kind { kNone, kNS, kNSE, kForwarders, kConnections };

struct Options {
  Verb verb = Verb::kHelp;
  Kind kind = Kind::kNone;
  std::string name;                 // optional object name (get, watch), required for describe
  std::vector<std::string> nsmgrs;  // --nsmgr (several for graph)
  std::string registry;             // --registry
  Output output = Output::kTable;   // -o table|wide|json
  bool svg = false;                 // graph -o svg
  std::string out_file;             // graph --out
  std::string service;              // --service (get/watch nse)
  std::string forwarder_service = "forwarder";
  absl::Duration timeout = absl::Seconds(5);  // get/describe/graph; watch: none unless given
  bool timeout_given = false;
  absl::Duration dial_timeout = absl::Seconds(2);
};

// Parses the arguments after the program name. InvalidArgument says exactly what is wrong.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args);

// `nsmctl --help`.
std::string Usage();

// Runs nsmctl with `args` (without the program name); `ctx` ends watches (Ctrl-C). Output goes to
// `out`, errors ("nsmctl: ...") to `err`. Returns the exit code.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Context& ctx = Context());

}  // namespace nsm::nsmctl

// nsmctl command line: argument parsing, usage, and the get/describe/watch/graph commands run
// against an nsmgr or a registry (issue #8).
#include "tools/nsmctl/cli.h"

#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/path.h"
#include "google/protobuf/util/message_differencer.h"
#include "tools/nsmctl/fetch.h"
#include "tools/nsmctl/graph.h"

extern char** environ;

namespace nsm::nsmctl {
namespace {

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<Kind> ParseKind(const std::string& s) {
  if (s == "ns" || s == "networkservice" || s == "networkservices") return Kind::kNS;
  if (s == "nse" || s == "nses" || s == "endpoint" || s == "endpoints" ||
      s == "networkserviceendpoint" || s == "networkserviceendpoints") {
    return Kind::kNSE;
  }
  if (s == "forwarder" || s == "forwarders") return Kind::kForwarders;
  if (s == "connection" || s == "connections" || s == "conn" || s == "conns") {
    return Kind::kConnections;
  }
  return Bad(
      absl::StrCat("unknown resource type \"", s, "\" (want ns, nse, forwarders or connections)"));
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNS:
      return "ns";
    case Kind::kNSE:
      return "nse";
    case Kind::kForwarders:
      return "forwarders";
    case Kind::kConnections:
      return "connections";
    case Kind::kNone:
      break;
  }
  return "";
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(const std::string& flag,
                                                     const std::string& value) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
    return Bad(absl::StrCat(flag, "=\"", value,
                            "\" is not a positive duration (examples: 500ms, 5s, 2m)"));
  }
  return d;
}

}  // namespace

std::string Usage() {
  return R"(nsmctl: look at a running Network Service Mesh (nsmgr and registry).

Usage:
  nsmctl get ns|nse|forwarders|connections [NAME] [--nsmgr URL | --registry URL]
             [-o table|wide|json]
  nsmctl describe nse NAME [--nsmgr URL | --registry URL] [-o json]
  nsmctl watch ns|nse|forwarders|connections [NAME] [--nsmgr URL | --registry URL] [-o json]
  nsmctl graph [--nsmgr URL ...] [--registry URL] [-o dot|svg] [--out FILE]

Commands:
  get        list network services (ns), endpoints (nse), the forwarders registered at an nsmgr,
             or the connections an nsmgr holds (its MonitorConnections initial state)
  describe   every field of one endpoint registration
  watch      one line per change (UPDATE, DELETE; INITIAL for the connections an nsmgr already
             holds) until Ctrl-C or --timeout
  graph      the live topology as Graphviz DOT: clients, nsmgrs, forwarders, endpoints and each
             connection along its path; -o svg runs Graphviz's dot

Flags:
  --nsmgr URL              nsmgr to ask (graph: one or more); default
                           )" +
         std::string(kDefaultNsmgrUrl) + R"(
  --registry URL           registry to ask for ns/nse instead of an nsmgr (nsmgrs serve the
                           registry API too); graph adds its endpoints
  -o, --output FORMAT      table (default), wide (more columns) or json; graph: dot or svg
  --service NAME           nse: only endpoints of this network service
  --forwarder-service NAME network service forwarders register for (default forwarder)
  --out FILE               graph: write to FILE instead of standard output
  --timeout DURATION       bound for get, describe and graph (default 5s); watch stops after it
                           (default: runs until Ctrl-C)
  --dial-timeout DURATION  how long to wait for the connection to the target (default 2s)
  -h, --help               this text

URLs are NSM URLs: unix:///path/to.sock or tcp://host:port. The transport is plaintext gRPC
(insecure, as the binaries of this project run until mTLS lands). Tokens are never printed.

Exit codes:
  0  success (watch: stopped by Ctrl-C or --timeout)
  1  the target is unreachable, a call failed, or the object was not found
  2  bad arguments
)";
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  std::string output;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help" || arg == "help") {
      o.verb = Verb::kHelp;
      return o;
    }
    if (arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    // --flag=value, --flag value, -o value, -ovalue.
    std::string flag = arg, value;
    bool has_value = false;
    if (absl::StartsWith(arg, "--")) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        flag = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else if (arg.size() > 2) {
      flag = arg.substr(0, 2);
      value = arg.substr(2);
      if (absl::StartsWith(value, "=")) value = value.substr(1);
      has_value = true;
    }
    static const char* kFlags[] = {"--nsmgr",  "--registry", "-o",
                                   "--output", "--service",  "--forwarder-service",
                                   "--out",    "--timeout",  "--dial-timeout"};
    if (std::find_if(std::begin(kFlags), std::end(kFlags),
                     [&](const char* f) { return flag == f; }) == std::end(kFlags)) {
      return Bad(absl::StrCat("unknown flag ", flag));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Bad(absl::StrCat(flag, " needs a value"));
      value = args[++i];
    }
    if (value.empty()) return Bad(absl::StrCat(flag, " needs a non-empty value"));
    if (flag == "--nsmgr") {
      o.nsmgrs.push_back(value);
    } else if (flag == "--registry") {
      if (!o.registry.empty()) return Bad("--registry given twice");
      o.registry = value;
    } else if (flag == "-o" || flag == "--output") {
      output = value;
    } else if (flag == "--service") {
      o.service = value;
    } else if (flag == "--forwarder-service") {
      o.forwarder_service = value;
    } else if (flag == "--out") {
      o.out_file = value;
    } else if (flag == "--timeout") {
      auto d = ParsePositiveDuration(flag, value);
      if (!d.ok()) return d.status();
      o.timeout = *d;
      o.timeout_given = true;
    } else if (flag == "--dial-timeout") {
      auto d = ParsePositiveDuration(flag, value);
      if (!d.ok()) return d.status();
      o.dial_timeout = *d;
    }
  }

  if (positional.empty()) return Bad("no command (want get, describe, watch or graph)");
  const std::string verb = positional[0];
  if (verb == "get") {
    o.verb = Verb::kGet;
  } else if (verb == "describe") {
    o.verb = Verb::kDescribe;
  } else if (verb == "watch") {
    o.verb = Verb::kWatch;
  } else if (verb == "graph") {
    o.verb = Verb::kGraph;
  } else {
    return Bad(absl::StrCat("unknown command \"", verb, "\" (want get, describe, watch or graph)"));
  }

  if (o.verb == Verb::kGraph) {
    if (positional.size() > 1) {
      return Bad(absl::StrCat("graph takes no arguments, got \"", positional[1], "\""));
    }
    if (output.empty() || output == "dot") {
      o.svg = false;
    } else if (output == "svg") {
      o.svg = true;
    } else {
      return Bad(absl::StrCat("-o ", output, " is not a graph format (want dot or svg)"));
    }
    if (!o.service.empty()) return Bad("--service is for get/watch nse, not graph");
    if (o.nsmgrs.empty() && o.registry.empty()) o.nsmgrs.push_back(kDefaultNsmgrUrl);
    return o;
  }

  if (positional.size() < 2) {
    return Bad(absl::StrCat(
        verb, " needs a resource type (",
        o.verb == Verb::kDescribe ? "nse" : "ns, nse, forwarders or connections", ")"));
  }
  auto kind = ParseKind(positional[1]);
  if (!kind.ok()) return kind.status();
  o.kind = *kind;
  if (positional.size() > 2) o.name = positional[2];
  if (positional.size() > 3) {
    return Bad(absl::StrCat("unexpected argument \"", positional[3], "\""));
  }
  if (!o.out_file.empty()) return Bad("--out is for graph");
  if (o.nsmgrs.size() > 1) {
    return Bad(absl::StrCat(verb, " asks one target; --nsmgr given ", o.nsmgrs.size(), " times"));
  }
  if (!o.nsmgrs.empty() && !o.registry.empty()) {
    return Bad("--nsmgr and --registry exclude each other (nsmctl asks one target)");
  }
  if (o.kind == Kind::kConnections && !o.registry.empty()) {
    return Bad(
        "connections are served by an nsmgr (MonitorConnections), not a registry: use "
        "--nsmgr");
  }
  if (!o.service.empty() && o.kind != Kind::kNSE) {
    return Bad(absl::StrCat("--service filters endpoints (nse), not ", KindName(o.kind)));
  }
  if (o.verb == Verb::kDescribe) {
    if (o.kind != Kind::kNSE) {
      return Bad(absl::StrCat("describe supports nse, not ", KindName(o.kind)));
    }
    if (o.name.empty()) return Bad("describe nse needs the endpoint's NAME");
  }
  if (output.empty() || output == "table") {
    o.output = Output::kTable;
  } else if (output == "wide" && o.verb == Verb::kGet) {
    o.output = Output::kWide;
  } else if (output == "json") {
    o.output = Output::kJson;
  } else {
    return Bad(absl::StrCat("-o ", output, " is not an output format of ", verb, " (want ",
                            o.verb == Verb::kGet ? "table, wide or json" : "table or json", ")"));
  }
  if (o.nsmgrs.empty() && o.registry.empty()) o.nsmgrs.push_back(kDefaultNsmgrUrl);
  return o;
}

namespace {

// Drops a response that repeats the last one printed for the same name (equal, or a second
// deletion): a Go v1.1.1 nsmgr's watch reports each change of a local entry twice, from its store
// and from the domain registry via localbypass (ours answers from its store only).
template <class Response>
class Repeats {
 public:
  bool Seen(const std::string& name, const Response& r) {
    auto [it, inserted] = last_.try_emplace(name, r);
    if (inserted) return false;
    if (it->second.deleted() && r.deleted()) return true;
    if (google::protobuf::util::MessageDifferencer::Equals(it->second, r)) return true;
    it->second = r;
    return false;
  }

 private:
  absl::flat_hash_map<std::string, Response> last_;
};

class Runner {
 public:
  Runner(const Options& o, std::ostream& out, std::ostream& err, const Context& ctx)
      : o_(o), out_(out), err_(err), ctx_(ctx) {}

  int Run() {
    absl::Status s;
    switch (o_.verb) {
      case Verb::kGet:
        s = Get();
        break;
      case Verb::kDescribe:
        s = Describe();
        break;
      case Verb::kWatch:
        s = Watch();
        break;
      case Verb::kGraph:
        s = Graph();
        break;
      case Verb::kHelp:
        out_ << Usage();
        return kExitOk;
    }
    if (s.ok()) return kExitOk;
    err_ << "nsmctl: " << s.message() << "\n";
    return kExitError;
  }

 private:
  Target RegistryTarget() const {
    if (!o_.registry.empty()) return {"registry", o_.registry};
    return {"nsmgr", o_.nsmgrs.front()};
  }
  absl::Duration DialTimeout() const {
    return o_.verb == Verb::kWatch && !o_.timeout_given ? o_.dial_timeout
                                                        : std::min(o_.dial_timeout, o_.timeout);
  }
  absl::StatusOr<std::unique_ptr<Peer>> Dial(const Target& t) const {
    return Peer::Dial(t, DialTimeout());
  }
  // The context of the whole command: --timeout (for watch only when given) and Ctrl-C.
  std::pair<Context, Context::CancelFunc> CommandContext() const {
    if (o_.verb == Verb::kWatch && !o_.timeout_given) return ctx_.WithCancel();
    return ctx_.WithTimeout(o_.timeout);
  }

  ::registry::NetworkServiceEndpointQuery NSEQuery(const std::string& service) const {
    ::registry::NetworkServiceEndpointQuery q;
    if (!o_.name.empty()) q.mutable_network_service_endpoint()->set_name(o_.name);
    if (!service.empty()) q.mutable_network_service_endpoint()->add_network_service_names(service);
    return q;
  }
  std::string Service() const {
    return o_.kind == Kind::kForwarders ? o_.forwarder_service : o_.service;
  }

  absl::Status NotFound(const char* kind, const Target& t) const {
    return absl::NotFoundError(
        absl::StrCat(kind, " \"", o_.name, "\" not found at ", t.kind, " ", t.url));
  }

  absl::Status Get() {
    auto [ctx, cancel] = CommandContext();
    const absl::Time now = absl::Now();
    if (o_.kind == Kind::kConnections) {
      const Target t{"nsmgr", o_.nsmgrs.front()};
      auto peer = Dial(t);
      if (!peer.ok()) return peer.status();
      auto conns = (*peer)->Connections(ctx);
      cancel();
      if (!conns.ok()) return conns.status();
      if (!o_.name.empty()) {
        std::erase_if(*conns, [&](const Connection& c) { return c.id() != o_.name; });
        if (conns->empty()) return NotFound("connection", t);
      }
      if (o_.output == Output::kJson) {
        out_ << JsonArray(*conns, ConnectionToJson).dump(2) << "\n";
      } else if (conns->empty()) {
        err_ << "No connections at nsmgr " << t.url << ".\n";
      } else {
        out_ << ConnectionTable(*conns, o_.output, now);
      }
      return absl::OkStatus();
    }
    const Target t = RegistryTarget();
    auto peer = Dial(t);
    if (!peer.ok()) return peer.status();
    if (o_.kind == Kind::kNS) {
      ::registry::NetworkServiceQuery q;
      if (!o_.name.empty()) q.mutable_network_service()->set_name(o_.name);
      auto items = (*peer)->FindNS(ctx, q);
      cancel();
      if (!items.ok()) return items.status();
      if (!o_.name.empty()) {
        // v1.1.1 registries match names as substrings: keep the exact one.
        std::erase_if(*items, [&](const NS& ns) { return ns.name() != o_.name; });
        if (items->empty()) return NotFound("ns", t);
      }
      std::sort(items->begin(), items->end(),
                [](const NS& a, const NS& b) { return a.name() < b.name(); });
      if (o_.output == Output::kJson) {
        out_ << JsonArray(*items, NSToJson).dump(2) << "\n";
      } else if (items->empty()) {
        err_ << "No network services at " << t.kind << " " << t.url << ".\n";
      } else {
        out_ << NSTable(*items, o_.output);
      }
      return absl::OkStatus();
    }
    auto items = (*peer)->FindNSE(ctx, NSEQuery(Service()));
    cancel();
    if (!items.ok()) return items.status();
    if (!o_.name.empty()) {
      std::erase_if(*items, [&](const NSE& e) { return e.name() != o_.name; });
      if (items->empty()) {
        return NotFound(o_.kind == Kind::kForwarders ? "forwarder" : "nse", t);
      }
    }
    std::sort(items->begin(), items->end(),
              [](const NSE& a, const NSE& b) { return a.name() < b.name(); });
    if (o_.output == Output::kJson) {
      out_ << JsonArray(*items, NSEToJson).dump(2) << "\n";
    } else if (items->empty()) {
      err_ << "No " << (o_.kind == Kind::kForwarders ? "forwarders" : "endpoints") << " at "
           << t.kind << " " << t.url << ".\n";
    } else if (o_.kind == Kind::kForwarders) {
      out_ << ForwarderTable(*items, o_.forwarder_service, o_.output, now);
    } else {
      out_ << NSETable(*items, o_.output, now);
    }
    return absl::OkStatus();
  }

  absl::Status Describe() {
    auto [ctx, cancel] = CommandContext();
    const Target t = RegistryTarget();
    auto peer = Dial(t);
    if (!peer.ok()) return peer.status();
    auto items = (*peer)->FindNSE(ctx, NSEQuery(""));
    cancel();
    if (!items.ok()) return items.status();
    auto it = std::find_if(items->begin(), items->end(),
                           [&](const NSE& e) { return e.name() == o_.name; });
    if (it == items->end()) return NotFound("nse", t);
    if (o_.output == Output::kJson) {
      out_ << NSEToJson(*it).dump(2) << "\n";
    } else {
      out_ << DescribeNSE(*it, absl::Now());
    }
    return absl::OkStatus();
  }

  template <class F>
  void Emit(const nlohmann::json& j, F line) {
    if (o_.output == Output::kJson) {
      out_ << j.dump() << std::endl;
    } else {
      out_ << line() << std::endl;
    }
  }

  absl::Status Watch() {
    auto [ctx, cancel] = CommandContext();
    if (o_.kind == Kind::kConnections) {
      const Target t{"nsmgr", o_.nsmgrs.front()};
      auto peer = Dial(t);
      if (!peer.ok()) return peer.status();
      return (*peer)->WatchConnections(ctx, [&](const ::connection::ConnectionEvent& e) {
        std::string type = ::connection::ConnectionEventType_Name(e.type());
        if (e.type() == ::connection::INITIAL_STATE_TRANSFER) type = "INITIAL";
        std::vector<const Connection*> conns;
        for (const auto& [id, c] : e.connections()) {
          if (o_.name.empty() || c.id() == o_.name) conns.push_back(&c);
        }
        std::sort(conns.begin(), conns.end(),
                  [](const Connection* a, const Connection* b) { return a->id() < b->id(); });
        const absl::Time at = absl::Now();
        for (const Connection* c : conns) {
          Emit({{"event", type},
                {"time", api::FormatRfc3339Nano(at)},
                {"connection", ConnectionToJson(*c)}},
               [&] { return ConnectionEventLine(at, type, *c); });
        }
      });
    }
    const Target t = RegistryTarget();
    auto peer = Dial(t);
    if (!peer.ok()) return peer.status();
    if (o_.kind == Kind::kNS) {
      ::registry::NetworkServiceQuery q;
      if (!o_.name.empty()) q.mutable_network_service()->set_name(o_.name);
      Repeats<::registry::NetworkServiceResponse> repeats;
      return (*peer)->WatchNS(ctx, q, [&](const ::registry::NetworkServiceResponse& r) {
        if (!o_.name.empty() && r.network_service().name() != o_.name) return;
        if (repeats.Seen(r.network_service().name(), r)) return;
        const absl::Time at = absl::Now();
        Emit({{"event", r.deleted() ? "DELETE" : "UPDATE"},
              {"time", api::FormatRfc3339Nano(at)},
              {"ns", NSToJson(r.network_service())}},
             [&] { return NSEventLine(at, r.deleted(), r.network_service()); });
      });
    }
    Repeats<::registry::NetworkServiceEndpointResponse> repeats;
    return (*peer)->WatchNSE(
        ctx, NSEQuery(Service()), [&](const ::registry::NetworkServiceEndpointResponse& r) {
          if (!o_.name.empty() && r.network_service_endpoint().name() != o_.name) return;
          if (repeats.Seen(r.network_service_endpoint().name(), r)) return;
          const absl::Time at = absl::Now();
          Emit({{"event", r.deleted() ? "DELETE" : "UPDATE"},
                {"time", api::FormatRfc3339Nano(at)},
                {"nse", NSEToJson(r.network_service_endpoint())}},
               [&] { return NSEEventLine(at, r.deleted(), r.network_service_endpoint(), at); });
        });
  }

  absl::Status Graph() {
    auto [ctx, cancel] = CommandContext();
    TopologyInput input;
    input.forwarder_service = o_.forwarder_service;
    for (const auto& url : o_.nsmgrs) {
      auto peer = Dial({"nsmgr", url});
      if (!peer.ok()) return peer.status();
      NsmgrView view;
      view.url = url;
      auto nses = (*peer)->FindNSE(ctx, {});
      if (!nses.ok()) return nses.status();
      view.endpoints = *std::move(nses);
      auto conns = (*peer)->Connections(ctx);
      if (!conns.ok()) return conns.status();
      view.connections = *std::move(conns);
      input.nsmgrs.push_back(std::move(view));
    }
    if (!o_.registry.empty()) {
      auto peer = Dial({"registry", o_.registry});
      if (!peer.ok()) return peer.status();
      auto nses = (*peer)->FindNSE(ctx, {});
      if (!nses.ok()) return nses.status();
      input.registry_endpoints = *std::move(nses);
    }
    cancel();
    const std::string dot = TopologyDot(input);
    if (!o_.svg) {
      if (o_.out_file.empty()) {
        out_ << dot;
        return absl::OkStatus();
      }
      return WriteFile(o_.out_file, dot);
    }
    return Svg(dot);
  }

  static absl::Status WriteFile(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", path));
    return absl::OkStatus();
  }

  static std::string FindOnPath(const std::string& program) {
    const char* path = getenv("PATH");
    if (path == nullptr) return "";
    for (absl::string_view dir : absl::StrSplit(path, ':')) {
      if (dir.empty()) continue;
      std::string candidate = absl::StrCat(dir, "/", program);
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
  }

  // Runs `dot -Tsvg` on the DOT text: into --out, or through a temp file onto `out`.
  absl::Status Svg(const std::string& dot) {
    const std::string dot_bin = FindOnPath("dot");
    if (dot_bin.empty()) {
      return absl::FailedPreconditionError(
          "-o svg needs Graphviz's dot, which is not installed (not on PATH): install graphviz "
          "(apt-get install graphviz), or use -o dot and render the file elsewhere");
    }
    std::error_code ec;
    auto tmp = std::filesystem::temp_directory_path(ec);
    if (ec) tmp = "/tmp";
    char dir_template[] = "nsmctl-XXXXXX";
    std::string dir = (tmp / dir_template).string();
    if (mkdtemp(dir.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create a temp dir in ", tmp.string()));
    }
    struct Cleanup {
      std::string dir;
      ~Cleanup() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } cleanup{dir};
    const std::string in = dir + "/graph.dot";
    const std::string svg = o_.out_file.empty() ? dir + "/graph.svg" : o_.out_file;
    if (auto s = WriteFile(in, dot); !s.ok()) return s;
    std::vector<std::string> argv_s = {dot_bin, "-Tsvg", "-o", svg, in};
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    if (int rc = posix_spawn(&pid, dot_bin.c_str(), nullptr, nullptr, argv.data(), environ);
        rc != 0) {
      return absl::UnavailableError(absl::StrCat("cannot run ", dot_bin, ": ", strerror(rc)));
    }
    // Bounded by --timeout: dot on a mesh-sized graph takes milliseconds.
    const absl::Time end = absl::Now() + o_.timeout;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (absl::Now() > end) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return absl::DeadlineExceededError(
            absl::StrCat(dot_bin, " did not finish within ", absl::FormatDuration(o_.timeout)));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return absl::InternalError(absl::StrCat(dot_bin, " -Tsvg failed (status ", status, ")"));
    }
    if (o_.out_file.empty()) {
      std::ifstream f(svg, std::ios::binary);
      out_ << f.rdbuf();
    }
    return absl::OkStatus();
  }

  const Options& o_;
  std::ostream& out_;
  std::ostream& err_;
  Context ctx_;
};

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Context& ctx) {
  auto options = ParseArgs(args);
  if (!options.ok()) {
    err << "nsmctl: " << options.status().message() << "\n\n" << Usage();
    return kExitUsage;
  }
  return Runner(*options, out, err, ctx).Run();
}

}  // namespace nsm::nsmctl

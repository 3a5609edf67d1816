#include "tools/bench/baseline.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/callback_threads.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/grpc_server.h"
#include "networkservice.grpc.pb.h"
#include "networkservice/updatepath/common.h"

namespace nsm::bench {
namespace {

using ::connection::Connection;
using ::networkservice::NetworkServiceRequest;

// What every NSM hop does to the message: its own path segment with an id, a token and expiry.
void AddSegment(Connection& conn, const std::string& name) {
  auto* path = conn.mutable_path();
  auto* seg = path->add_path_segments();
  seg->set_name(name);
  seg->set_id(updatepath::NewUuid());
  seg->set_token("insecure:" + name);
  const absl::Time expires = absl::Now() + absl::Minutes(10);
  seg->mutable_expires()->set_seconds(absl::ToUnixSeconds(expires));
  path->set_index(static_cast<uint32_t>(path->path_segments_size() - 1));
  conn.set_id(seg->id());
}

void AddTokenMetadata(grpc::ClientContext& ctx, const std::string& name) {
  ctx.AddMetadata("nsm-client-token", "insecure:" + name);
  ctx.AddMetadata(
      "nsm-client-token-expires",
      absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Minutes(10), absl::UTCTimeZone()));
}

template <class Req, class Resp>
struct Forwarded {
  grpc::ClientContext ctx;
  Req request;
  Resp response;
};

class HopService final : public ::networkservice::NetworkService::CallbackService {
 public:
  HopService(std::string name, std::shared_ptr<grpc::Channel> next, int pool)
      : name_(std::move(name)),
        stub_(next ? ::networkservice::NetworkService::NewStub(next) : nullptr),
        pool_(pool > 0 ? std::make_shared<ThreadPool>(static_cast<size_t>(pool)) : nullptr) {}

  grpc::ServerUnaryReactor* Request(grpc::CallbackServerContext* sctx,
                                    const NetworkServiceRequest* req, Connection* resp) override {
    auto* reactor = sctx->DefaultReactor();
    if (!stub_) {
      // The endpoint: accept the first mechanism and give the connection addresses.
      *resp = req->connection();
      AddSegment(*resp, name_);
      if (req->mechanism_preferences_size() > 0) {
        *resp->mutable_mechanism() = req->mechanism_preferences(0);
        (*resp->mutable_mechanism()->mutable_parameters())["name"] = "nsm-1";
      }
      auto* ip = resp->mutable_context()->mutable_ip_context();
      ip->add_src_ip_addrs("169.254.0.1/32");
      ip->add_dst_ip_addrs("169.254.0.0/32");
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    auto call = std::make_shared<Forwarded<NetworkServiceRequest, Connection>>();
    call->request = *req;
    AddSegment(*call->request.mutable_connection(), name_);
    call->ctx.set_deadline(sctx->deadline());
    AddTokenMetadata(call->ctx, name_);
    if (pool_) {
      pool_->Post([this, call, reactor, resp] {
        grpc::Status s = stub_->Request(&call->ctx, call->request, resp);
        reactor->Finish(s);
      });
      return reactor;
    }
    stub_->async()->Request(&call->ctx, &call->request, &call->response,
                            [call, reactor, resp](grpc::Status s) {
                              if (s.ok()) *resp = std::move(call->response);
                              reactor->Finish(s);
                            });
    return reactor;
  }

  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* sctx, const Connection* conn,
                                  google::protobuf::Empty*) override {
    auto* reactor = sctx->DefaultReactor();
    if (!stub_) {
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    auto call = std::make_shared<Forwarded<Connection, google::protobuf::Empty>>();
    call->request = *conn;
    call->ctx.set_deadline(sctx->deadline());
    AddTokenMetadata(call->ctx, name_);
    if (pool_) {
      pool_->Post([this, call, reactor] {
        reactor->Finish(stub_->Close(&call->ctx, call->request, &call->response));
      });
      return reactor;
    }
    stub_->async()->Close(&call->ctx, &call->request, &call->response,
                          [call, reactor](grpc::Status s) { reactor->Finish(s); });
    return reactor;
  }

 private:
  std::string name_;
  std::unique_ptr<::networkservice::NetworkService::Stub> stub_;
  std::shared_ptr<ThreadPool> pool_;  // null: forward asynchronously
};

}  // namespace

int RunHop(const std::string& listen, const std::string& next, const std::string& name, int pool) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // As our binaries (core/cmd.h), so that the physical limit has what they have; kept until the
  // server and the channel below are gone.
  auto threads = callback_threads::ApplyFromEnvironment();
  if (!threads.ok()) {
    std::fprintf(stderr, "nsm-bench hop: %s\n", std::string(threads.status().message()).c_str());
    return 1;
  }
  HopService service(name, next.empty() ? nullptr : OwnChannel(next), pool);
  auto server = GrpcServer::Start(
      {&service},
      {.listen_on = {listen}, .credentials = MakeInsecureCredentials(), .health_services = {}});
  if (!server.ok()) {
    std::fprintf(stderr, "nsm-bench hop: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "nsm-bench hop %s: serving on %s, next %s; %s\n", name.c_str(),
               listen.c_str(), next.empty() ? "(none)" : next.c_str(),
               threads->description.c_str());
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  (*server)->Shutdown(absl::Seconds(1));
  return 0;
}

NetworkServiceRequest BaselineRequest(int worker, int64_t i) {
  NetworkServiceRequest r;
  Connection& c = *r.mutable_connection();
  c.set_id(absl::StrCat("bench-", worker, "-", i));
  c.set_network_service("bench");
  (*c.mutable_labels())["app"] = "bench";
  AddSegment(c, absl::StrCat("bench-", worker));
  auto* m = r.add_mechanism_preferences();
  m->set_cls("LOCAL");
  m->set_type("KERNEL");
  (*m->mutable_parameters())["name"] = "nsm-1";
  return r;
}

absl::StatusOr<std::unique_ptr<BaselineChain>> BaselineChain::Start(const Env& env,
                                                                    const std::string& section,
                                                                    int hop_count, int workers,
                                                                    Report& report) {
  if (env.bin.self.empty()) return absl::NotFoundError("cannot find nsm-bench itself");
  // The names of the topology's hops; in the remote one the second nsmgr is reached over tcp.
  std::vector<std::string> names = {"nsmgr", "forwarder", "nse"};
  if (hop_count == kRemoteHops) {
    names = {"nsmgr-1", "forwarder-1", "nsmgr-2", "forwarder-2", "nse"};
  } else if (hop_count != kLocalHops) {
    return absl::InvalidArgumentError(absl::StrCat("baseline: ", hop_count, " hops"));
  }
  const size_t n = names.size();
  std::vector<std::string> urls;
  for (size_t h = 0; h < n; ++h) {
    if (names[h] == "nsmgr-2") {
      const int port = FreeTcpPort();
      if (port == 0) return absl::UnavailableError("no free loopback tcp port");
      urls.push_back(absl::StrCat("tcp://127.0.0.1:", port));
    } else {
      urls.push_back(absl::StrCat("unix://", env.dir, "/", section, "-hop", h, ".sock"));
    }
  }
  // All copies are written before the first hop starts, so no child inherits one open for writing;
  // Stop removes them.
  std::unique_ptr<BaselineChain> chain(new BaselineChain());
  std::vector<std::string> binaries(n, env.bin.self);
  for (size_t h = 0; h < n && env.hop_own_binaries; ++h) {
    binaries[h] = absl::StrCat(env.dir, "/", section, "-hop", h, ".bin");
    std::error_code ec;
    std::filesystem::copy_file(env.bin.self, binaries[h],
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("baseline: copying ", env.bin.self, " to ",
                                              binaries[h], ": ", ec.message()));
    }
    chain->copies_.push_back(binaries[h]);
  }
  for (size_t h = 0; h < n; ++h) {
    const std::string next = h + 1 < n ? urls[h + 1] : "";
    chain->hops_.push_back(
        Spawn(env, "hop-" + names[h], binaries[h],
              std::vector<std::string>{"hop", "--listen=" + urls[h], "--next=" + next,
                                       "--hop_name=" + names[h],
                                       absl::StrCat("--hop_pool=", env.hop_pool)},
              std::vector<std::string>{}));
  }
  for (size_t h = 0; h < n; ++h) {
    absl::Status st = WaitServing(*chain->hops_[h], urls[h], absl::Seconds(30));
    if (!st.ok()) return st;
  }

  absl::SleepFor(absl::Milliseconds(300));
  const ProcSample idle_hop = ReadProc(chain->hops_[0]->pid());
  report.Add(section, "hop_rss_idle_kb", static_cast<double>(idle_hop.rss_kb), "kB",
             "RSS of an idle no-op gRPC hop process (the floor)", Better::kLower);
  report.Add(section, "hop_anon_idle_kb", static_cast<double>(idle_hop.anon_kb), "kB",
             "of which private (RssAnon)", Better::kLower);
  report.Add(section, "hop_pool", env.hop_pool, "",
             "hops forward on pools of this many workers, blocking (0: asynchronously)",
             Better::kNeither);
  report.Add(section, "hop_own_binaries", env.hop_own_binaries ? 1 : 0, "",
             "hops run from their own copies of the binary (1) or share one (0)", Better::kNeither);
  report.Note(section,
              absl::StrCat(n,
                           " no-op gRPC hop processes (nsm-bench hop: callback API, async "
                           "forwarding, a path segment and token per hop)",
                           n == kRemoteHops ? "; nsmgr-2 on loopback tcp" : "",
                           env.hop_own_binaries
                               ? "; each from its own copy of nsm-bench, as the mesh's processes "
                                 "are distinct programs"
                               : "; all from nsm-bench's own binary, sharing its code pages"));
  for (int w = 0; w < std::max(1, workers); ++w) {
    chain->stubs_.push_back(::networkservice::NetworkService::NewStub(OwnChannel(urls[0])));
  }
  return chain;
}

std::vector<std::pair<std::string, pid_t>> BaselineChain::Pids() const {
  std::vector<std::pair<std::string, pid_t>> pids;
  for (const auto& h : hops_) pids.emplace_back(h->name(), h->pid());
  return pids;
}

absl::Status BaselineChain::RoundTrip(int w, int64_t i, absl::Duration* req,
                                      absl::Duration* close) {
  auto& stub = *stubs_[static_cast<size_t>(w) % stubs_.size()];
  NetworkServiceRequest request = BaselineRequest(w, i);
  Connection conn;
  grpc::ClientContext c1;
  c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  AddTokenMetadata(c1, "bench");
  const absl::Time t0 = absl::Now();
  grpc::Status s = stub.Request(&c1, request, &conn);
  const absl::Time t1 = absl::Now();
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  google::protobuf::Empty empty;
  grpc::ClientContext c2;
  c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  AddTokenMetadata(c2, "bench");
  s = stub.Close(&c2, conn, &empty);
  *req = t1 - t0;
  *close = absl::Now() - t1;
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return absl::OkStatus();
}

void BaselineChain::Stop() {
  stubs_.clear();
  for (auto& h : hops_) h->Stop();
  hops_.clear();
  for (const std::string& copy : copies_) {
    std::error_code ec;  // best effort: the run's directory goes at the end anyway
    std::filesystem::remove(copy, ec);
  }
  copies_.clear();
}

BaselineChain::~BaselineChain() { Stop(); }

absl::Status RunBaselineBench(const Env& env, const LoadSettings& load, Report& report,
                              const std::string& section, int hop_count, LoadResult* result) {
  auto chain = BaselineChain::Start(env, section, hop_count, load.workers, report);
  if (!chain.ok()) return chain.status();
  LoadResult r = RunLoad(env, load, section, (*chain)->Pids(),
                         [&](int w, int64_t i, absl::Duration* req, absl::Duration* close) {
                           return (*chain)->RoundTrip(w, i, req, close);
                         });
  ReportLoad(report, section, load, r);
  (*chain)->Stop();
  if (result != nullptr) *result = std::move(r);
  return absl::OkStatus();
}

}  // namespace nsm::bench

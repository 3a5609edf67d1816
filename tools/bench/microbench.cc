// nsm-microbench: Google Benchmark micro-benchmarks of the per-request hot spots: label matching
// (api/labels.h, forwarder_select/match.h), path update (networkservice/updatepath), token
// handling (core/token.h, networkservice/updatetoken) and registry Find over 10,000 stored NSEs
// (registry/memory). CI runs it with --benchmark_min_time=0.01 as a smoke test only.
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/labels.h"
#include "api/path.h"
#include "core/context.h"
#include "core/registry.h"
#include "core/token.h"
#include "forwarder_select/match.h"
#include "networkservice/updatepath/common.h"
#include "networkservice/updatetoken/common.h"
#include "registry/memory/memory.h"

namespace {

using ::connection::Connection;
using ::registry::NetworkService;
using ::registry::NetworkServiceEndpoint;
using ::registry::NetworkServiceEndpointQuery;
using ::registry::NetworkServiceEndpointResponse;
using Labels = google::protobuf::Map<std::string, std::string>;

Labels ConnectionLabels() {
  Labels l;
  l["app"] = "icmp-client";
  l["nodeName"] = "node-3";
  l["podName"] = "icmp-client-5d8f7c9b4-xk2lp";
  l["clusterName"] = "cluster-a";
  l["version"] = "v2";
  return l;
}

// --- label matching -------------------------------------------------------------------------

void BM_LabelsIsSubsetLiteral(benchmark::State& state) {
  const Labels have = ConnectionLabels();
  Labels want;
  want["app"] = "icmp-client";
  want["clusterName"] = "cluster-a";
  for (auto _ : state) benchmark::DoNotOptimize(nsm::api::IsSubset(have, want, have));
}
BENCHMARK(BM_LabelsIsSubsetLiteral);

void BM_LabelsIsSubsetTemplate(benchmark::State& state) {
  Labels have;
  have["nodeName"] = "node-3";
  have["p2p"] = "true";
  Labels want;
  want["nodeName"] = "{{.nodeName}}";
  want["p2p"] = "true";
  const Labels vars = ConnectionLabels();
  for (auto _ : state) benchmark::DoNotOptimize(nsm::api::IsSubset(have, want, vars));
}
BENCHMARK(BM_LabelsIsSubsetTemplate);

void BM_RenderLabelTemplate(benchmark::State& state) {
  const Labels vars = ConnectionLabels();
  for (auto _ : state) {
    benchmark::DoNotOptimize(nsm::api::RenderLabelTemplate("{{ .nodeName }}-{{.app}}", vars));
  }
}
BENCHMARK(BM_RenderLabelTemplate);

// `n` forwarders, each with nodeName and p2p labels; the NS selects the one on the client's node.
void BM_MatchForwarders(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<NetworkServiceEndpoint> forwarders;
  const absl::Time now = absl::Now();
  for (int i = 0; i < n; ++i) {
    NetworkServiceEndpoint f;
    f.set_name(absl::StrCat("forwarder-", i));
    f.set_url(absl::StrCat("unix:///run/nsm/forwarder-", i, ".sock"));
    f.add_network_service_names("forwarder");
    auto& l = *(*f.mutable_network_service_labels())["forwarder"].mutable_labels();
    l["nodeName"] = absl::StrCat("node-", i);
    l["p2p"] = "true";
    *f.mutable_expiration_time() = nsm::api::ToProtoTimestamp(now + absl::Minutes(1));
    forwarders.push_back(f);
  }
  NetworkService ns;
  ns.set_name("icmp");
  auto* m = ns.add_matches();
  (*m->mutable_source_selector())["app"] = "icmp-client";
  (*m->mutable_metadata()->mutable_labels())["nodeName"] = "{{.nodeName}}";
  ns.add_matches();  // catch-all: p2p forwarders
  const Labels labels = ConnectionLabels();
  for (auto _ : state) {
    auto r = nsm::forwarder_select::MatchForwarders(labels, ns, forwarders, "forwarder", now);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MatchForwarders)->Arg(1)->Arg(10)->Arg(100);

// --- path update ----------------------------------------------------------------------------

Connection ClientConnection() {
  Connection c;
  c.set_id("0b7f1d0e-5b8a-4a57-9d3c-2f1e0c6b7a91");
  c.set_network_service("icmp");
  (*c.mutable_labels()) = ConnectionLabels();
  auto* seg = c.mutable_path()->add_path_segments();
  seg->set_name("nsc");
  seg->set_id(c.id());
  seg->set_token("insecure:nsc");
  return c;
}

// Copying the connection is part of every iteration below; this is its cost alone.
void BM_ConnectionCopy(benchmark::State& state) {
  const Connection base = ClientConnection();
  for (auto _ : state) {
    Connection c = base;
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_ConnectionCopy);

// A new hop: a segment is appended with a fresh UUID.
void BM_UpdatePathNewHop(benchmark::State& state) {
  const Connection base = ClientConnection();
  for (auto _ : state) {
    Connection c = base;
    auto r = nsm::updatepath::UpdatePath(c, "nsmgr");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_UpdatePathNewHop);

// A refresh: the next segment already names this hop and is reused.
void BM_UpdatePathRefresh(benchmark::State& state) {
  Connection base = ClientConnection();
  (void)nsm::updatepath::UpdatePath(base, "nsmgr");
  base.mutable_path()->set_index(0);
  base.set_id(base.path().path_segments(0).id());
  for (auto _ : state) {
    Connection c = base;
    auto r = nsm::updatepath::UpdatePath(c, "nsmgr");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_UpdatePathRefresh);

void BM_UuidV4(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(nsm::updatepath::NewUuid());
}
BENCHMARK(BM_UuidV4);

// --- tokens ---------------------------------------------------------------------------------

void BM_InsecureTokenGenerate(benchmark::State& state) {
  auto tokens = nsm::NewInsecureTokenGenerator("nsmgr-node-3");
  const nsm::Peer peer{"unix:/var/lib/networkservicemesh/nsm.io.sock", {}};
  for (auto _ : state) benchmark::DoNotOptimize(tokens->Generate(peer));
}
BENCHMARK(BM_InsecureTokenGenerate);

void BM_SetOwnToken(benchmark::State& state) {
  auto tokens = nsm::NewInsecureTokenGenerator("nsmgr-node-3");
  Connection base = ClientConnection();
  (void)nsm::updatepath::UpdatePath(base, "nsmgr-node-3");
  const nsm::Peer peer{"unix:/var/lib/networkservicemesh/nsm.io.sock", {}};
  for (auto _ : state) {
    Connection c = base;
    benchmark::DoNotOptimize(nsm::updatetoken::SetOwnToken(tokens.get(), peer, c));
  }
}
BENCHMARK(BM_SetOwnToken);

// The server side: the caller's token and expiry from the request metadata into its segment.
void BM_TakeCallerToken(benchmark::State& state) {
  Connection base = ClientConnection();
  (void)nsm::updatepath::UpdatePath(base, "nsmgr-node-3");
  nsm::Metadata md = {
      {nsm::api::kTokenMetadataKey, "insecure:nsc"},
      {nsm::api::kTokenExpiresMetadataKey,
       nsm::api::FormatRfc3339Nano(absl::Now() + absl::Minutes(10))},
      {"user-agent", "grpc-c++/1.51.1 grpc-c/29.0.0 (linux; chttp2)"},
  };
  const nsm::Context ctx = nsm::Context().WithIncomingMetadata(md);
  for (auto _ : state) {
    Connection c = base;
    benchmark::DoNotOptimize(nsm::updatetoken::TakeCallerToken(ctx, c));
  }
}
BENCHMARK(BM_TakeCallerToken);

void BM_FormatRfc3339Nano(benchmark::State& state) {
  const absl::Time t = absl::Now();
  for (auto _ : state) benchmark::DoNotOptimize(nsm::api::FormatRfc3339Nano(t));
}
BENCHMARK(BM_FormatRfc3339Nano);

// --- registry Find over 10,000 NSEs ---------------------------------------------------------

// Counts what Find sends; no buffering, so the store's own cost is measured.
class CountingStream : public nsm::FindStream<NetworkServiceEndpointResponse> {
 public:
  const nsm::Context& context() const override { return ctx_; }
  absl::Status Send(const NetworkServiceEndpointResponse&) override {
    ++sent;
    return absl::OkStatus();
  }
  void Finish(absl::Status) override {}
  int64_t sent = 0;

 private:
  nsm::Context ctx_;
};

constexpr int kStoredNses = 10000;
constexpr int kNsesPerService = 10;

NetworkServiceEndpoint StoredNse(int i) {
  NetworkServiceEndpoint nse;
  nse.set_name(absl::StrCat("nse-", i));
  const std::string svc = absl::StrCat("svc-", i / kNsesPerService);
  nse.add_network_service_names(svc);
  auto& l = *(*nse.mutable_network_service_labels())[svc].mutable_labels();
  l["app"] = "bench";
  l["nodeName"] = absl::StrCat("node-", i % 16);
  nse.set_url(absl::StrCat("tcp://10.0.", i / 256 % 256, ".", i % 256, ":5001"));
  return nse;
}

std::shared_ptr<nsm::reg::memory::NSEServer> FilledStore() {
  static auto store = [] {
    auto s = nsm::reg::memory::NewNSEServer();
    for (int i = 0; i < kStoredNses; ++i) {
      NetworkServiceEndpoint nse = StoredNse(i);
      (void)s->Register(nsm::Context(), nse, {});
    }
    return s;
  }();
  return store;
}

void RunFind(benchmark::State& state, const NetworkServiceEndpointQuery& q, int64_t want) {
  auto store = FilledStore();
  auto stream = std::make_shared<CountingStream>();
  for (auto _ : state) {
    stream->sent = 0;
    benchmark::DoNotOptimize(store->Find(nsm::Context(), q, stream, {}));
  }
  if (stream->sent != want) {
    state.SkipWithError(absl::StrCat("found ", stream->sent, ", want ", want).c_str());
  }
  state.counters["matches"] = static_cast<double>(stream->sent);
}

void BM_MemoryFindByService(benchmark::State& state) {
  NetworkServiceEndpointQuery q;
  q.mutable_network_service_endpoint()->add_network_service_names("svc-517");
  RunFind(state, q, kNsesPerService);
}
BENCHMARK(BM_MemoryFindByService);

void BM_MemoryFindByName(benchmark::State& state) {
  NetworkServiceEndpointQuery q;
  q.mutable_network_service_endpoint()->set_name("nse-5173");
  RunFind(state, q, 1);
}
BENCHMARK(BM_MemoryFindByName);

void BM_MemoryFindByServiceAndLabels(benchmark::State& state) {
  NetworkServiceEndpointQuery q;
  auto* nse = q.mutable_network_service_endpoint();
  nse->add_network_service_names("svc-517");
  (*(*nse->mutable_network_service_labels())["svc-517"].mutable_labels())["nodeName"] = "node-2";
  RunFind(state, q, 1);
}
BENCHMARK(BM_MemoryFindByServiceAndLabels);

void BM_MemoryFindAll(benchmark::State& state) {
  NetworkServiceEndpointQuery q;
  q.mutable_network_service_endpoint();
  RunFind(state, q, kStoredNses);
}
BENCHMARK(BM_MemoryFindAll);

// Re-registration of a stored NSE (what every refresh does).
void BM_MemoryReRegister(benchmark::State& state) {
  auto store = FilledStore();
  NetworkServiceEndpoint nse = StoredNse(4242);
  for (auto _ : state) {
    NetworkServiceEndpoint copy = nse;
    benchmark::DoNotOptimize(store->Register(nsm::Context(), copy, {}));
  }
}
BENCHMARK(BM_MemoryReRegister);

}  // namespace

BENCHMARK_MAIN();

// Metrics core: the process's prometheus-cpp registry, bounded label values, the Request/Close
// result names, and the /metrics server started from NSM_METRICS_LISTEN_ON (issue #8, Metrics).
#include "core/metrics/metrics.h"

#include <arpa/inet.h>

#include <exception>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/nsm_url.h"
#include "core/log.h"
#include "prometheus/exposer.h"

namespace nsm::metrics {

std::string LabelCap::operator()(absl::string_view value) {
  absl::MutexLock lock(&mu_);
  if (seen_.contains(value)) return std::string(value);
  if (seen_.size() >= max_values_) return kOther;
  seen_.emplace(value);
  return std::string(value);
}

size_t LabelCap::size() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

std::string ResultLabel(const absl::Status& status) {
  if (status.ok()) return "ok";
  return absl::StatusCodeToString(status.code());
}

void HookAdmission(std::shared_ptr<prometheus::Registry> registry, prometheus::Gauge& queued,
                   prometheus::Family<prometheus::Counter>& shed,
                   const std::map<std::string, std::string>& labels,
                   const std::array<const char*, 3>& kinds, AdmissionOptions& options) {
  options.on_queued = [registry, gauge = &queued](int delta) { gauge->Increment(delta); };
  std::array<std::array<prometheus::Counter*, 2>, 3> counters{};
  for (size_t kind = 0; kind < kinds.size(); ++kind) {
    for (bool refused : {false, true}) {
      auto series = labels;
      series["kind"] = kinds[kind];
      series["reason"] = refused ? "refused" : "expired";
      counters[kind][refused] = &shed.Add(series);
    }
  }
  options.on_shed = [registry = std::move(registry), counters](CallPriority p, bool refused) {
    counters[static_cast<size_t>(p)][refused]->Increment();
  };
}

const std::vector<double>& LatencyBuckets() {
  static const auto* buckets =
      new std::vector<double>{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                              0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

const env::Variable& ListenOnVariable() {
  static const env::Variable v{
      "METRICS_LISTEN_ON", "host:port", "",
      "serve Prometheus metrics on http://<host:port>/metrics (tcp://host:port accepted; port 0 "
      "picks a free port, logged at start-up); unset or empty: no metrics server (nsm-cpp; see "
      "docs/metrics.md)"};
  return v;
}

absl::StatusOr<std::string> NormalizeListenOn(absl::string_view value) {
  if (value.empty()) return std::string();
  std::string text(value);
  if (absl::StrContains(text, "://")) {
    if (!absl::StartsWith(text, "tcp://")) {
      return absl::InvalidArgumentError(
          "want host:port or tcp://host:port (metrics are served over tcp)");
    }
  } else {
    text = "tcp://" + text;
  }
  auto url = api::ParseNsmUrl(text);
  if (!url.ok()) return absl::InvalidArgumentError(url.status().message());
  if (url->scheme != api::NsmUrl::Scheme::kTcp) {
    return absl::InvalidArgumentError("want host:port or tcp://host:port");
  }
  std::string host = url->host;
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) {
    return absl::StrCat(host, ":", url->port);
  }
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    return absl::StrCat("[", host, "]:", url->port);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the host \"", host,
                   "\" is not an IP address (names other than localhost are not resolved)"));
}

absl::StatusOr<std::string> ParseListenOn(const env::Value& value) {
  auto normal = NormalizeListenOn(value.value);
  if (!normal.ok()) return env::Invalid(value, normal.status().message());
  return normal;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("metrics: no registry to serve");
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->registry_ = std::move(registry);
  try {
    // One civetweb worker: scrapes are rare and cheap.
    s->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", address, ": ", e.what()));
  }
  s->exposer_->RegisterCollectable(s->registry_);
  auto ports = s->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics: cannot listen on ", address));
  }
  s->port_ = ports.front();
  const size_t colon = address.rfind(':');
  s->address_ = absl::StrCat(address.substr(0, colon), ":", s->port_);
  return s;
}

HttpServer::~HttpServer() = default;

void HttpServer::Serve(std::shared_ptr<prometheus::Collectable> more) {
  exposer_->RegisterCollectable(more);
  more_.push_back(std::move(more));
}

void PoolCollector::Add(std::string name, std::shared_ptr<ThreadPool> pool) {
  absl::MutexLock lock(&mu_);
  pools_.emplace_back(std::move(name), std::move(pool));
}

std::vector<prometheus::MetricFamily> PoolCollector::Collect() const {
  using prometheus::MetricType;
  absl::MutexLock lock(&mu_);
  if (pools_.empty()) return {};
  std::vector<prometheus::MetricFamily> families = {
      {"nsm_pool_threads", "Worker threads of a pool that runs chains", MetricType::Gauge, {}},
      {"nsm_pool_idle_threads", "Workers of a pool waiting for work", MetricType::Gauge, {}},
      {"nsm_pool_queued_tasks",
       "Chain calls and events queued for a worker",
       MetricType::Gauge,
       {}},
      {"nsm_pool_threads_added_total",
       "Workers added because every worker was blocked with work queued",
       MetricType::Counter,
       {}},
  };
  for (const auto& [name, pool] : pools_) {
    const ThreadPool::Stats stats = pool->stats();
    const double values[] = {static_cast<double>(stats.threads), static_cast<double>(stats.idle),
                             static_cast<double>(stats.queued), static_cast<double>(stats.added)};
    for (size_t i = 0; i < families.size(); ++i) {
      prometheus::ClientMetric metric;
      metric.label.push_back({"pool", name});
      if (families[i].type == MetricType::Counter) {
        metric.counter.value = values[i];
      } else {
        metric.gauge.value = values[i];
      }
      families[i].metric.push_back(std::move(metric));
    }
  }
  return families;
}

absl::StatusOr<Metrics> StartFromConfig(const std::string& listen_on, absl::string_view log_name) {
  Metrics m;
  m.registry = std::make_shared<prometheus::Registry>();
  m.pools = std::make_shared<PoolCollector>();
  m.pools->Add("process", DefaultThreadPool());
  if (listen_on.empty()) {
    log::Info(log_name, "metrics: off (NSM_METRICS_LISTEN_ON is not set)");
    return m;
  }
  auto server = HttpServer::Start(listen_on, m.registry);
  if (!server.ok()) return server.status();
  m.server = *std::move(server);
  m.server->Serve(m.pools);
  log::Info(log_name, absl::StrCat("metrics: serving http://", m.server->address(), "/metrics"));
  return m;
}

}  // namespace nsm::metrics

// Metrics core: the process's prometheus-cpp registry, bounded label values, the Request/Close
// result names, and the /metrics server started from NSM_METRICS_LISTEN_ON (issue #8, Metrics).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/admission.h"
#include "core/envconfig.h"
#include "core/executor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace nsm::metrics {

// Label value for every value past a LabelCap's limit.
inline constexpr char kOther[] = "other";
// Default number of distinct values a label may take (docs/metrics.md "Cardinality").
inline constexpr size_t kDefaultMaxLabelValues = 1000;

// Keeps the values of one label bounded: the first `max_values` distinct values seen pass
// unchanged, every later new value becomes "other". Thread-safe.
class LabelCap {
 public:
  explicit LabelCap(size_t max_values = kDefaultMaxLabelValues) : max_values_(max_values) {}
  std::string operator()(absl::string_view value);
  size_t size() const;

 private:
  const size_t max_values_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

// The series of a family by the raw values its labels are made from, so that the hot path finds
// its counter with one hash lookup instead of building prometheus's label map (a std::map and
// its strings per call) and hashing that. Holds at most `max_entries` keys; past that, Get makes
// the series each time (prometheus returns the same one). Series must not be removed from their
// family while cached. Thread-safe.
template <typename Key, typename Metric>
class SeriesCache {
 public:
  explicit SeriesCache(size_t max_entries) : max_entries_(max_entries) {}
  // The series of `key`, made by `make()` (e.g. Family::Add) the first time.
  template <typename Make>
  Metric& Get(const Key& key, const Make& make) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = series_.find(key); it != series_.end()) return *it->second;
    }
    Metric& made = make();
    absl::MutexLock lock(&mu_);
    if (series_.size() < max_entries_) series_.emplace(key, &made);
    return made;
  }

 private:
  const size_t max_entries_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Metric*> series_ ABSL_GUARDED_BY(mu_);
};

// The `result` label of an operation: "ok", else the gRPC code name ("NOT_FOUND", ...).
std::string ResultLabel(const absl::Status& status);

// Latency buckets in seconds, 100 µs to 10 s (1-2.5-5 steps).
const std::vector<double>& LatencyBuckets();

// Sets the hooks of an admission (core/admission.h): calls waiting go to `queued`; calls
// answered without running to `shed` with `labels` plus kind = kinds[CallPriority] and reason
// "refused" or "expired" (every series made up front, so a refusal storm costs an increment
// each). The hooks keep `registry`, and so every series, alive.
void HookAdmission(std::shared_ptr<prometheus::Registry> registry, prometheus::Gauge& queued,
                   prometheus::Family<prometheus::Counter>& shed,
                   const std::map<std::string, std::string>& labels,
                   const std::array<const char*, 3>& kinds, AdmissionOptions& options);

// NSM_METRICS_LISTEN_ON: where /metrics is served; unset or empty = no metrics server.
const env::Variable& ListenOnVariable();
// "" (off), "host:port" or "tcp://host:port" (IPv6 as [addr]:port; port 0 picks a free one) ->
// "host:port"; INVALID_ARGUMENT naming the variable and the value otherwise.
absl::StatusOr<std::string> ParseListenOn(const env::Value& value);
// The same for a bare value: INVALID_ARGUMENT saying only what is wrong with it.
absl::StatusOr<std::string> NormalizeListenOn(absl::string_view text);

// Serves a registry on http://<address>/metrics (prometheus-cpp's Exposer).
class HttpServer {
 public:
  // UNAVAILABLE naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry);
  ~HttpServer();

  // The bound port (the chosen one for port 0).
  int port() const { return port_; }
  // host:port actually listened on.
  const std::string& address() const { return address_; }
  // Serves `more` next to the registry, for the life of the server.
  void Serve(std::shared_ptr<prometheus::Collectable> more);

 private:
  HttpServer() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<std::shared_ptr<prometheus::Collectable>> more_;
  int port_ = 0;
  std::string address_;
};

// Worker pools as seen at each scrape, each under the label `pool` = the name it was added with:
// `nsm_pool_threads`, `nsm_pool_idle_threads` and `nsm_pool_queued_tasks` (gauges),
// `nsm_pool_threads_added_total` (counter: workers an elastic pool added because every worker was
// blocked; core/executor.h).
class PoolCollector : public prometheus::Collectable {
 public:
  // Reports `pool` as pool="`name`" from the next scrape on, for the collector's life.
  void Add(std::string name, std::shared_ptr<ThreadPool> pool);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<ThreadPool>>> pools_ ABSL_GUARDED_BY(mu_);
};

// What a binary needs: the registry to give its chains, the pools to report (the process pool is
// in it as pool="process"; a binary adds the pools it makes), and the server (null when metrics
// are off).
struct Metrics {
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<PoolCollector> pools;
  std::unique_ptr<HttpServer> server;
  bool enabled() const { return server != nullptr; }
};

// Starts /metrics on `listen_on` (the parsed NSM_METRICS_LISTEN_ON), with the registry and the
// pools (DefaultThreadPool as pool="process"), and logs the bound address
// under `log_name` ("metrics: serving http://127.0.0.1:39411/metrics"); "" = off, the registry
// still exists (the chains count into it, nobody scrapes it).
absl::StatusOr<Metrics> StartFromConfig(const std::string& listen_on, absl::string_view log_name);

}  // namespace nsm::metrics

// Reading metrics back, for tests and tools: a value from a registry's Collect(), and a plain
// HTTP/1.0 GET of a /metrics page with a bounded wait (issue #8, docs/metrics.md).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"

namespace nsm::metrics {

using Labels = std::map<std::string, std::string>;

// The value of the series `name` with exactly `labels` (counter or gauge value; for a histogram
// `name` may end in _count or _sum). nullopt when there is no such series.
std::optional<double> ValueOf(const prometheus::Collectable& registry, const std::string& name,
                              const Labels& labels = {});

// GET http://<host:port><path> over HTTP/1.0; the body, or an error (connect failure, timeout,
// status other than 200).
absl::StatusOr<std::string> HttpGet(const std::string& host_port,
                                    const std::string& path = "/metrics",
                                    absl::Duration timeout = absl::Seconds(5));

// The value of the sample `name{labels}` in a text exposition page (labels must match exactly,
// in any order). nullopt when absent.
std::optional<double> ValueInText(const std::string& page, const std::string& name,
                                  const Labels& labels = {});

}  // namespace nsm::metrics

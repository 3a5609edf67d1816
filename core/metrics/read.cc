// Reading metrics back, for tests and tools: a value from a registry's Collect(), and a plain
// HTTP/1.0 GET of a /metrics page with a bounded wait (issue #8, docs/metrics.md).
#include "core/metrics/read.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "prometheus/metric_family.h"

namespace nsm::metrics {
namespace {

bool SameLabels(const std::vector<prometheus::ClientMetric::Label>& have, const Labels& want) {
  if (have.size() != want.size()) return false;
  for (const auto& l : have) {
    auto it = want.find(l.name);
    if (it == want.end() || it->second != l.value) return false;
  }
  return true;
}

// Parses `a="x",b="y"` (no escapes inside values are needed by our label values).
std::optional<Labels> ParseLabels(absl::string_view text) {
  Labels out;
  while (!text.empty()) {
    const size_t eq = text.find("=\"");
    if (eq == text.npos) return std::nullopt;
    const size_t end = text.find('"', eq + 2);
    if (end == text.npos) return std::nullopt;
    out[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 2, end - eq - 2));
    text.remove_prefix(end + 1);
    absl::ConsumePrefix(&text, ",");
  }
  return out;
}

}  // namespace

std::optional<double> ValueOf(const prometheus::Collectable& registry, const std::string& name,
                              const Labels& labels) {
  for (const auto& family : registry.Collect()) {
    const bool exact = family.name == name;
    const bool count = name == family.name + "_count";
    const bool sum = name == family.name + "_sum";
    if (!exact && !count && !sum) continue;
    for (const auto& m : family.metric) {
      if (!SameLabels(m.label, labels)) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          if (exact) return m.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          if (exact) return m.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          if (count) return static_cast<double>(m.histogram.sample_count);
          if (sum) return m.histogram.sample_sum;
          break;
        default:
          break;
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", host_port, "\" is not host:port"));
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (absl::StartsWith(host, "[")) host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(host_port, ": ", gai_strerror(rc)));
  }
  const int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  const int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("connect ", host_port, ": ", std::strerror(errno)));
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port,
                                           "\r\nAccept: text/plain\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat("send to ", host_port, ": ", std::strerror(errno)));
  }
  std::string response;
  char buf[8192];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("GET ", host_port, path, ": no full answer"));
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("GET ", host_port, path, ": no HTTP answer"));
  }
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (!absl::StrContains(status_line, " 200")) {
    return absl::UnavailableError(absl::StrCat("GET ", host_port, path, ": ", status_line));
  }
  return response.substr(body + 4);
}

std::optional<double> ValueInText(const std::string& page, const std::string& name,
                                  const Labels& labels) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (!absl::ConsumePrefix(&line, name)) continue;
    Labels have;
    if (absl::ConsumePrefix(&line, "{")) {
      const size_t close = line.find('}');
      if (close == line.npos) continue;
      auto parsed = ParseLabels(line.substr(0, close));
      if (!parsed) continue;
      have = *parsed;
      line.remove_prefix(close + 1);
    }
    if (line.empty() || line[0] != ' ' || have != labels) continue;
    line = absl::StripAsciiWhitespace(line);
    // "value [timestamp]"
    absl::string_view value = line.substr(0, line.find(' '));
    double v = 0;
    if (absl::SimpleAtod(value, &v)) return v;
  }
  return std::nullopt;
}

}  // namespace nsm::metrics

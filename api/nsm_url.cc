#include "api/nsm_url.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "api/mechanisms.h"
#include "api/path.h"

namespace nsm::api {
namespace {

constexpr absl::string_view kSchemeSeparator = "://";

bool AllDigits(absl::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// Strict unsigned decimal (digits only) no larger than `max`.
std::optional<uint64_t> ParseDecimal(absl::string_view s, uint64_t max) {
  uint64_t value = 0;
  if (!AllDigits(s) || s.size() > 20 || !absl::SimpleAtoi(s, &value) || value > max) {
    return std::nullopt;
  }
  return value;
}

bool IsHostNameChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_'; }

absl::Status UrlError(absl::string_view url, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrFormat("invalid URL \"%s\": %s", url, problem));
}

// Parses "host:port", "[v6]:port" or ":port" (host may be empty) into `out`. `url` is quoted in
// errors. A single trailing '/' is tolerated.
absl::Status ParseHostPort(absl::string_view authority, absl::string_view url, NsmUrl* out) {
  if (absl::EndsWith(authority, "/")) authority.remove_suffix(1);
  if (authority.find('/') != absl::string_view::npos) {
    return UrlError(url, "a tcp URL has no path (want tcp://host:port)");
  }
  absl::string_view host;
  absl::string_view rest;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return UrlError(url, "missing ']' after the IPv6 host");
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    const absl::string_view address = host.substr(0, host.find('%'));  // allow a zone
    std::optional<IpAddress> ip = ParseIpAddress(address);
    if (!ip.has_value() || ip->is_v4 || absl::EndsWith(host, "%")) {
      return UrlError(url, absl::StrFormat("\"%s\" is not an IPv6 address", host));
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon == absl::string_view::npos) {
      return UrlError(url, "missing port (want tcp://host:port)");
    }
    host = authority.substr(0, colon);
    rest = authority.substr(colon);
    if (host.find(':') != absl::string_view::npos) {
      return UrlError(url, absl::StrFormat("IPv6 host \"%s\" must be in brackets", host));
    }
    if (!host.empty() && std::all_of(host.begin(), host.end(),
                                     [](char c) { return absl::ascii_isdigit(c) || c == '.'; })) {
      if (!ParseIpAddress(host).has_value()) {
        return UrlError(url, absl::StrFormat("\"%s\" is not an IPv4 address", host));
      }
    } else if (!std::all_of(host.begin(), host.end(), IsHostNameChar)) {
      return UrlError(url, absl::StrFormat("\"%s\" is not a valid host name", host));
    }
  }
  if (!absl::StartsWith(rest, ":")) return UrlError(url, "missing port (want tcp://host:port)");
  const absl::string_view port = rest.substr(1);
  if (port.empty()) return UrlError(url, "missing port (want tcp://host:port)");
  std::optional<uint64_t> value = ParseDecimal(port, 65535);
  if (!value.has_value()) {
    return UrlError(url, absl::StrFormat("port \"%s\" is not a number in 0..65535", port));
  }
  out->scheme = NsmUrl::Scheme::kTcp;
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(*value);
  return absl::OkStatus();
}

std::string BracketHost(absl::string_view host) {
  return host.find(':') != absl::string_view::npos ? absl::StrCat("[", host, "]")
                                                   : std::string(host);
}

// Decodes application/x-www-form-urlencoded text ('+' = space, %XX escapes).
absl::StatusOr<std::string> QueryUnescape(absl::string_view s, absl::string_view url) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || !absl::ascii_isxdigit(s[i + 1]) || !absl::ascii_isxdigit(s[i + 2])) {
        return UrlError(url, absl::StrFormat("bad percent escape \"%s\" in the query",
                                             s.substr(i, std::min<size_t>(3, s.size() - i))));
      }
      auto hex = [](char c) {
        return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
      };
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string NsmUrl::ToString() const {
  switch (scheme) {
    case Scheme::kUnix:
      return absl::StrCat("unix://", path);
    case Scheme::kTcp:
      return absl::StrCat("tcp://", BracketHost(host), ":", port);
    case Scheme::kInode:
      return absl::StrCat("inode://", dev, "/", ino);
  }
  return "";
}

absl::StatusOr<std::string> NsmUrl::GrpcDialTarget() const {
  switch (scheme) {
    case Scheme::kUnix:
      return absl::StrCat("unix:", path);
    case Scheme::kTcp:
      if (host.empty()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("URL \"%s\" has no host to dial", ToString()));
      }
      return absl::StrCat(BracketHost(host), ":", port);
    case Scheme::kInode:
      break;
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "URL \"%s\" is an inode URL: resolve it to a file descriptor path first", ToString()));
}

absl::StatusOr<std::string> NsmUrl::GrpcListenAddress() const {
  if (scheme == Scheme::kTcp && host.empty()) return absl::StrCat("[::]:", port);
  return GrpcDialTarget();
}

absl::StatusOr<NsmUrl> ParseNsmUrl(absl::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("invalid URL \"\": empty");
  const size_t sep = url.find(kSchemeSeparator);
  if (sep == absl::string_view::npos) {
    return UrlError(url, "no scheme (want unix://, tcp:// or inode://)");
  }
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, sep));
  const absl::string_view rest = url.substr(sep + kSchemeSeparator.size());
  NsmUrl out;
  if (scheme == "unix") {
    if (!absl::StartsWith(rest, "/")) {
      return UrlError(url, "unix socket path is not absolute (want unix:///absolute/path)");
    }
    if (rest.find('\0') != absl::string_view::npos) {
      return UrlError(url, "unix socket path contains a NUL byte");
    }
    out.scheme = NsmUrl::Scheme::kUnix;
    out.path = std::string(rest);
    return out;
  }
  if (scheme == "tcp") {
    if (absl::Status s = ParseHostPort(rest, url, &out); !s.ok()) return s;
    return out;
  }
  if (scheme == "inode") {
    std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
    if (parts.size() != 2) return UrlError(url, "want inode://<dev>/<ino>");
    std::optional<uint64_t> dev = ParseDecimal(parts[0], UINT64_MAX);
    if (!dev.has_value()) {
      return UrlError(url, absl::StrFormat("device \"%s\" is not a decimal number", parts[0]));
    }
    std::optional<uint64_t> ino = ParseDecimal(parts[1], UINT64_MAX);
    if (!ino.has_value()) {
      return UrlError(url, absl::StrFormat("inode \"%s\" is not a decimal number", parts[1]));
    }
    out.scheme = NsmUrl::Scheme::kInode;
    out.dev = *dev;
    out.ino = *ino;
    return out;
  }
  return UrlError(
      url, absl::StrFormat("unknown scheme \"%s\" (want unix, tcp or inode)", url.substr(0, sep)));
}

absl::StatusOr<NsmUrl> NsmUrlFromGrpcTarget(absl::string_view target) {
  if (target.empty()) return absl::InvalidArgumentError("invalid gRPC target \"\": empty");
  absl::string_view rest = target;
  if (absl::ConsumePrefix(&rest, "unix:")) {
    absl::ConsumePrefix(&rest, "//");
    return ParseNsmUrl(absl::StrCat("unix://", rest));
  }
  absl::ConsumePrefix(&rest, "dns:///");
  NsmUrl out;
  if (absl::Status s = ParseHostPort(rest, target, &out); !s.ok()) return s;
  return out;
}

connection::Mechanism NscRequestUrl::ToMechanism() const {
  mech::Parameters params;
  if (!interface_name.empty()) params[mech::kernel::kInterfaceName] = interface_name;
  return mech::MakeMechanism(mech::kLocal, mechanism_type, params);
}

absl::StatusOr<NscRequestUrl> ParseNscRequestUrl(absl::string_view url) {
  const size_t sep = url.find(kSchemeSeparator);
  if (sep == absl::string_view::npos) {
    return UrlError(url, "want <mechanism>://<network-service>[/<interface>][?labels]");
  }
  const absl::string_view scheme = url.substr(0, sep);
  if (scheme.empty() || !absl::ascii_isalpha(scheme[0]) ||
      !std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
      })) {
    return UrlError(url, absl::StrFormat("\"%s\" is not a mechanism name", scheme));
  }
  absl::string_view rest = url.substr(sep + kSchemeSeparator.size());
  if (rest.find('#') != absl::string_view::npos) return UrlError(url, "unexpected '#' fragment");
  absl::string_view query;
  if (const size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  const absl::string_view service = rest.substr(0, slash);
  absl::string_view iface = slash == absl::string_view::npos ? "" : rest.substr(slash + 1);

  NscRequestUrl out;
  out.mechanism_type = absl::AsciiStrToUpper(scheme);
  if (service.empty()) return UrlError(url, "empty network service name");
  if (const size_t at = service.rfind('@'); at != absl::string_view::npos) {
    if (at == 0) return UrlError(url, "empty network service name before '@'");
    if (at + 1 == service.size()) return UrlError(url, "empty domain after '@'");
  }
  out.network_service = std::string(service);
  if (iface.find('/') != absl::string_view::npos) {
    return UrlError(url, absl::StrFormat("interface name \"%s\" contains '/'", iface));
  }
  if (iface.size() > mech::kernel::kLinuxIfMaxLength) {
    return UrlError(url, absl::StrFormat("interface name \"%s\" is longer than %d characters",
                                         iface, mech::kernel::kLinuxIfMaxLength));
  }
  out.interface_name = std::string(iface);
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    absl::StatusOr<std::string> key = QueryUnescape(pair.substr(0, eq), url);
    if (!key.ok()) return key.status();
    if (key->empty()) {
      return UrlError(url, absl::StrFormat("label \"%s\" has an empty name", pair));
    }
    absl::StatusOr<std::string> value =
        QueryUnescape(eq == absl::string_view::npos ? "" : pair.substr(eq + 1), url);
    if (!value.ok()) return value.status();
    out.labels.emplace(*std::move(key), *std::move(value));  // the first value of a key wins
  }
  return out;
}

}  // namespace nsm::api

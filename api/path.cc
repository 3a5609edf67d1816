#include "api/path.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nsm::api {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's civil-day
// algorithms): plain arithmetic where absl's civil-time conversion looks up a time zone, on every
// token a call carries.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct CivilDate {
  int64_t year;
  int month, day;
};

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

using connection::Connection;
using connection::Path;
using connection::PathSegment;
using connectioncontext::ConnectionContext;
using connectioncontext::DNSContext;
using connectioncontext::ExtraPrefixRequest;
using connectioncontext::IPContext;
using connectioncontext::Route;
using google::protobuf::RepeatedPtrField;

// Index of the segment `offset` positions away from path.index, or -1 when out of range.
int SegmentIndex(const Path& path, int offset) {
  const int64_t i = static_cast<int64_t>(path.index()) + offset;
  if (i < 0 || i >= path.path_segments_size()) return -1;
  return static_cast<int>(i);
}

const PathSegment* Segment(const Path& path, int offset) {
  const int i = SegmentIndex(path, offset);
  return i < 0 ? nullptr : &path.path_segments(i);
}

PathSegment* MutableSegment(Path* path, int offset) {
  if (path == nullptr) return nullptr;
  const int i = SegmentIndex(*path, offset);
  return i < 0 ? nullptr : path->mutable_path_segments(i);
}

const PathSegment* Segment(const Connection& conn, int offset) {
  return conn.has_path() ? Segment(conn.path(), offset) : nullptr;
}

PathSegment* MutableSegment(Connection* conn, int offset) {
  if (conn == nullptr || !conn->has_path()) return nullptr;
  return MutableSegment(conn->mutable_path(), offset);
}

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status ValidatePathAt(const Path& path, absl::string_view field) {
  const int n = path.path_segments_size();
  if (n == 0 && path.index() == 0) return absl::OkStatus();
  if (static_cast<int64_t>(path.index()) >= n) {
    return Invalid(absl::StrFormat("%sindex %u is out of range: the path has %d segment%s", field,
                                   path.index(), n, n == 1 ? "" : "s"));
  }
  return absl::OkStatus();
}

absl::Status ValidateConnectionAt(const Connection& conn, absl::string_view field) {
  if (conn.network_service().empty()) {
    return Invalid(absl::StrCat(field, "network_service is empty"));
  }
  if (conn.has_path()) {
    if (absl::Status s = ValidatePathAt(conn.path(), absl::StrCat(field, "path.")); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRoutes(const RepeatedPtrField<Route>& routes, absl::string_view field) {
  for (int i = 0; i < routes.size(); ++i) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(routes[i].prefix());
    if (!prefix.ok()) {
      return Invalid(absl::StrFormat("%s[%d].prefix: %s", field, i, prefix.status().message()));
    }
  }
  return absl::OkStatus();
}

constexpr absl::string_view kIpContextField = "context.ip_context.";
constexpr absl::string_view kDnsContextField = "context.dns_context.";

// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the google.protobuf.Timestamp range.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int32_t kNanosPerSecond = 1000000000;

}  // namespace

// --- Path segments ------------------------------------------------------------------------------

const PathSegment* CurrentSegment(const Path& path) { return Segment(path, 0); }
const PathSegment* PreviousSegment(const Path& path) { return Segment(path, -1); }
const PathSegment* NextSegment(const Path& path) { return Segment(path, 1); }
PathSegment* MutableCurrentSegment(Path* path) { return MutableSegment(path, 0); }
PathSegment* MutablePreviousSegment(Path* path) { return MutableSegment(path, -1); }
PathSegment* MutableNextSegment(Path* path) { return MutableSegment(path, 1); }

const PathSegment* CurrentSegment(const Connection& conn) { return Segment(conn, 0); }
const PathSegment* PreviousSegment(const Connection& conn) { return Segment(conn, -1); }
const PathSegment* NextSegment(const Connection& conn) { return Segment(conn, 1); }
PathSegment* MutableCurrentSegment(Connection* conn) { return MutableSegment(conn, 0); }
PathSegment* MutablePreviousSegment(Connection* conn) { return MutableSegment(conn, -1); }
PathSegment* MutableNextSegment(Connection* conn) { return MutableSegment(conn, 1); }

// --- Validation ---------------------------------------------------------------------------------

absl::Status ValidatePath(const Path& path) { return ValidatePathAt(path, "path."); }

absl::Status ValidateConnection(const Connection& conn) { return ValidateConnectionAt(conn, ""); }

absl::Status ValidateCompleteConnection(const Connection& conn) {
  if (absl::Status s = ValidateConnection(conn); !s.ok()) return s;
  if (conn.id().empty()) return Invalid("id is empty");
  if (absl::Status s = ValidateConnectionContext(conn.context()); !s.ok()) return s;
  const IPContext& ip = conn.context().ip_context();
  if (ip.src_ip_required() && ip.src_ip_addrs().empty()) {
    return Invalid(absl::StrCat(kIpContextField, "src_ip_required is true but ", kIpContextField,
                                "src_ip_addrs is empty"));
  }
  if (ip.dst_ip_required() && ip.dst_ip_addrs().empty()) {
    return Invalid(absl::StrCat(kIpContextField, "dst_ip_required is true but ", kIpContextField,
                                "dst_ip_addrs is empty"));
  }
  return absl::OkStatus();
}

absl::Status ValidateNetworkServiceRequest(const networkservice::NetworkServiceRequest& request) {
  if (!request.has_connection()) return Invalid("connection is not set");
  if (absl::Status s = ValidateConnectionAt(request.connection(), "connection."); !s.ok()) {
    return s;
  }
  if (request.mechanism_preferences().empty()) return Invalid("mechanism_preferences is empty");
  return absl::OkStatus();
}

// --- IP addresses and prefixes ------------------------------------------------------------------

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const char* out = is_v4 ? inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof(buf))
                          : inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return out == nullptr ? std::string() : std::string(out);
}

bool IpPrefix::Contains(const IpAddress& ip) const {
  if (ip.is_v4 != address.is_v4) return false;
  const int offset = address.is_v4 ? 12 : 0;
  int bits = length;
  for (int i = offset; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((ip.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
}

std::optional<IpAddress> ParseIpAddress(absl::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid text is 45 characters.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  if (text.find(':') != absl::string_view::npos) {
    if (inet_pton(AF_INET6, buf, ip.bytes.data()) != 1) return std::nullopt;
    return ip;
  }
  if (inet_pton(AF_INET, buf, ip.bytes.data() + 12) != 1) return std::nullopt;
  ip.is_v4 = true;
  ip.bytes[10] = 0xFF;
  ip.bytes[11] = 0xFF;
  return ip;
}

absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return Invalid(absl::StrFormat("invalid CIDR \"%s\": missing \"/<prefix length>\"", text));
  }
  const absl::string_view addr = text.substr(0, slash);
  const absl::string_view len = text.substr(slash + 1);
  std::optional<IpAddress> ip = ParseIpAddress(addr);
  if (!ip.has_value()) {
    return Invalid(absl::StrFormat("invalid CIDR \"%s\": \"%s\" is not an IP address", text, addr));
  }
  const int max_len = ip->is_v4 ? 32 : 128;
  int n = 0;
  const bool digits =
      !len.empty() && len.size() <= 3 &&
      std::all_of(len.begin(), len.end(), [](char c) { return absl::ascii_isdigit(c); });
  if (!digits || !absl::SimpleAtoi(len, &n) || n > max_len) {
    return Invalid(absl::StrFormat("invalid CIDR \"%s\": prefix length \"%s\" is not in 0..%d",
                                   text, len, max_len));
  }
  return IpPrefix{*ip, n};
}

// --- ConnectionContext --------------------------------------------------------------------------

absl::Status ValidateExtraPrefixRequest(const ExtraPrefixRequest& request,
                                        absl::string_view field) {
  if (!request.has_addr_family()) return Invalid(absl::StrCat(field, ".addr_family is not set"));
  const bool v4 = request.addr_family().family() == connectioncontext::IpFamily::IPV4;
  const uint32_t max_len = v4 ? 32 : 128;
  if (request.prefix_len() < 1 || request.prefix_len() > max_len) {
    return Invalid(absl::StrFormat("%s.prefix_len %u is not in 1..%u for %s", field,
                                   request.prefix_len(), max_len, v4 ? "IPV4" : "IPV6"));
  }
  if (request.required_number() < 1) {
    return Invalid(absl::StrCat(field, ".required_number is 0, must be at least 1"));
  }
  if (request.requested_number() < request.required_number()) {
    return Invalid(absl::StrFormat("%s.requested_number %u is less than required_number %u", field,
                                   request.requested_number(), request.required_number()));
  }
  return absl::OkStatus();
}

absl::Status ValidateIpContext(const IPContext& ip) {
  if (absl::Status s = ValidateRoutes(ip.src_routes(), absl::StrCat(kIpContextField, "src_routes"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRoutes(ip.dst_routes(), absl::StrCat(kIpContextField, "dst_routes"));
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < ip.policies_size(); ++i) {
    if (absl::Status s = ValidateRoutes(
            ip.policies(i).routes(), absl::StrFormat("%spolicies[%d].routes", kIpContextField, i));
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < ip.ip_neighbors_size(); ++i) {
    const connectioncontext::IpNeighbor& n = ip.ip_neighbors(i);
    if (n.ip().empty()) {
      return Invalid(absl::StrFormat("%sip_neighbors[%d].ip is empty (hardware_address \"%s\")",
                                     kIpContextField, i, n.hardware_address()));
    }
    if (n.hardware_address().empty()) {
      return Invalid(absl::StrFormat("%sip_neighbors[%d].hardware_address is empty (ip \"%s\")",
                                     kIpContextField, i, n.ip()));
    }
  }
  for (int i = 0; i < ip.extra_prefix_request_size(); ++i) {
    if (absl::Status s = ValidateExtraPrefixRequest(
            ip.extra_prefix_request(i),
            absl::StrFormat("%sextra_prefix_request[%d]", kIpContextField, i));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsContext(const DNSContext& dns) {
  for (int i = 0; i < dns.configs_size(); ++i) {
    if (dns.configs(i).dns_server_ips().empty()) {
      return Invalid(absl::StrFormat("%sconfigs[%d].dns_server_ips is empty", kDnsContextField, i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConnectionContext(const ConnectionContext& context) {
  if (absl::Status s = ValidateIpContext(context.ip_context()); !s.ok()) return s;
  return ValidateDnsContext(context.dns_context());
}

std::vector<Route> RoutesWithDefaultNextHop(const RepeatedPtrField<Route>& routes,
                                            const RepeatedPtrField<std::string>& gateway_addrs) {
  std::vector<IpPrefix> gateways;
  for (const std::string& addr : gateway_addrs) {
    if (absl::StatusOr<IpPrefix> p = ParseIpPrefix(addr); p.ok()) gateways.push_back(*p);
  }
  std::vector<Route> out(routes.begin(), routes.end());
  for (Route& route : out) {
    if (!route.nexthop().empty()) continue;
    absl::StatusOr<IpPrefix> dst = ParseIpPrefix(route.prefix());
    if (!dst.ok()) continue;
    const bool on_link = std::any_of(gateways.begin(), gateways.end(),
                                     [&](const IpPrefix& g) { return g.Contains(dst->address); });
    if (on_link) continue;
    for (const IpPrefix& g : gateways) {
      if (g.address.is_v4 == dst->address.is_v4) {
        route.set_nexthop(g.address.ToString());
        break;
      }
    }
  }
  return out;
}

std::vector<Route> SrcRoutesWithDefaultNextHop(const IPContext& ip_context) {
  return RoutesWithDefaultNextHop(ip_context.src_routes(), ip_context.dst_ip_addrs());
}

std::vector<Route> DstRoutesWithDefaultNextHop(const IPContext& ip_context) {
  return RoutesWithDefaultNextHop(ip_context.dst_routes(), ip_context.src_ip_addrs());
}

// --- Times --------------------------------------------------------------------------------------

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const absl::Time min = absl::FromUnixSeconds(kMinTimestampSeconds);
  const absl::Time max =
      absl::FromUnixSeconds(kMaxTimestampSeconds) + absl::Nanoseconds(kNanosPerSecond - 1);
  t = std::clamp(t, min, max);
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds towards negative infinity
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return ts;
}

absl::Status ValidateTimestamp(const google::protobuf::Timestamp& ts, absl::string_view field) {
  if (ts.nanos() < 0 || ts.nanos() >= kNanosPerSecond) {
    return Invalid(absl::StrFormat("%s.nanos %d is not in 0..999999999", field, ts.nanos()));
  }
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds) {
    return Invalid(
        absl::StrFormat("%s.seconds %d is outside years 0001..9999", field, ts.seconds()));
  }
  return absl::OkStatus();
}

std::string FormatRfc3339Nano(absl::Time t) {
  // Clamp like ToProtoTimestamp so that infinite times still print as a valid RFC 3339 value.
  // Written digit by digit: one per outgoing call with a token (updatetoken), where
  // absl::FormatTime's general formatter cost about 1 % of the nsmgr's instructions.
  const google::protobuf::Timestamp ts = ToProtoTimestamp(t);
  const int64_t days = ts.seconds() >= 0 ? ts.seconds() / 86400 : (ts.seconds() - 86399) / 86400;
  const int64_t in_day = ts.seconds() - days * 86400;
  const CivilDate date = CivilFromDays(days);
  char buf[32];  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
  char* p = buf;
  auto digits = [&p](int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  digits(date.year, 4);
  *p++ = '-';
  digits(date.month, 2);
  *p++ = '-';
  digits(date.day, 2);
  *p++ = 'T';
  digits(in_day / 3600, 2);
  *p++ = ':';
  digits(in_day / 60 % 60, 2);
  *p++ = ':';
  digits(in_day % 60, 2);
  if (int32_t nanos = ts.nanos(); nanos != 0) {  // as %E*S: no trailing zeros, no empty fraction
    int width = 9;
    while (nanos % 10 == 0) {
      nanos /= 10;
      --width;
    }
    *p++ = '.';
    digits(nanos, width);
  }
  *p++ = 'Z';
  return std::string(buf, p);
}

namespace {

// A small cursor over an RFC 3339 value that records the first error.
class Rfc3339Parser {
 public:
  explicit Rfc3339Parser(absl::string_view text) : text_(text) {}

  // Reads exactly `width` decimal digits.
  bool Digits(int width, absl::string_view what, int* out) {
    int value = 0;
    for (int i = 0; i < width; ++i) {
      if (pos_ + i >= text_.size() || !absl::ascii_isdigit(text_[pos_ + i])) {
        return Fail(absl::StrFormat("expected %d-digit %s at offset %d", width, what, pos_));
      }
      value = value * 10 + (text_[pos_ + i] - '0');
    }
    pos_ += width;
    *out = value;
    return true;
  }

  // Reads one of `accepted` characters.
  bool Char(absl::string_view accepted, absl::string_view what) {
    if (pos_ < text_.size() && accepted.find(text_[pos_]) != absl::string_view::npos) {
      ++pos_;
      return true;
    }
    return Fail(absl::StrFormat("expected %s at offset %d", what, pos_));
  }

  bool Range(int value, int lo, int hi, absl::string_view what) {
    if (value >= lo && value <= hi) return true;
    return Fail(absl::StrFormat("%s %02d is not in %02d..%02d", what, value, lo, hi));
  }

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Skip() { ++pos_; }
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool ParseRfc3339(Rfc3339Parser& p, absl::Time* out) {
  int year, month, day, hour, minute, second;
  if (!p.Digits(4, "year", &year) || !p.Char("-", "'-' after the year") ||
      !p.Digits(2, "month", &month) || !p.Range(month, 1, 12, "month") ||
      !p.Char("-", "'-' after the month") || !p.Digits(2, "day", &day)) {
    return false;
  }
  if (day < 1 || day > DaysInMonth(year, month)) {
    return p.Fail(absl::StrFormat("day %02d is not in 01..%02d for %04d-%02d", day,
                                  DaysInMonth(year, month), year, month));
  }
  if (!p.Char("Tt", "'T' between date and time") || !p.Digits(2, "hour", &hour) ||
      !p.Range(hour, 0, 23, "hour") || !p.Char(":", "':' after the hour") ||
      !p.Digits(2, "minute", &minute) || !p.Range(minute, 0, 59, "minute") ||
      !p.Char(":", "':' after the minute") || !p.Digits(2, "second", &second) ||
      !p.Range(second, 0, 59, "second")) {
    return false;
  }
  int64_t nanos = 0;
  if (p.Peek() == '.') {
    p.Skip();
    int digits = 0;
    while (absl::ascii_isdigit(p.Peek())) {
      if (digits < 9) nanos = nanos * 10 + (p.Peek() - '0');
      ++digits;
      p.Skip();
    }
    if (digits == 0) {
      return p.Fail(absl::StrFormat("expected fractional-second digits at offset %d", p.pos()));
    }
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (p.Peek() == 'Z' || p.Peek() == 'z') {
    p.Skip();
  } else if (p.Peek() == '+' || p.Peek() == '-') {
    const int sign = p.Peek() == '-' ? -1 : 1;
    p.Skip();
    int oh, om;
    if (!p.Digits(2, "offset hour", &oh) || !p.Range(oh, 0, 23, "offset hour") ||
        !p.Char(":", "':' in the offset") || !p.Digits(2, "offset minute", &om) ||
        !p.Range(om, 0, 59, "offset minute")) {
      return false;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return p.Fail(absl::StrFormat("expected 'Z' or a +HH:MM/-HH:MM offset at offset %d", p.pos()));
  }
  if (!p.AtEnd()) return p.Fail(absl::StrFormat("unexpected text at offset %d", p.pos()));
  *out = absl::FromUnixSeconds(DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                               second - offset_minutes * 60) +
         absl::Nanoseconds(nanos);
  return true;
}

}  // namespace

absl::StatusOr<absl::Time> ParseRfc3339Nano(absl::string_view text, absl::string_view field) {
  auto prefix = [field] { return field.empty() ? std::string() : absl::StrCat(field, ": "); };
  if (text.empty()) return Invalid(absl::StrCat(prefix(), "empty RFC 3339 time"));
  Rfc3339Parser parser(text);
  absl::Time t;
  if (!ParseRfc3339(parser, &t)) {
    return Invalid(
        absl::StrFormat("%sinvalid RFC 3339 time \"%s\": %s", prefix(), text, parser.error()));
  }
  return t;
}

// --- MonitorScopeSelector -----------------------------------------------------------------------

namespace {

bool SegmentMatches(const PathSegment& have, const PathSegment& want, SegmentMatch mode) {
  if (!want.name().empty() && want.name() != have.name()) return false;
  if (mode == SegmentMatch::kNameOnly) return true;
  if (!want.id().empty() && want.id() != have.id()) return false;
  if (!want.token().empty() && want.token() != have.token()) return false;
  return true;
}

}  // namespace

bool MatchesMonitorScopeSelector(const Connection& conn,
                                 const connection::MonitorScopeSelector& selector,
                                 SegmentMatch mode) {
  if (!selector.network_services().empty() &&
      std::find(selector.network_services().begin(), selector.network_services().end(),
                conn.network_service()) == selector.network_services().end()) {
    return false;
  }
  const RepeatedPtrField<PathSegment>& want = selector.path_segments();
  if (want.empty()) return true;
  const RepeatedPtrField<PathSegment>& have = conn.path().path_segments();
  for (int start = 0; start + want.size() <= have.size(); ++start) {
    bool all = true;
    for (int j = 0; j < want.size() && all; ++j) {
      all = SegmentMatches(have[start + j], want[j], mode);
    }
    if (all) return true;
  }
  return false;
}

}  // namespace nsm::api

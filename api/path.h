// Helpers around connection.Connection: path segments, validation, ConnectionContext rules, token
// times and MonitorScopeSelector matching (api.md §3, §7.1, §7.2, §7.4, §10, §11).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "connection.pb.h"
#include "connectioncontext.pb.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "networkservice.pb.h"

namespace nsm::api {

// ---------------------------------------------------------------------------------------------
// Path segments (api.md §3 Path, §7.1). Each accessor returns nullptr when the wanted segment
// does not exist: index out of range, no previous segment at index 0, or no path at all. The
// Connection overloads never create a missing path.

const connection::PathSegment* CurrentSegment(const connection::Path& path);
const connection::PathSegment* PreviousSegment(const connection::Path& path);
const connection::PathSegment* NextSegment(const connection::Path& path);
connection::PathSegment* MutableCurrentSegment(connection::Path* path);
connection::PathSegment* MutablePreviousSegment(connection::Path* path);
connection::PathSegment* MutableNextSegment(connection::Path* path);

const connection::PathSegment* CurrentSegment(const connection::Connection& conn);
const connection::PathSegment* PreviousSegment(const connection::Connection& conn);
const connection::PathSegment* NextSegment(const connection::Connection& conn);
connection::PathSegment* MutableCurrentSegment(connection::Connection* conn);
connection::PathSegment* MutablePreviousSegment(connection::Connection* conn);
connection::PathSegment* MutableNextSegment(connection::Connection* conn);

// ---------------------------------------------------------------------------------------------
// Validation (api.md §10). Every error is InvalidArgument and names the offending field (as a
// path from the validated message, e.g. "connection.path.index") and its value.

// A path is valid when it is empty (no segments, index 0) or index < len(path_segments).
absl::Status ValidatePath(const connection::Path& path);

// network_service non-empty; path (when present) valid. The mechanism is not inspected: the
// v1.1.1 api has no per-type validators, so every present mechanism is valid.
absl::Status ValidateConnection(const connection::Connection& conn);

// ValidateConnection plus: non-empty id, a valid context (ValidateConnectionContext) and, when
// the client demanded addresses (src_ip_required / dst_ip_required), that they were supplied.
absl::Status ValidateCompleteConnection(const connection::Connection& conn);

// A present, valid connection and at least one mechanism preference.
absl::Status ValidateNetworkServiceRequest(const networkservice::NetworkServiceRequest& request);

// ---------------------------------------------------------------------------------------------
// IP addresses and prefixes (api.md §7.4: addresses are CIDR strings).

struct IpAddress {
  // True for dotted-quad text; IPv4 addresses are kept in the IPv4-mapped IPv6 form
  // (::ffff:a.b.c.d) so that bytes compare like Go's 16-byte net.IP.
  bool is_v4 = false;
  std::array<uint8_t, 16> bytes{};

  // Canonical text (inet_ntop), without a prefix length.
  std::string ToString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
  IpAddress address;  // as written (host bits are kept)
  int length = 0;     // 0..32 for IPv4, 0..128 for IPv6

  // True when `ip` has the same family and its first `length` bits equal this prefix's.
  bool Contains(const IpAddress& ip) const;
};

// Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address; nullopt if it is neither.
std::optional<IpAddress> ParseIpAddress(absl::string_view text);

// Parses "<address>/<length>". InvalidArgument names the value and what is wrong with it.
absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text);

// ---------------------------------------------------------------------------------------------
// ConnectionContext validity (api.md §7.4). Field names in messages are relative to the
// Connection ("context.ip_context.src_routes[0].prefix").

// Every route prefix (src_routes, dst_routes, policies[*].routes) is a valid CIDR, every
// neighbour has ip and hardware_address, every extra prefix request is valid.
absl::Status ValidateIpContext(const connectioncontext::IPContext& ip_context);
// Every DNSConfig has at least one server IP.
absl::Status ValidateDnsContext(const connectioncontext::DNSContext& dns_context);
// addr_family set, prefix_len 1..32 (IPv4) / 1..128 (IPv6), required_number >= 1,
// requested_number >= required_number. `field` names the request in messages.
absl::Status ValidateExtraPrefixRequest(const connectioncontext::ExtraPrefixRequest& request,
                                        absl::string_view field = "extra_prefix_request");
absl::Status ValidateConnectionContext(const connectioncontext::ConnectionContext& context);

// Route next-hop defaulting (api.md §7.4): returns `routes` where each route with an empty
// nextHop gets the first address of `gateway_addrs` (CIDR strings) of the same family, unless the
// route's prefix address lies inside one of the `gateway_addrs` prefixes (on-link). Routes whose
// prefix does not parse, or without a same-family gateway, are returned unchanged.
std::vector<connectioncontext::Route> RoutesWithDefaultNextHop(
    const google::protobuf::RepeatedPtrField<connectioncontext::Route>& routes,
    const google::protobuf::RepeatedPtrField<std::string>& gateway_addrs);
// src_routes with gateways taken from dst_ip_addrs (the other end of the link).
std::vector<connectioncontext::Route> SrcRoutesWithDefaultNextHop(
    const connectioncontext::IPContext& ip_context);
// dst_routes with gateways taken from src_ip_addrs.
std::vector<connectioncontext::Route> DstRoutesWithDefaultNextHop(
    const connectioncontext::IPContext& ip_context);

// ---------------------------------------------------------------------------------------------
// Times (api.md §1 google.protobuf.Timestamp, §7.2 token expiry metadata).

// Request metadata keys carrying the caller's token and its expiry (api.md §7.2).
inline constexpr char kTokenMetadataKey[] = "nsm-client-token";
inline constexpr char kTokenExpiresMetadataKey[] = "nsm-client-token-expires";

// Timestamp -> absl::Time. Out-of-range nanos are carried over into seconds.
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts);
// absl::Time -> Timestamp with 0 <= nanos < 1e9 (floor). Infinite times are clamped to the
// Timestamp range 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
// Checks the well-known-type rules: nanos in [0, 1e9) and seconds within years 1..9999.
absl::Status ValidateTimestamp(const google::protobuf::Timestamp& ts, absl::string_view field);

// RFC 3339 in UTC with up to nine fractional digits, trailing zeros dropped (Go's
// time.RFC3339Nano), e.g. "2021-09-01T10:00:00.123456789Z" or "2021-09-01T10:00:00Z".
std::string FormatRfc3339Nano(absl::Time t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" ('t' and 'z' also accepted; fractions beyond
// nanoseconds are truncated). InvalidArgument names `field` (when given), the value and the
// first problem found.
absl::StatusOr<absl::Time> ParseRfc3339Nano(absl::string_view text, absl::string_view field = "");

// ---------------------------------------------------------------------------------------------
// MonitorScopeSelector matching (api.md §3, §7.5, §11).

enum class SegmentMatch {
  kNameOnly,        // api v1.1.1: only segment names are compared
  kNameIdAndToken,  // api v1.11+: also id and token when non-empty in the selector
};

// True when the connection satisfies the selector:
// * selector.network_services (field 2, v1.14.2) empty, or it contains conn.network_service;
// * selector.path_segments empty, or some contiguous run of the connection's path segments
//   matches the selector segments one by one (an empty selector name/id/token is a wildcard).
bool MatchesMonitorScopeSelector(const connection::Connection& conn,
                                 const connection::MonitorScopeSelector& selector,
                                 SegmentMatch mode = SegmentMatch::kNameIdAndToken);

}  // namespace nsm::api

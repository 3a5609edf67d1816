#include "api/path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/text_format.h"

namespace nsm::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T ParseText(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

MATCHER_P(IsInvalid, substr, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         ::testing::ExplainMatchResult(HasSubstr(substr), std::string(arg.message()),
                                       result_listener);
}

connection::Connection FourHops(uint32_t index) {
  connection::Connection conn = ParseText<connection::Connection>(R"pb(
    id: "id-1"
    network_service: "ns"
    path {
      path_segments { name: "nsc" id: "id-0" }
      path_segments { name: "nsmgr" id: "id-1" }
      path_segments { name: "fwd" id: "id-2" }
      path_segments { name: "nse" id: "id-3" }
    }
  )pb");
  conn.mutable_path()->set_index(index);
  return conn;
}

// --- Path segments ------------------------------------------------------------------------------

TEST(PathSegmentsTest, MiddleOfPath) {
  connection::Connection conn = FourHops(1);
  ASSERT_NE(CurrentSegment(conn), nullptr);
  EXPECT_EQ(CurrentSegment(conn)->name(), "nsmgr");
  EXPECT_EQ(PreviousSegment(conn)->name(), "nsc");
  EXPECT_EQ(NextSegment(conn)->name(), "fwd");
  EXPECT_EQ(CurrentSegment(conn.path())->id(), "id-1");
  EXPECT_EQ(PreviousSegment(conn.path())->id(), "id-0");
  EXPECT_EQ(NextSegment(conn.path())->id(), "id-2");
}

TEST(PathSegmentsTest, EndsOfPathGiveNull) {
  connection::Connection first = FourHops(0);
  EXPECT_EQ(PreviousSegment(first), nullptr);
  EXPECT_EQ(MutablePreviousSegment(&first), nullptr);
  EXPECT_EQ(CurrentSegment(first)->name(), "nsc");

  connection::Connection last = FourHops(3);
  EXPECT_EQ(NextSegment(last), nullptr);
  EXPECT_EQ(MutableNextSegment(&last), nullptr);
  EXPECT_EQ(PreviousSegment(last)->name(), "fwd");

  connection::Connection beyond = FourHops(7);
  EXPECT_EQ(CurrentSegment(beyond), nullptr);
  EXPECT_EQ(PreviousSegment(beyond), nullptr);
  EXPECT_EQ(NextSegment(beyond), nullptr);

  connection::Connection just_beyond = FourHops(4);
  EXPECT_EQ(CurrentSegment(just_beyond), nullptr);
  EXPECT_EQ(PreviousSegment(just_beyond)->name(), "nse");
}

TEST(PathSegmentsTest, MutableAccessorsWriteThrough) {
  connection::Connection conn = FourHops(2);
  MutableCurrentSegment(&conn)->set_token("t-fwd");
  MutablePreviousSegment(&conn)->set_token("t-nsmgr");
  MutableNextSegment(&conn)->set_token("t-nse");
  MutableCurrentSegment(conn.mutable_path())->set_id("new");
  EXPECT_EQ(conn.path().path_segments(2).token(), "t-fwd");
  EXPECT_EQ(conn.path().path_segments(1).token(), "t-nsmgr");
  EXPECT_EQ(conn.path().path_segments(3).token(), "t-nse");
  EXPECT_EQ(conn.path().path_segments(2).id(), "new");
}

TEST(PathSegmentsTest, MissingPathIsNotCreated) {
  connection::Connection conn;
  EXPECT_EQ(CurrentSegment(conn), nullptr);
  EXPECT_EQ(MutableCurrentSegment(&conn), nullptr);
  EXPECT_EQ(MutableNextSegment(&conn), nullptr);
  EXPECT_FALSE(conn.has_path());
  EXPECT_EQ(MutableCurrentSegment(static_cast<connection::Connection*>(nullptr)), nullptr);
  EXPECT_EQ(MutableCurrentSegment(static_cast<connection::Path*>(nullptr)), nullptr);
}

// --- Validation ---------------------------------------------------------------------------------

TEST(ValidateTest, Connection) {
  EXPECT_TRUE(ValidateConnection(FourHops(3)).ok());
  connection::Connection no_path;
  no_path.set_network_service("ns");
  EXPECT_TRUE(ValidateConnection(no_path).ok());
  no_path.mutable_path();  // present but empty: a first request
  EXPECT_TRUE(ValidateConnection(no_path).ok());

  connection::Connection no_ns = FourHops(0);
  no_ns.clear_network_service();
  EXPECT_THAT(ValidateConnection(no_ns), IsInvalid("network_service is empty"));

  EXPECT_THAT(ValidateConnection(FourHops(4)),
              IsInvalid("path.index 4 is out of range: the path has 4 segments"));
  connection::Connection empty_bad_index;
  empty_bad_index.set_network_service("ns");
  empty_bad_index.mutable_path()->set_index(1);
  EXPECT_THAT(ValidateConnection(empty_bad_index),
              IsInvalid("path.index 1 is out of range: the path has 0 segments"));
  EXPECT_THAT(ValidatePath(FourHops(9).path()), IsInvalid("path.index 9"));

  // The mechanism is not inspected (no validators at v1.1.1).
  connection::Connection odd_mech = FourHops(1);
  odd_mech.mutable_mechanism()->set_type("WHATEVER");
  EXPECT_TRUE(ValidateConnection(odd_mech).ok());
}

TEST(ValidateTest, CompleteConnection) {
  connection::Connection conn = FourHops(1);
  EXPECT_TRUE(ValidateCompleteConnection(conn).ok());
  conn.clear_id();
  EXPECT_THAT(ValidateCompleteConnection(conn), IsInvalid("id is empty"));

  // Not the inverted v1.1.1 check: required addresses must be present, not absent.
  conn = FourHops(1);
  auto* ip = conn.mutable_context()->mutable_ip_context();
  ip->set_src_ip_required(true);
  ip->set_dst_ip_required(true);
  EXPECT_THAT(ValidateCompleteConnection(conn),
              IsInvalid("context.ip_context.src_ip_required is true but "
                        "context.ip_context.src_ip_addrs is empty"));
  ip->add_src_ip_addrs("10.0.0.1/32");
  EXPECT_THAT(ValidateCompleteConnection(conn), IsInvalid("dst_ip_addrs is empty"));
  ip->add_dst_ip_addrs("10.0.0.2/32");
  EXPECT_TRUE(ValidateCompleteConnection(conn).ok());

  ip->add_src_routes()->set_prefix("bogus");
  EXPECT_THAT(ValidateCompleteConnection(conn),
              IsInvalid("context.ip_context.src_routes[0].prefix: invalid CIDR \"bogus\""));
}

TEST(ValidateTest, Request) {
  networkservice::NetworkServiceRequest req;
  EXPECT_THAT(ValidateNetworkServiceRequest(req), IsInvalid("connection is not set"));
  *req.mutable_connection() = FourHops(0);
  EXPECT_THAT(ValidateNetworkServiceRequest(req), IsInvalid("mechanism_preferences is empty"));
  req.add_mechanism_preferences()->set_type("KERNEL");
  EXPECT_TRUE(ValidateNetworkServiceRequest(req).ok());
  req.mutable_connection()->clear_network_service();
  EXPECT_THAT(ValidateNetworkServiceRequest(req), IsInvalid("connection.network_service is empty"));
  *req.mutable_connection() = FourHops(5);
  EXPECT_THAT(ValidateNetworkServiceRequest(req), IsInvalid("connection.path.index 5"));
}

// --- IP addresses and prefixes ------------------------------------------------------------------

TEST(IpTest, ParseAddress) {
  std::optional<IpAddress> v4 = ParseIpAddress("10.1.2.3");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->is_v4);
  EXPECT_THAT(v4->bytes, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 1, 2, 3));
  EXPECT_EQ(v4->ToString(), "10.1.2.3");
  std::optional<IpAddress> v6 = ParseIpAddress("2001:DB8::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_FALSE(v6->is_v4);
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  for (const char* bad : {"", "10.1.2", "10.1.2.256", "010.1.2.3", "1.2.3.4/8", "::g",
                          "fe80::1%eth0", " 1.2.3.4", "host"}) {
    EXPECT_FALSE(ParseIpAddress(bad).has_value()) << bad;
  }
}

TEST(IpTest, ParsePrefix) {
  absl::StatusOr<IpPrefix> p = ParseIpPrefix("10.0.0.0/8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 8);
  EXPECT_TRUE(p->Contains(*ParseIpAddress("10.255.0.1")));
  EXPECT_FALSE(p->Contains(*ParseIpAddress("11.0.0.1")));
  EXPECT_FALSE(p->Contains(*ParseIpAddress("::ffff:10.0.0.1")));  // IPv6 text: other family
  absl::StatusOr<IpPrefix> v6 = ParseIpPrefix("fd00::/7");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(*ParseIpAddress("fdff::1")));
  EXPECT_FALSE(v6->Contains(*ParseIpAddress("fe00::1")));
  EXPECT_TRUE(ParseIpPrefix("0.0.0.0/0")->Contains(*ParseIpAddress("1.2.3.4")));
  EXPECT_TRUE(ParseIpPrefix("::/128").ok());

  EXPECT_THAT(ParseIpPrefix("10.0.0.1").status(),
              IsInvalid("invalid CIDR \"10.0.0.1\": missing \"/<prefix length>\""));
  EXPECT_THAT(ParseIpPrefix("10.0.0/8").status(),
              IsInvalid("invalid CIDR \"10.0.0/8\": \"10.0.0\" is not an IP address"));
  EXPECT_THAT(ParseIpPrefix("10.0.0.0/33").status(),
              IsInvalid("invalid CIDR \"10.0.0.0/33\": prefix length \"33\" is not in 0..32"));
  EXPECT_THAT(ParseIpPrefix("::/129").status(), IsInvalid("\"129\" is not in 0..128"));
  EXPECT_THAT(ParseIpPrefix("10.0.0.0/").status(), IsInvalid("prefix length \"\""));
  EXPECT_THAT(ParseIpPrefix("10.0.0.0/+8").status(), IsInvalid("prefix length \"+8\""));
  EXPECT_THAT(ParseIpPrefix("10.0.0.0/0008").status(), IsInvalid("prefix length \"0008\""));
}

// --- ConnectionContext --------------------------------------------------------------------------

TEST(ContextTest, ValidContext) {
  auto ctx = ParseText<connectioncontext::ConnectionContext>(R"pb(
    ip_context {
      src_ip_addrs: "172.16.0.1/31"
      dst_ip_addrs: "172.16.0.0/31"
      src_routes { prefix: "10.0.0.0/8" }
      dst_routes { prefix: "fd00::/8" nextHop: "fd00::1" }
      ip_neighbors { ip: "172.16.0.0" hardware_address: "02:00:00:00:00:01" }
      extra_prefix_request {
        addr_family { family: IPV6 }
        prefix_len: 64
        required_number: 1
        requested_number: 2
      }
      policies { routes { prefix: "0.0.0.0/0" } }
    }
    dns_context { configs { dns_server_ips: "8.8.8.8" } }
  )pb");
  EXPECT_TRUE(ValidateConnectionContext(ctx).ok());
  EXPECT_TRUE(ValidateConnectionContext({}).ok());
}

TEST(ContextTest, InvalidContexts) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {R"pb(ip_context {
              dst_routes {}
              dst_routes { prefix: "1.2.3.4/40" }
            })pb",
       "context.ip_context.dst_routes[0].prefix: invalid CIDR \"\""},
      {R"pb(ip_context {
              dst_routes { prefix: "1.2.3.0/24" }
              dst_routes { prefix: "1.2.3.4/40" }
            })pb",
       "context.ip_context.dst_routes[1].prefix: invalid CIDR \"1.2.3.4/40\": prefix length "
       "\"40\""},
      {R"pb(ip_context {
              policies {}
              policies { routes { prefix: "x" } }
            })pb",
       "context.ip_context.policies[1].routes[0].prefix: invalid CIDR \"x\""},
      {R"pb(ip_context { ip_neighbors { ip: "10.0.0.1" } })pb",
       "context.ip_context.ip_neighbors[0].hardware_address is empty (ip \"10.0.0.1\")"},
      {R"pb(ip_context { ip_neighbors { hardware_address: "aa:bb:cc:dd:ee:ff" } })pb",
       "context.ip_context.ip_neighbors[0].ip is empty (hardware_address \"aa:bb:cc:dd:ee:ff\")"},
      {R"pb(dns_context {
              configs { dns_server_ips: "1.1.1.1" }
              configs { search_domains: "x" }
            })pb",
       "context.dns_context.configs[1].dns_server_ips is empty"},
      {R"pb(ip_context {
              extra_prefix_request { prefix_len: 24 required_number: 1 requested_number: 1 }
            })pb",
       "context.ip_context.extra_prefix_request[0].addr_family is not set"},
      {R"pb(ip_context {
              extra_prefix_request {
                addr_family {}
                prefix_len: 33
                required_number: 1
                requested_number: 1
              }
            })pb",
       "context.ip_context.extra_prefix_request[0].prefix_len 33 is not in 1..32 for IPV4"},
      {R"pb(ip_context {
              extra_prefix_request {
                addr_family { family: IPV6 }
                prefix_len: 0
                required_number: 1
                requested_number: 1
              }
            })pb",
       "extra_prefix_request[0].prefix_len 0 is not in 1..128 for IPV6"},
      {R"pb(ip_context {
              extra_prefix_request {
                addr_family {}
                prefix_len: 24
                requested_number: 1
              }
            })pb",
       "extra_prefix_request[0].required_number is 0, must be at least 1"},
      {R"pb(ip_context {
              extra_prefix_request {
                addr_family {}
                prefix_len: 24
                required_number: 3
                requested_number: 2
              }
            })pb",
       "extra_prefix_request[0].requested_number 2 is less than required_number 3"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ValidateConnectionContext(ParseText<connectioncontext::ConnectionContext>(c.text)),
                IsInvalid(c.error))
        << c.text;
  }
}

TEST(ContextTest, ExtraPrefixRequestFieldName) {
  connectioncontext::ExtraPrefixRequest req;
  EXPECT_THAT(ValidateExtraPrefixRequest(req), IsInvalid("extra_prefix_request.addr_family"));
  EXPECT_THAT(ValidateExtraPrefixRequest(req, "x"), IsInvalid("x.addr_family is not set"));
}

TEST(ContextTest, DefaultNextHops) {
  auto ip = ParseText<connectioncontext::IPContext>(R"pb(
    src_ip_addrs: "172.16.0.1/30"
    src_ip_addrs: "fd00::1/64"
    dst_ip_addrs: "172.16.0.2/30"
    dst_ip_addrs: "fd00::2/64"
    src_routes { prefix: "10.0.0.0/8" }
    src_routes { prefix: "192.168.0.0/16" nextHop: "172.16.0.9" }
    src_routes { prefix: "172.16.0.0/30" }
    src_routes { prefix: "2001:db8::/32" }
    src_routes { prefix: "not-a-cidr" }
    dst_routes { prefix: "10.1.0.0/16" }
    dst_routes { prefix: "fd00::1/128" }
  )pb");
  std::vector<connectioncontext::Route> src = SrcRoutesWithDefaultNextHop(ip);
  ASSERT_EQ(src.size(), 5u);
  EXPECT_EQ(src[0].nexthop(), "172.16.0.2");  // first dst address of the family
  EXPECT_EQ(src[1].nexthop(), "172.16.0.9");  // explicit next hop kept
  EXPECT_EQ(src[2].nexthop(), "");            // on-link: inside a dst prefix
  EXPECT_EQ(src[3].nexthop(), "fd00::2");
  EXPECT_EQ(src[4].nexthop(), "");  // unparsable prefix left alone
  std::vector<connectioncontext::Route> dst = DstRoutesWithDefaultNextHop(ip);
  ASSERT_EQ(dst.size(), 2u);
  EXPECT_EQ(dst[0].nexthop(), "172.16.0.1");
  EXPECT_EQ(dst[1].nexthop(), "");  // fd00::1 lies in fd00::1/64

  connectioncontext::IPContext v4_only;
  v4_only.add_dst_ip_addrs("10.0.0.2/32");
  v4_only.add_src_routes()->set_prefix("fd00::/8");
  EXPECT_EQ(SrcRoutesWithDefaultNextHop(v4_only)[0].nexthop(), "");  // no IPv6 gateway
}

// --- Times --------------------------------------------------------------------------------------

absl::Time At(int y, int mo, int d, int h, int mi, int s, int64_t nanos = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()) +
         absl::Nanoseconds(nanos);
}

TEST(TimeTest, ProtoTimestampRoundTrip) {
  const absl::Time t = At(2021, 9, 1, 10, 0, 0, 123456789);
  google::protobuf::Timestamp ts = ToProtoTimestamp(t);
  EXPECT_EQ(ts.seconds(), 1630490400);
  EXPECT_EQ(ts.nanos(), 123456789);
  EXPECT_EQ(FromProtoTimestamp(ts), t);

  // Before the epoch nanos stay non-negative.
  ts = ToProtoTimestamp(absl::UnixEpoch() - absl::Nanoseconds(1));
  EXPECT_EQ(ts.seconds(), -1);
  EXPECT_EQ(ts.nanos(), 999999999);

  ts = ToProtoTimestamp(absl::InfiniteFuture());
  EXPECT_EQ(ts.seconds(), 253402300799);
  EXPECT_EQ(ts.nanos(), 999999999);
  ts = ToProtoTimestamp(absl::InfinitePast());
  EXPECT_EQ(ts.seconds(), -62135596800);
  EXPECT_EQ(ts.nanos(), 0);

  google::protobuf::Timestamp odd;
  odd.set_seconds(10);
  odd.set_nanos(1500000000);
  EXPECT_EQ(FromProtoTimestamp(odd), absl::FromUnixMillis(11500));
}

TEST(TimeTest, ValidateTimestamp) {
  google::protobuf::Timestamp ts;
  EXPECT_TRUE(ValidateTimestamp(ts, "expires").ok());
  ts.set_nanos(-1);
  EXPECT_THAT(ValidateTimestamp(ts, "path.path_segments[0].expires"),
              IsInvalid("path.path_segments[0].expires.nanos -1 is not in 0..999999999"));
  ts.set_nanos(0);
  ts.set_seconds(253402300800);
  EXPECT_THAT(ValidateTimestamp(ts, "expiration_time"),
              IsInvalid("expiration_time.seconds 253402300800 is outside years 0001..9999"));
}

TEST(TimeTest, FormatRfc3339Nano) {
  EXPECT_EQ(FormatRfc3339Nano(At(2021, 9, 1, 10, 0, 0, 123456789)),
            "2021-09-01T10:00:00.123456789Z");
  EXPECT_EQ(FormatRfc3339Nano(At(2021, 9, 1, 10, 0, 0, 120000000)), "2021-09-01T10:00:00.12Z");
  EXPECT_EQ(FormatRfc3339Nano(At(2021, 9, 1, 10, 0, 0)), "2021-09-01T10:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(At(1969, 12, 31, 23, 59, 59, 1)), "1969-12-31T23:59:59.000000001Z");
  EXPECT_EQ(FormatRfc3339Nano(absl::InfiniteFuture()), "9999-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339Nano(absl::InfinitePast()), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(At(987, 6, 5, 4, 3, 2)), "0987-06-05T04:03:02Z");
}

// The digit-by-digit formatter writes what absl::FormatTime's "%E4Y-%m-%d%ET%H:%M:%E*SZ" writes,
// across the whole range of years and every count of trailing zeros in the fraction.
// Pseudo-random unix seconds in [min, max) and nanoseconds (xorshift: the same cases every run).
class RandomTimes {
 public:
  RandomTimes(uint64_t seed, int64_t min, int64_t max) : state_(seed), min_(min), max_(max) {}
  int64_t Seconds() {
    return min_ + static_cast<int64_t>(Next() % static_cast<uint64_t>(max_ - min_));
  }
  int64_t Nanos() { return static_cast<int64_t>(Next() % 1000000000); }

 private:
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  uint64_t state_;
  int64_t min_, max_;
};

constexpr int64_t kYear1 = -62135596800;     // 0001-01-01T00:00:00Z
constexpr int64_t kYear9999 = 253402300799;  // 9999-12-31T23:59:59Z

TEST(TimeTest, FormatRfc3339NanoAgreesWithAbslFormatTime) {
  RandomTimes random(88172645463325252ull, kYear1, kYear9999);
  for (int i = 0; i < 20000; ++i) {
    const int64_t seconds = random.Seconds();
    int64_t nanos = random.Nanos();
    int64_t unit = 1;
    for (int zeros = i % 10; zeros > 0; --zeros) unit *= 10;
    nanos = nanos / unit * unit;  // i % 10 trailing zeros (9: none left)
    const absl::Time t = absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos % 1000000000);
    EXPECT_EQ(FormatRfc3339Nano(t),
              absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone()))
        << seconds << " " << nanos;
  }
}

// The parser reads back what absl::FormatTime writes in RFC 3339, with and without an offset,
// across the whole range of years.
TEST(TimeTest, ParseRfc3339NanoAgreesWithAbslFormatTime) {
  RandomTimes random(2463534242ull, kYear1 + 86400, kYear9999 - 86400);  // offsets stay in range
  const absl::TimeZone plus = absl::FixedTimeZone(5 * 3600 + 30 * 60);
  const absl::TimeZone minus = absl::FixedTimeZone(-(9 * 3600 + 45 * 60));
  for (int i = 0; i < 20000; ++i) {
    const absl::Time t =
        absl::FromUnixSeconds(random.Seconds()) + absl::Nanoseconds(random.Nanos());
    const absl::TimeZone zone = i % 3 == 0 ? absl::UTCTimeZone() : i % 3 == 1 ? plus : minus;
    const std::string text = absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*S%Ez", t, zone);
    auto parsed = ParseRfc3339Nano(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, t) << text;
  }
}

TEST(TimeTest, ParseRfc3339Nano) {
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01T10:00:00.123456789Z"),
            At(2021, 9, 1, 10, 0, 0, 123456789));
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01T10:00:00Z"), At(2021, 9, 1, 10, 0, 0));
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01t10:00:00.5z"), At(2021, 9, 1, 10, 0, 0, 500000000));
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01T12:30:00.1+02:30"), At(2021, 9, 1, 10, 0, 0, 100000000));
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01T05:00:00-05:00"), At(2021, 9, 1, 10, 0, 0));
  // Go truncates digits beyond nanoseconds.
  EXPECT_EQ(*ParseRfc3339Nano("2021-09-01T10:00:00.1234567899Z"),
            At(2021, 9, 1, 10, 0, 0, 123456789));
  EXPECT_EQ(*ParseRfc3339Nano("2024-02-29T00:00:00Z"), At(2024, 2, 29, 0, 0, 0));
  for (absl::Time t : {At(2021, 9, 1, 10, 0, 0, 123456789), At(1970, 1, 1, 0, 0, 0),
                       At(2000, 2, 29, 23, 59, 59, 999999999)}) {
    EXPECT_EQ(*ParseRfc3339Nano(FormatRfc3339Nano(t)), t);
  }
}

TEST(TimeTest, ParseRfc3339NanoErrors) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"", "empty RFC 3339 time"},
      {"21-09-01T10:00:00Z", "expected 4-digit year at offset 0"},
      {"2021/09/01T10:00:00Z", "expected '-' after the year at offset 4"},
      {"2021-13-01T10:00:00Z", "month 13 is not in 01..12"},
      {"2021-00-01T10:00:00Z", "month 00 is not in 01..12"},
      {"2021-04-31T10:00:00Z", "day 31 is not in 01..30 for 2021-04"},
      {"2021-02-29T10:00:00Z", "day 29 is not in 01..28 for 2021-02"},
      {"2021-09-01 10:00:00Z", "expected 'T' between date and time at offset 10"},
      {"2021-09-01T24:00:00Z", "hour 24 is not in 00..23"},
      {"2021-09-01T10:60:00Z", "minute 60 is not in 00..59"},
      {"2021-09-01T10:00:60Z", "second 60 is not in 00..59"},
      {"2021-09-01T10:0:00Z", "expected 2-digit minute at offset 14"},
      {"2021-09-01T10:00:00.Z", "expected fractional-second digits at offset 20"},
      {"2021-09-01T10:00:00", "expected 'Z' or a +HH:MM/-HH:MM offset at offset 19"},
      {"2021-09-01T10:00:00+0200", "expected ':' in the offset at offset 22"},
      {"2021-09-01T10:00:00+24:00", "offset hour 24 is not in 00..23"},
      {"2021-09-01T10:00:00Z ", "unexpected text at offset 20"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<absl::Time> t = ParseRfc3339Nano(c.text);
    EXPECT_THAT(t.status(), IsInvalid(c.error)) << c.text;
    if (*c.text != '\0') {
      EXPECT_THAT(t.status(), IsInvalid(absl::StrCat("invalid RFC 3339 time \"", c.text, "\": ")));
    }
  }
  EXPECT_THAT(ParseRfc3339Nano("soon", kTokenExpiresMetadataKey).status(),
              IsInvalid("nsm-client-token-expires: invalid RFC 3339 time \"soon\": expected "
                        "4-digit year at offset 0"));
}

// --- MonitorScopeSelector -----------------------------------------------------------------------

connection::Connection Monitored() {
  connection::Connection conn = FourHops(1);
  for (int i = 0; i < 4; ++i) {
    conn.mutable_path()->mutable_path_segments(i)->set_token(absl::StrCat("tok-", i));
  }
  return conn;
}

connection::MonitorScopeSelector Selector(const std::string& text) {
  return ParseText<connection::MonitorScopeSelector>(text);
}

TEST(MonitorSelectorTest, EmptySelectorMatchesEverything) {
  EXPECT_TRUE(MatchesMonitorScopeSelector(Monitored(), {}));
  EXPECT_TRUE(MatchesMonitorScopeSelector(connection::Connection(), {}));
}

TEST(MonitorSelectorTest, ContiguousRunOfNames) {
  const connection::Connection conn = Monitored();
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "fwd" })pb")));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "nsmgr" }
                                                              path_segments { name: "fwd" })pb")));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "fwd" }
                                                              path_segments { name: "nse" })pb")));
  // Not contiguous / wrong order / too long.
  EXPECT_FALSE(
      MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "nsc" }
                                                      path_segments { name: "fwd" })pb")));
  EXPECT_FALSE(
      MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "fwd" }
                                                      path_segments { name: "nsmgr" })pb")));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "nse" }
                                                               path_segments {})pb")));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "x" })pb")));
  // Empty names are wildcards.
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { name: "nsc" }
                                                              path_segments {}
                                                              path_segments { name: "fwd" })pb")));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments {}
                                                              path_segments {}
                                                              path_segments {}
                                                              path_segments {})pb")));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments {}
                                                               path_segments {}
                                                               path_segments {}
                                                               path_segments {}
                                                               path_segments {})pb")));
  // A connection without a path matches only the empty selector.
  EXPECT_FALSE(
      MatchesMonitorScopeSelector(connection::Connection(), Selector(R"pb(path_segments {})pb")));
}

TEST(MonitorSelectorTest, IdsAndTokens) {
  const connection::Connection conn = Monitored();
  const auto own = Selector(R"pb(path_segments { name: "nsmgr" id: "id-1" })pb");
  const auto wrong_id = Selector(R"pb(path_segments { name: "nsmgr" id: "id-9" })pb");
  const auto id_only = Selector(R"pb(path_segments { id: "id-2" })pb");
  const auto token = Selector(R"pb(path_segments { name: "nse" token: "tok-3" })pb");
  const auto wrong_token = Selector(R"pb(path_segments { name: "nse" token: "tok-0" })pb");
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, own));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, wrong_id));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, id_only));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, token));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, wrong_token));
  // v1.1.1 semantics: names only.
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, wrong_id, SegmentMatch::kNameOnly));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, wrong_token, SegmentMatch::kNameOnly));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(path_segments { id: "nope" })pb"),
                                          SegmentMatch::kNameOnly));
}

TEST(MonitorSelectorTest, NetworkServices) {
  const connection::Connection conn = Monitored();  // network_service "ns"
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "ns")pb")));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "a"
                                                              network_services: "ns")pb")));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "other")pb")));
  EXPECT_TRUE(MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "ns"
                                                              path_segments { name: "nse" })pb")));
  EXPECT_FALSE(
      MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "other"
                                                      path_segments { name: "nse" })pb")));
  EXPECT_FALSE(MatchesMonitorScopeSelector(conn, Selector(R"pb(network_services: "ns"
                                                               path_segments { name: "x" })pb")));
}

}  // namespace
}  // namespace nsm::api

// Wire-compatibility tests for api/proto: golden encodings walked field by field, hand-written
// byte strings for small messages, and the descriptor pool checked against api.md §1-§5 and §11.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connection.pb.h"
#include "connectioncontext.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/wire_format_lite.h"
#include "ipam.pb.h"
#include "networkservice.pb.h"
#include "registry.pb.h"

namespace nsm::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::ServiceDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::util::MessageDifferencer;

// --- Encoding helpers ---------------------------------------------------------------------------

// Protobuf's log lines while a test captures them (SerializersDoNotCheckUtf8AndParsersDo).
std::vector<std::string>& CapturedLog() {
  static auto* log = new std::vector<std::string>();
  return *log;
}

std::string SerializeDeterministic(const Message& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    EXPECT_TRUE(msg.SerializeToCodedStream(&coded));
  }
  return out;
}

template <typename T>
T ParseText(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

// Parses `bytes` as a fresh T and checks it equals `want` and re-serializes to the same bytes.
template <typename T>
void ExpectRoundTrip(const std::string& bytes, const T& want) {
  T parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(want, parsed)) << diff;
  EXPECT_EQ(SerializeDeterministic(parsed), bytes);
}

struct WireField {
  uint32_t number = 0;
  WireFormatLite::WireType wire_type = WireFormatLite::WIRETYPE_VARINT;
  uint64_t varint = 0;
  std::string bytes;
};

// One level of a serialized message, decoded with CodedInputStream.
std::vector<WireField> DecodeFields(const std::string& data, const std::string& where) {
  std::vector<WireField> fields;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    WireField f;
    f.number = WireFormatLite::GetTagFieldNumber(tag);
    f.wire_type = WireFormatLite::GetTagWireType(tag);
    bool ok = false;
    switch (f.wire_type) {
      case WireFormatLite::WIRETYPE_VARINT:
        ok = in.ReadVarint64(&f.varint);
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length = 0;
        ok = in.ReadVarint32(&length) && in.ReadString(&f.bytes, static_cast<int>(length));
        break;
      }
      default:
        break;  // no fixed-width or group fields in the NSM API
    }
    if (!ok) {
      ADD_FAILURE() << where << ": cannot decode field " << f.number << " wire type "
                    << f.wire_type;
      break;
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

// Walks the fields of one message in order, asserting number, wire type and value of each.
class WireReader {
 public:
  WireReader(const std::string& data, std::string where)
      : where_(std::move(where)), fields_(DecodeFields(data, where_)) {}

  void Varint(uint32_t number, uint64_t value) {
    if (const WireField* f = Next(number, WireFormatLite::WIRETYPE_VARINT)) {
      EXPECT_EQ(f->varint, value) << where_ << " field " << number;
    }
  }

  void String(uint32_t number, const std::string& value) {
    if (const WireField* f = Next(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      EXPECT_EQ(f->bytes, value) << where_ << " field " << number;
    }
  }

  WireReader Message(uint32_t number) {
    const WireField* f = Next(number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
    return WireReader(f == nullptr ? std::string() : f->bytes,
                      absl::StrCat(where_, ".", number, "[", index_ - 1, "]"));
  }

  // A map<string, string> entry: key = field 1, value = field 2.
  void StringMapEntry(uint32_t number, const std::string& key, const std::string& value) {
    WireReader entry = Message(number);
    entry.String(1, key);
    entry.String(2, value);
    entry.End();
  }

  // A google.protobuf.Timestamp sub-message (zero fields are not written in proto3).
  void Timestamp(uint32_t number, int64_t seconds, int32_t nanos) {
    WireReader ts = Message(number);
    if (seconds != 0) ts.Varint(1, static_cast<uint64_t>(seconds));
    if (nanos != 0) ts.Varint(2, static_cast<uint64_t>(nanos));
    ts.End();
  }

  void End() {
    EXPECT_EQ(index_, fields_.size()) << where_ << ": unexpected field "
                                      << (index_ < fields_.size() ? fields_[index_].number : 0u);
  }

 private:
  const WireField* Next(uint32_t number, WireFormatLite::WireType type) {
    if (index_ >= fields_.size()) {
      ADD_FAILURE() << where_ << ": missing field " << number;
      return nullptr;
    }
    const WireField& f = fields_[index_++];
    if (f.number != number || f.wire_type != type) {
      ADD_FAILURE() << where_ << ": got field " << f.number << " wire type " << f.wire_type
                    << ", want field " << number << " wire type " << type;
      return nullptr;
    }
    return &f;
  }

  std::string where_;
  std::vector<WireField> fields_;
  size_t index_ = 0;
};

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// --- Golden: connection.Connection --------------------------------------------------------------

constexpr char kGoldenConnection[] = R"pb(
  id: "conn-nsmgr"
  network_service: "secure-intranet"
  mechanism {
    cls: "LOCAL"
    type: "KERNEL"
    parameters { key: "name" value: "nsm-1" }
    parameters { key: "inodeURL" value: "inode://4/4026531992" }
  }
  context {
    ip_context {
      src_ip_addrs: "172.16.0.1/32"
      dst_ip_addrs: "172.16.0.0/32"
      src_ip_required: true
      dst_ip_required: true
      src_routes { prefix: "10.0.0.0/8" nextHop: "172.16.0.0" }
      dst_routes { prefix: "172.16.0.1/32" }
      excluded_prefixes: "10.96.0.0/12"
      ip_neighbors { ip: "172.16.0.0" hardware_address: "02:fe:00:00:00:01" }
      extra_prefix_request {
        addr_family { family: IPV6 }
        prefix_len: 64
        required_number: 1
        requested_number: 2
      }
      extra_prefixes: "fd00::/64"
    }
    dns_context {
      configs {
        dns_server_ips: "10.0.0.53"
        dns_server_ips: "fd00::53"
        search_domains: "svc.cluster.local"
      }
    }
    ethernet_context { src_mac: "02:fe:00:00:00:02" dst_mac: "02:fe:00:00:00:01" vlan_tag: 100 }
    extra_context { key: "k2" value: "v2" }
    extra_context { key: "k1" value: "v1" }
    MTU: 1450
  }
  labels { key: "nodeName" value: "node-1" }
  labels { key: "app" value: "nsc" }
  path {
    index: 1
    path_segments {
      name: "nsc"
      id: "conn-nsc"
      token: "tok-nsc"
      expires { seconds: 1630490400 nanos: 123456789 }
    }
    path_segments {
      name: "nsmgr"
      id: "conn-nsmgr"
      token: "tok-nsmgr"
      expires { seconds: 1630490460 }
      metrics { key: "rx_packets" value: "10" }
    }
    path_segments {
      name: "forwarder"
      id: "conn-fwd"
      token: "tok-fwd"
      expires { seconds: 1630490460 nanos: 1 }
    }
    path_segments {
      name: "nse"
      id: "conn-nse"
      token: "tok-nse"
      expires { seconds: 1630490400 }
    }
  }
  network_service_endpoint_name: "nse"
  payload: "ETHERNET"
  state: DOWN
)pb";

TEST(WireGoldenTest, Connection) {
  const auto conn = ParseText<connection::Connection>(kGoldenConnection);
  const std::string bytes = SerializeDeterministic(conn);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), (1 << 3) | 2);  // id: field 1, length-delimited
  EXPECT_EQ(bytes.substr(bytes.size() - 2), Bytes({(9 << 3) | 0, 1}));  // state = DOWN, last

  WireReader r(bytes, "Connection");
  r.String(1, "conn-nsmgr");
  r.String(2, "secure-intranet");
  {
    WireReader m = r.Message(3);
    m.String(1, "LOCAL");
    m.String(2, "KERNEL");
    m.StringMapEntry(3, "inodeURL", "inode://4/4026531992");  // deterministic: sorted keys
    m.StringMapEntry(3, "name", "nsm-1");
    m.End();
  }
  {
    WireReader ctx = r.Message(4);
    {
      WireReader ip = ctx.Message(1);
      ip.String(1, "172.16.0.1/32");
      ip.String(2, "172.16.0.0/32");
      ip.Varint(3, 1);
      ip.Varint(4, 1);
      {
        WireReader route = ip.Message(5);
        route.String(1, "10.0.0.0/8");
        route.String(2, "172.16.0.0");
        route.End();
      }
      {
        WireReader route = ip.Message(6);
        route.String(1, "172.16.0.1/32");
        route.End();
      }
      ip.String(7, "10.96.0.0/12");
      {
        WireReader neighbor = ip.Message(8);
        neighbor.String(1, "172.16.0.0");
        neighbor.String(2, "02:fe:00:00:00:01");
        neighbor.End();
      }
      {
        WireReader epr = ip.Message(9);
        {
          WireReader family = epr.Message(1);
          family.Varint(1, 1);  // IPV6
          family.End();
        }
        epr.Varint(2, 64);
        epr.Varint(3, 1);
        epr.Varint(4, 2);
        epr.End();
      }
      ip.String(10, "fd00::/64");
      ip.End();
    }
    {
      WireReader dns = ctx.Message(2);
      WireReader config = dns.Message(1);
      config.String(1, "10.0.0.53");
      config.String(1, "fd00::53");
      config.String(2, "svc.cluster.local");
      config.End();
      dns.End();
    }
    {
      WireReader eth = ctx.Message(3);
      eth.String(1, "02:fe:00:00:00:02");
      eth.String(2, "02:fe:00:00:00:01");
      eth.Varint(3, 100);
      eth.End();
    }
    ctx.StringMapEntry(4, "k1", "v1");
    ctx.StringMapEntry(4, "k2", "v2");
    ctx.Varint(5, 1450);
    ctx.End();
  }
  r.StringMapEntry(5, "app", "nsc");
  r.StringMapEntry(5, "nodeName", "node-1");
  {
    WireReader path = r.Message(6);
    path.Varint(1, 1);
    struct Seg {
      const char* name;
      const char* id;
      const char* token;
      int64_t seconds;
      int32_t nanos;
    };
    const Seg segs[] = {{"nsc", "conn-nsc", "tok-nsc", 1630490400, 123456789},
                        {"nsmgr", "conn-nsmgr", "tok-nsmgr", 1630490460, 0},
                        {"forwarder", "conn-fwd", "tok-fwd", 1630490460, 1},
                        {"nse", "conn-nse", "tok-nse", 1630490400, 0}};
    for (const Seg& s : segs) {
      WireReader seg = path.Message(2);
      seg.String(1, s.name);
      seg.String(2, s.id);
      seg.String(3, s.token);
      seg.Timestamp(4, s.seconds, s.nanos);
      if (std::string(s.name) == "nsmgr") seg.StringMapEntry(5, "rx_packets", "10");
      seg.End();
    }
    path.End();
  }
  r.String(7, "nse");
  r.String(8, "ETHERNET");
  r.Varint(9, 1);
  r.End();

  ExpectRoundTrip(bytes, conn);
}

// --- Golden: registry.NetworkServiceEndpoint ----------------------------------------------------

TEST(WireGoldenTest, NetworkServiceEndpoint) {
  const auto nse = ParseText<registry::NetworkServiceEndpoint>(R"pb(
    name: "nse-1"
    network_service_names: "secure-intranet"
    network_service_names: "other"
    network_service_labels {
      key: "secure-intranet"
      value {
        labels { key: "nodeName" value: "node-1" }
        labels { key: "app" value: "vpn" }
      }
    }
    network_service_labels {
      key: "other"
      value {}
    }
    url: "tcp://10.0.0.5:5001"
    expiration_time { seconds: 1630490460 }
    initial_registration_time { seconds: 1630490400 nanos: 5 }
    path_ids: "spiffe://example.org/nse"
  )pb");
  const std::string bytes = SerializeDeterministic(nse);
  WireReader r(bytes, "NetworkServiceEndpoint");
  r.String(1, "nse-1");
  r.String(2, "secure-intranet");
  r.String(2, "other");
  {
    WireReader entry = r.Message(3);
    entry.String(1, "other");
    WireReader value = entry.Message(2);  // an empty NetworkServiceLabels is still written
    value.End();
    entry.End();
  }
  {
    WireReader entry = r.Message(3);
    entry.String(1, "secure-intranet");
    WireReader value = entry.Message(2);
    value.StringMapEntry(1, "app", "vpn");
    value.StringMapEntry(1, "nodeName", "node-1");
    value.End();
    entry.End();
  }
  r.String(4, "tcp://10.0.0.5:5001");
  r.Timestamp(5, 1630490460, 0);
  r.Timestamp(6, 1630490400, 5);
  r.String(7, "spiffe://example.org/nse");
  r.End();
  ExpectRoundTrip(bytes, nse);

  // The two timestamps byte for byte: tag 0x2a / 0x32, length, seconds (0x08) and nanos (0x10).
  EXPECT_NE(bytes.find(Bytes({0x2a, 0x06, 0x08, 0xdc, 0x9e, 0xbd, 0x89, 0x06})), std::string::npos);
  EXPECT_NE(bytes.find(Bytes({0x32, 0x08, 0x08, 0xa0, 0x9e, 0xbd, 0x89, 0x06, 0x10, 0x05})),
            std::string::npos);
}

// --- Golden: registry.NetworkService ------------------------------------------------------------

TEST(WireGoldenTest, NetworkService) {
  const auto ns = ParseText<registry::NetworkService>(R"pb(
    name: "secure-intranet"
    payload: "IP"
    matches {
      source_selector { key: "app" value: "nsc" }
      routes {
        destination_selector { key: "nodeName" value: "{{.nodeName}}" }
        destination_selector { key: "app" value: "vpn" }
        weight: 3
      }
      routes { destination_selector { key: "app" value: "vpn-backup" } }
      fallthrough: true
      metadata { labels { key: "p2p" value: "true" } }
    }
    matches { routes { destination_selector { key: "app" value: "any" } } }
    path_ids: "spiffe://example.org/ns"
  )pb");
  const std::string bytes = SerializeDeterministic(ns);
  WireReader r(bytes, "NetworkService");
  r.String(1, "secure-intranet");
  r.String(2, "IP");
  {
    WireReader match = r.Message(3);
    match.StringMapEntry(1, "app", "nsc");
    {
      WireReader dest = match.Message(2);
      dest.StringMapEntry(1, "app", "vpn");
      dest.StringMapEntry(1, "nodeName", "{{.nodeName}}");
      dest.Varint(2, 3);
      dest.End();
    }
    {
      WireReader dest = match.Message(2);
      dest.StringMapEntry(1, "app", "vpn-backup");
      dest.End();
    }
    match.Varint(3, 1);
    {
      WireReader metadata = match.Message(4);
      metadata.StringMapEntry(1, "p2p", "true");
      metadata.End();
    }
    match.End();
  }
  {
    WireReader match = r.Message(3);
    WireReader dest = match.Message(2);
    dest.StringMapEntry(1, "app", "any");
    dest.End();
    match.End();
  }
  r.String(4, "spiffe://example.org/ns");
  r.End();
  ExpectRoundTrip(bytes, ns);
}

// --- Hand-written byte strings ------------------------------------------------------------------

template <typename T>
void ExpectEncoding(const std::string& text, const std::string& want) {
  const T msg = ParseText<T>(text);
  EXPECT_EQ(SerializeDeterministic(msg), want) << text;
  ExpectRoundTrip(want, msg);
}

TEST(WireBytesTest, SmallMessages) {
  ExpectEncoding<connectioncontext::Route>(R"pb(prefix: "10.0.0.0/8" nextHop: "1.2.3.4")pb",
                                           "\x0a\x0a"
                                           "10.0.0.0/8"
                                           "\x12\x07"
                                           "1.2.3.4");
  ExpectEncoding<connectioncontext::IpFamily>(R"pb(family: IPV6)pb", "\x08\x01");
  ExpectEncoding<connectioncontext::IpFamily>(R"pb(family: IPV4)pb", "");
  ExpectEncoding<connectioncontext::ConnectionContext>(R"pb(MTU: 1500)pb", "\x28\xdc\x0b");
  // int32 -1 is a ten-byte varint.
  ExpectEncoding<connectioncontext::EthernetContext>(
      R"pb(vlan_tag: -1)pb",
      Bytes({0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  ExpectEncoding<connectioncontext::ExtraPrefixRequest>(
      R"pb(addr_family { family: IPV6 }
           prefix_len: 64
           required_number: 1
           requested_number: 2)pb",
      Bytes({0x0a, 0x02, 0x08, 0x01, 0x10, 0x40, 0x18, 0x01, 0x20, 0x02}));
  ExpectEncoding<connection::Mechanism>(
      R"pb(cls: "LOCAL"
           type: "KERNEL"
           parameters { key: "name" value: "nsm-1" })pb",
      "\x0a\x05LOCAL\x12\x06KERNEL\x1a\x0d\x0a\x04name\x12\x05nsm-1");
  ExpectEncoding<connection::PathSegment>(R"pb(name: "nsc"
                                               id: "1"
                                               expires { seconds: 1 })pb",
                                          "\x0a\x03nsc\x12\x01"
                                          "1\x22\x02\x08\x01");
  ExpectEncoding<connection::Connection>(R"pb(state: REFRESH_REQUESTED)pb", "\x48\x02");
  ExpectEncoding<connection::Connection>(R"pb(state: RESELECT_REQUESTED)pb", "\x48\x03");
  ExpectEncoding<connection::ConnectionEvent>(
      R"pb(type: DELETE
           connections {
             key: "c"
             value { id: "c" state: DOWN }
           })pb",
      "\x08\x02\x12\x0a\x0a\x01"
      "c\x12\x05\x0a\x01"
      "c\x48\x01");
  ExpectEncoding<connection::MonitorScopeSelector>(R"pb(path_segments { name: "nsmgr" id: "x" }
                                                        network_services: "ns")pb",
                                                   "\x0a\x0a\x0a\x05nsmgr\x12\x01x\x12\x02ns");
  ExpectEncoding<networkservice::NetworkServiceRequest>(
      R"pb(connection { id: "a" }
           mechanism_preferences { type: "KERNEL" })pb",
      "\x0a\x03\x0a\x01"
      "a\x12\x08\x12\x06KERNEL");
  ExpectEncoding<registry::NetworkServiceEndpointResponse>(
      R"pb(network_service_endpoint { name: "a" }
           deleted: true)pb",
      "\x0a\x03\x0a\x01"
      "a\x10\x01");
  ExpectEncoding<registry::NetworkServiceQuery>(R"pb(network_service { name: "ns" }
                                                     watch: true)pb",
                                                "\x0a\x04\x0a\x02ns\x10\x01");
  ExpectEncoding<ipam::PrefixResponse>(R"pb(prefix: "10.0.0.0/24")pb",
                                       "\x12\x0b"
                                       "10.0.0.0/24");  // field 2: there is no field 1
  ExpectEncoding<ipam::PrefixRequest>(R"pb(type: DELETE exclude_prefixes: "10.0.0.0/8")pb",
                                      "\x08\x02\x1a\x0a"
                                      "10.0.0.0/8");
}

// The generated serializers carry no UTF-8 check (api/drop_serialize_utf8_checks.pl): one that
// writes invalid UTF-8 logs nothing and writes the bytes as they are. The parsers keep theirs, so
// such bytes from a peer still fail to parse, as they do in Go.
TEST(WireBytesTest, SerializersDoNotCheckUtf8AndParsersDo) {
  CapturedLog().clear();
  google::protobuf::LogHandler* previous = google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string& message) {
        CapturedLog().push_back(message);  // only this test's thread uses protobuf meanwhile
      });
  connection::Connection conn;
  conn.set_id("c");
  conn.mutable_path()->add_path_segments()->set_token("t\xff");
  (*conn.mutable_labels())["k\xff"] = "v";
  std::string bytes;
  ASSERT_TRUE(conn.SerializeToString(&bytes));
  google::protobuf::SetLogHandler(previous);
  EXPECT_THAT(CapturedLog(), testing::IsEmpty());
  EXPECT_NE(bytes.find("t\xff"), std::string::npos);
  EXPECT_NE(bytes.find("k\xff"), std::string::npos);

  connection::Connection parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes));
  connection::PathSegment segment;
  segment.set_token("t\xff");
  EXPECT_FALSE(segment.ParseFromString(segment.SerializeAsString()));  // a string field
  connection::Connection labelled;
  (*labelled.mutable_labels())["k\xff"] = "v";
  EXPECT_FALSE(parsed.ParseFromString(labelled.SerializeAsString()));  // a map's key
}

TEST(WireBytesTest, UnknownFieldsArePreserved) {
  // A newer peer's field 42 (varint 7) must survive a parse/serialize cycle.
  const std::string bytes = std::string(
                                "\x0a\x01"
                                "a",
                                3) +
                            Bytes({0xd0, 0x02, 0x07});
  connection::Connection conn;
  ASSERT_TRUE(conn.ParseFromString(bytes));
  EXPECT_EQ(conn.id(), "a");
  EXPECT_EQ(conn.SerializeAsString(), bytes);
}

// --- Descriptors against api.md -----------------------------------------------------------------

constexpr auto kString = FieldDescriptor::TYPE_STRING;
constexpr auto kUint32 = FieldDescriptor::TYPE_UINT32;
constexpr auto kInt32 = FieldDescriptor::TYPE_INT32;
constexpr auto kBool = FieldDescriptor::TYPE_BOOL;
constexpr auto kMessage = FieldDescriptor::TYPE_MESSAGE;
constexpr auto kEnum = FieldDescriptor::TYPE_ENUM;

struct FieldSpec {
  std::string name;
  int number;
  FieldDescriptor::Type type;
  bool repeated = false;
  // Message or enum full name; for maps "map<key,value>" with value a scalar or a message name.
  std::string type_name = "";
};

FieldSpec Scalar(std::string name, int number, FieldDescriptor::Type type) {
  return {std::move(name), number, type, false, ""};
}
FieldSpec Repeated(std::string name, int number, FieldDescriptor::Type type) {
  return {std::move(name), number, type, true, ""};
}
FieldSpec Msg(std::string name, int number, std::string type_name, bool repeated = false) {
  return {std::move(name), number, kMessage, repeated, std::move(type_name)};
}
FieldSpec Enum(std::string name, int number, std::string type_name) {
  return {std::move(name), number, kEnum, false, std::move(type_name)};
}
FieldSpec Map(std::string name, int number, std::string value = "string") {
  return {std::move(name), number, kMessage, true, absl::StrCat("map<string,", value, ">")};
}

struct MessageSpec {
  std::string full_name;
  std::string file;
  std::vector<FieldSpec> fields;
};

struct EnumSpec {
  std::string full_name;
  std::string file;
  std::vector<std::pair<std::string, int>> values;
};

struct MethodSpec {
  std::string path;  // "/package.Service/Method"
  std::string input;
  std::string output;
  bool client_streaming = false;
  bool server_streaming = false;
};

struct ServiceSpec {
  std::string full_name;
  std::string file;
  std::vector<MethodSpec> methods;  // in declaration order
};

struct FileSpec {
  std::string name;
  std::string package;
  std::vector<std::string> dependencies;  // in import order (api.md §1)
};

constexpr char kTimestamp[] = "google.protobuf.Timestamp";
constexpr char kEmpty[] = "google.protobuf.Empty";

const std::vector<FileSpec>& Files() {
  static const auto* files = new std::vector<FileSpec>{
      {"connectioncontext.proto", "connectioncontext", {}},
      {"connection.proto",
       "connection",
       {"google/protobuf/timestamp.proto", "connectioncontext.proto"}},
      {"networkservice.proto",
       "networkservice",
       {"connection.proto", "google/protobuf/empty.proto"}},
      {"registry.proto",
       "registry",
       {"google/protobuf/empty.proto", "google/protobuf/timestamp.proto"}},
      {"ipam.proto", "ipam", {}},  // api v1.3.0+ (§11)
  };
  return *files;
}

// api.md §2-§5, with the §11 additions marked.
const std::vector<MessageSpec>& Messages() {
  static const auto* messages = new std::vector<MessageSpec>{
      // connectioncontext.proto (§2)
      {"connectioncontext.IpNeighbor",
       "connectioncontext.proto",
       {Scalar("ip", 1, kString), Scalar("hardware_address", 2, kString)}},
      {"connectioncontext.Route",
       "connectioncontext.proto",
       {Scalar("prefix", 1, kString), Scalar("nextHop", 2, kString)}},
      {"connectioncontext.PolicyRoute",  // §11, v1.3.0+ layout
       "connectioncontext.proto",
       {Scalar("from", 1, kString), Scalar("proto", 2, kString), Scalar("dst_port", 3, kString),
        Scalar("src_port", 4, kString), Msg("routes", 5, "connectioncontext.Route", true)}},
      {"connectioncontext.IpFamily",
       "connectioncontext.proto",
       {Enum("family", 1, "connectioncontext.IpFamily.Family")}},
      {"connectioncontext.ExtraPrefixRequest",
       "connectioncontext.proto",
       {Msg("addr_family", 1, "connectioncontext.IpFamily"), Scalar("prefix_len", 2, kUint32),
        Scalar("required_number", 3, kUint32), Scalar("requested_number", 4, kUint32)}},
      {"connectioncontext.IPContext",
       "connectioncontext.proto",
       {Repeated("src_ip_addrs", 1, kString), Repeated("dst_ip_addrs", 2, kString),
        Scalar("src_ip_required", 3, kBool), Scalar("dst_ip_required", 4, kBool),
        Msg("src_routes", 5, "connectioncontext.Route", true),
        Msg("dst_routes", 6, "connectioncontext.Route", true),
        Repeated("excluded_prefixes", 7, kString),
        Msg("ip_neighbors", 8, "connectioncontext.IpNeighbor", true),
        Msg("extra_prefix_request", 9, "connectioncontext.ExtraPrefixRequest", true),
        Repeated("extra_prefixes", 10, kString),
        Msg("policies", 11, "connectioncontext.PolicyRoute", true)}},  // §11
      {"connectioncontext.DNSConfig",
       "connectioncontext.proto",
       {Repeated("dns_server_ips", 1, kString), Repeated("search_domains", 2, kString)}},
      {"connectioncontext.DNSContext",
       "connectioncontext.proto",
       {Msg("configs", 1, "connectioncontext.DNSConfig", true)}},
      {"connectioncontext.EthernetContext",
       "connectioncontext.proto",
       {Scalar("src_mac", 1, kString), Scalar("dst_mac", 2, kString),
        Scalar("vlan_tag", 3, kInt32)}},
      {"connectioncontext.ConnectionContext",
       "connectioncontext.proto",
       {Msg("ip_context", 1, "connectioncontext.IPContext"),
        Msg("dns_context", 2, "connectioncontext.DNSContext"),
        Msg("ethernet_context", 3, "connectioncontext.EthernetContext"), Map("extra_context", 4),
        Scalar("MTU", 5, kUint32)}},
      // connection.proto (§3)
      {"connection.Mechanism",
       "connection.proto",
       {Scalar("cls", 1, kString), Scalar("type", 2, kString), Map("parameters", 3)}},
      {"connection.PathSegment",
       "connection.proto",
       {Scalar("name", 1, kString), Scalar("id", 2, kString), Scalar("token", 3, kString),
        Msg("expires", 4, kTimestamp), Map("metrics", 5)}},
      {"connection.Path",
       "connection.proto",
       {Scalar("index", 1, kUint32), Msg("path_segments", 2, "connection.PathSegment", true)}},
      {"connection.Connection",
       "connection.proto",
       {Scalar("id", 1, kString), Scalar("network_service", 2, kString),
        Msg("mechanism", 3, "connection.Mechanism"),
        Msg("context", 4, "connectioncontext.ConnectionContext"), Map("labels", 5),
        Msg("path", 6, "connection.Path"), Scalar("network_service_endpoint_name", 7, kString),
        Scalar("payload", 8, kString), Enum("state", 9, "connection.State")}},
      {"connection.ConnectionEvent",
       "connection.proto",
       {Enum("type", 1, "connection.ConnectionEventType"),
        Map("connections", 2, "connection.Connection")}},
      {"connection.MonitorScopeSelector",
       "connection.proto",
       {Msg("path_segments", 1, "connection.PathSegment", true),
        Repeated("network_services", 2, kString)}},  // §11, v1.14.2
      // networkservice.proto (§4)
      {"networkservice.NetworkServiceRequest",
       "networkservice.proto",
       {Msg("connection", 1, "connection.Connection"),
        Msg("mechanism_preferences", 2, "connection.Mechanism", true)}},
      // registry.proto (§5)
      {"registry.NetworkService",
       "registry.proto",
       {Scalar("name", 1, kString), Scalar("payload", 2, kString),
        Msg("matches", 3, "registry.Match", true),
        Repeated("path_ids", 4, kString)}},  // §11, v1.7.0
      {"registry.Match",
       "registry.proto",
       {Map("source_selector", 1), Msg("routes", 2, "registry.Destination", true),
        Scalar("fallthrough", 3, kBool), Msg("metadata", 4, "registry.Metadata")}},
      {"registry.Metadata", "registry.proto", {Map("labels", 1)}},
      {"registry.Destination",
       "registry.proto",
       {Map("destination_selector", 1), Scalar("weight", 2, kUint32)}},
      {"registry.NetworkServiceLabels", "registry.proto", {Map("labels", 1)}},
      {"registry.NetworkServiceEndpoint",
       "registry.proto",
       {Scalar("name", 1, kString), Repeated("network_service_names", 2, kString),
        Map("network_service_labels", 3, "registry.NetworkServiceLabels"),
        Scalar("url", 4, kString), Msg("expiration_time", 5, kTimestamp),
        Msg("initial_registration_time", 6, kTimestamp),
        Repeated("path_ids", 7, kString)}},  // §11, v1.7.0
      {"registry.NetworkServiceQuery",
       "registry.proto",
       {Msg("network_service", 1, "registry.NetworkService"), Scalar("watch", 2, kBool)}},
      {"registry.NetworkServiceEndpointQuery",
       "registry.proto",
       {Msg("network_service_endpoint", 1, "registry.NetworkServiceEndpoint"),
        Scalar("watch", 2, kBool)}},
      {"registry.NetworkServiceResponse",
       "registry.proto",
       {Msg("network_service", 1, "registry.NetworkService"), Scalar("deleted", 2, kBool)}},
      {"registry.NetworkServiceEndpointResponse",
       "registry.proto",
       {Msg("network_service_endpoint", 1, "registry.NetworkServiceEndpoint"),
        Scalar("deleted", 2, kBool)}},
      // ipam.proto (§11, v1.3.0+)
      {"ipam.PrefixRequest",
       "ipam.proto",
       {Enum("type", 1, "ipam.Type"), Scalar("prefix", 2, kString),
        Repeated("exclude_prefixes", 3, kString)}},
      {"ipam.PrefixResponse",
       "ipam.proto",
       {Scalar("prefix", 2, kString), Repeated("exclude_prefixes", 3, kString)}},
  };
  return *messages;
}

const std::vector<EnumSpec>& Enums() {
  static const auto* enums = new std::vector<EnumSpec>{
      {"connectioncontext.IpFamily.Family", "connectioncontext.proto", {{"IPV4", 0}, {"IPV6", 1}}},
      {"connection.State",
       "connection.proto",
       {{"UP", 0},
        {"DOWN", 1},
        {"REFRESH_REQUESTED", 2} /* §11 v1.5.0 */,
        {"RESELECT_REQUESTED", 3} /* §11 v1.10.0 */}},
      {"connection.ConnectionEventType",
       "connection.proto",
       {{"INITIAL_STATE_TRANSFER", 0}, {"UPDATE", 1}, {"DELETE", 2}}},
      {"ipam.Type", "ipam.proto", {{"UNDEFINED", 0}, {"ALLOCATE", 1}, {"DELETE", 2}}},
  };
  return *enums;
}

const std::vector<ServiceSpec>& Services() {
  static const auto* services = new std::vector<ServiceSpec>{
      {"networkservice.NetworkService",
       "networkservice.proto",
       {{"/networkservice.NetworkService/Request", "networkservice.NetworkServiceRequest",
         "connection.Connection"},
        {"/networkservice.NetworkService/Close", "connection.Connection", kEmpty}}},
      {"connection.MonitorConnection",
       "connection.proto",
       {{"/connection.MonitorConnection/MonitorConnections", "connection.MonitorScopeSelector",
         "connection.ConnectionEvent", false, true}}},
      {"registry.NetworkServiceEndpointRegistry",
       "registry.proto",
       {{"/registry.NetworkServiceEndpointRegistry/Register", "registry.NetworkServiceEndpoint",
         "registry.NetworkServiceEndpoint"},
        {"/registry.NetworkServiceEndpointRegistry/Find", "registry.NetworkServiceEndpointQuery",
         "registry.NetworkServiceEndpointResponse", false, true},
        {"/registry.NetworkServiceEndpointRegistry/Unregister", "registry.NetworkServiceEndpoint",
         kEmpty}}},
      {"registry.NetworkServiceRegistry",
       "registry.proto",
       {{"/registry.NetworkServiceRegistry/Register", "registry.NetworkService",
         "registry.NetworkService"},
        {"/registry.NetworkServiceRegistry/Find", "registry.NetworkServiceQuery",
         "registry.NetworkServiceResponse", false, true},
        {"/registry.NetworkServiceRegistry/Unregister", "registry.NetworkService", kEmpty}}},
      {"ipam.IPAM",
       "ipam.proto",
       {{"/ipam.IPAM/ManagePrefixes", "ipam.PrefixRequest", "ipam.PrefixResponse", true, true}}},
  };
  return *services;
}

const DescriptorPool& Pool() {
  // Touch one message of each file so that its generated descriptor is linked and registered.
  static const bool linked = [] {
    connectioncontext::ConnectionContext a;
    connection::Connection b;
    networkservice::NetworkServiceRequest c;
    registry::NetworkService d;
    ipam::PrefixRequest e;
    return a.GetDescriptor() && b.GetDescriptor() && c.GetDescriptor() && d.GetDescriptor() &&
           e.GetDescriptor();
  }();
  EXPECT_TRUE(linked);
  return *DescriptorPool::generated_pool();
}

std::string TypeNameOf(const FieldDescriptor* f) {
  if (f->is_map()) {
    const FieldDescriptor* key = f->message_type()->map_key();
    const FieldDescriptor* value = f->message_type()->map_value();
    EXPECT_EQ(key->type(), kString) << f->full_name();
    return absl::StrCat("map<string,",
                        value->type() == kMessage ? value->message_type()->full_name()
                                                  : std::string(value->type_name()),
                        ">");
  }
  if (f->type() == kMessage) return f->message_type()->full_name();
  if (f->type() == kEnum) return f->enum_type()->full_name();
  return "";
}

TEST(DescriptorTest, Files) {
  for (const FileSpec& spec : Files()) {
    const FileDescriptor* file = Pool().FindFileByName(spec.name);
    ASSERT_NE(file, nullptr) << spec.name;
    EXPECT_EQ(file->package(), spec.package) << spec.name;
    EXPECT_EQ(file->syntax(), FileDescriptor::SYNTAX_PROTO3) << spec.name;
    std::vector<std::string> deps;
    for (int i = 0; i < file->dependency_count(); ++i) deps.push_back(file->dependency(i)->name());
    EXPECT_EQ(deps, spec.dependencies) << spec.name;
  }
  // Bare names only: nothing registered under a directory path.
  EXPECT_EQ(Pool().FindFileByName("api/proto/connection.proto"), nullptr);
}

TEST(DescriptorTest, MessagesAndFieldsMatchTheSpec) {
  for (const MessageSpec& spec : Messages()) {
    const Descriptor* msg = Pool().FindMessageTypeByName(spec.full_name);
    ASSERT_NE(msg, nullptr) << spec.full_name;
    EXPECT_EQ(msg->file()->name(), spec.file) << spec.full_name;
    EXPECT_EQ(msg->field_count(), static_cast<int>(spec.fields.size())) << spec.full_name;
    EXPECT_EQ(msg->oneof_decl_count(), 0) << spec.full_name;
    for (const FieldSpec& fs : spec.fields) {
      const FieldDescriptor* f = msg->FindFieldByNumber(fs.number);
      ASSERT_NE(f, nullptr) << spec.full_name << " field " << fs.number;
      const std::string where = absl::StrCat(spec.full_name, ".", fs.name, " = ", fs.number);
      EXPECT_EQ(f->name(), fs.name) << where;
      EXPECT_EQ(f->type(), fs.type) << where;
      EXPECT_EQ(f->is_repeated(), fs.repeated) << where;
      EXPECT_EQ(f->is_map(), fs.type_name.rfind("map<", 0) == 0) << where;
      EXPECT_EQ(TypeNameOf(f), fs.type_name) << where;
    }
  }
}

// Every message and enum of the five files (nested ones included, map entries excluded).
void CollectTypes(const Descriptor* msg, std::set<std::string>* messages,
                  std::set<std::string>* enums) {
  if (msg->options().map_entry()) return;
  messages->insert(msg->full_name());
  for (int i = 0; i < msg->nested_type_count(); ++i) {
    CollectTypes(msg->nested_type(i), messages, enums);
  }
  for (int i = 0; i < msg->enum_type_count(); ++i) enums->insert(msg->enum_type(i)->full_name());
}

TEST(DescriptorTest, NothingBeyondTheSpec) {
  std::set<std::string> messages, enums, services;
  for (const FileSpec& spec : Files()) {
    const FileDescriptor* file = Pool().FindFileByName(spec.name);
    ASSERT_NE(file, nullptr);
    for (int i = 0; i < file->message_type_count(); ++i) {
      CollectTypes(file->message_type(i), &messages, &enums);
    }
    for (int i = 0; i < file->enum_type_count(); ++i) enums.insert(file->enum_type(i)->full_name());
    for (int i = 0; i < file->service_count(); ++i) services.insert(file->service(i)->full_name());
  }
  std::set<std::string> want_messages, want_enums, want_services;
  for (const MessageSpec& m : Messages()) want_messages.insert(m.full_name);
  for (const EnumSpec& e : Enums()) want_enums.insert(e.full_name);
  for (const ServiceSpec& s : Services()) want_services.insert(s.full_name);
  EXPECT_EQ(messages, want_messages);
  EXPECT_EQ(enums, want_enums);
  EXPECT_EQ(services, want_services);
}

TEST(DescriptorTest, EnumsMatchTheSpec) {
  for (const EnumSpec& spec : Enums()) {
    const EnumDescriptor* e = Pool().FindEnumTypeByName(spec.full_name);
    ASSERT_NE(e, nullptr) << spec.full_name;
    EXPECT_EQ(e->file()->name(), spec.file);
    ASSERT_EQ(e->value_count(), static_cast<int>(spec.values.size())) << spec.full_name;
    for (size_t i = 0; i < spec.values.size(); ++i) {
      EXPECT_EQ(e->value(static_cast<int>(i))->name(), spec.values[i].first) << spec.full_name;
      EXPECT_EQ(e->value(static_cast<int>(i))->number(), spec.values[i].second) << spec.full_name;
    }
  }
}

TEST(DescriptorTest, ServicesMatchTheSpec) {
  for (const ServiceSpec& spec : Services()) {
    const ServiceDescriptor* s = Pool().FindServiceByName(spec.full_name);
    ASSERT_NE(s, nullptr) << spec.full_name;
    EXPECT_EQ(s->file()->name(), spec.file);
    ASSERT_EQ(s->method_count(), static_cast<int>(spec.methods.size())) << spec.full_name;
    for (size_t i = 0; i < spec.methods.size(); ++i) {
      const auto* m = s->method(static_cast<int>(i));
      const MethodSpec& want = spec.methods[i];
      EXPECT_EQ(absl::StrCat("/", s->full_name(), "/", m->name()), want.path);
      EXPECT_EQ(m->input_type()->full_name(), want.input) << want.path;
      EXPECT_EQ(m->output_type()->full_name(), want.output) << want.path;
      EXPECT_EQ(m->client_streaming(), want.client_streaming) << want.path;
      EXPECT_EQ(m->server_streaming(), want.server_streaming) << want.path;
    }
  }
}

TEST(DescriptorTest, JsonNames) {
  const Descriptor* route = Pool().FindMessageTypeByName("connectioncontext.Route");
  const Descriptor* ctx = Pool().FindMessageTypeByName("connectioncontext.ConnectionContext");
  ASSERT_NE(route, nullptr);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(route->FindFieldByNumber(2)->json_name(), "nextHop");
  EXPECT_EQ(ctx->FindFieldByNumber(5)->json_name(), "MTU");
  EXPECT_EQ(ctx->FindFieldByNumber(1)->json_name(), "ipContext");

  connectioncontext::ConnectionContext msg;
  msg.set_mtu(1500);
  auto* r = msg.mutable_ip_context()->add_src_routes();
  r->set_prefix("10.0.0.0/8");
  r->set_nexthop("10.0.0.1");
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(msg, &json).ok());
  EXPECT_EQ(
      json,
      R"({"ipContext":{"srcRoutes":[{"prefix":"10.0.0.0/8","nextHop":"10.0.0.1"}]},"MTU":1500})");
  connectioncontext::ConnectionContext back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(msg, back));
}

}  // namespace
}  // namespace nsm::api

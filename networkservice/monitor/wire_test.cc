// Wire views of ConnectionEvent and Connection: what they read agrees with a parser's result, for
// regular connections, pieces a parser would merge, long fields, missing map keys and values,
// and input that is not well formed.
#include "networkservice/monitor/wire.h"

#include "core/packed.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"

namespace nsm::monitor {
namespace {

using ::connection::Connection;
using ::connection::ConnectionEvent;
using ::connection::ConnectionEventType;

Connection Sample(const std::string& id) {
  Connection c;
  c.set_id(id);
  c.set_network_service("svc");
  c.set_state(::connection::State::DOWN);
  (*c.mutable_labels())["app"] = "x";
  (*c.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.1/32";
  c.mutable_path()->set_index(1);
  auto* a = c.mutable_path()->add_path_segments();
  a->set_name("nsc");
  a->set_id("c-1");
  a->set_token(std::string(300, 't'));  // a two-byte length
  auto* b = c.mutable_path()->add_path_segments();
  b->set_name("nsmgr");
  b->set_id(id);
  return c;
}

// Field `number` with the length-delimited `bytes`, as a serializer writes it.
std::string LengthDelimited(int number, const std::string& bytes) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  uint8_t size[5];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(bytes.size()), size);
  out.append(reinterpret_cast<const char*>(size), end - size);
  return out + bytes;
}

// The view against the parsed connection it stands for.
void ExpectAgrees(const ConnectionWire& view, const Connection& parsed) {
  EXPECT_EQ(view.state, parsed.state());
  EXPECT_EQ(view.has_context, parsed.has_context());
  EXPECT_EQ(view.path_index, parsed.path().index());
  ASSERT_EQ(view.segments.size(), static_cast<size_t>(parsed.path().path_segments_size()));
  for (int i = 0; i < parsed.path().path_segments_size(); ++i) {
    EXPECT_EQ(view.segments[i].name, parsed.path().path_segments(i).name());
    EXPECT_EQ(view.segments[i].id, parsed.path().path_segments(i).id());
  }
  auto unpacked = view.Unpack();
  ASSERT_TRUE(unpacked);
  EXPECT_EQ(DeterministicBytes(*unpacked), DeterministicBytes(parsed));
}

TEST(ConnectionWireTest, ReadsWhatAParserReads) {
  const Connection c = Sample("m-1");
  const std::string bytes = c.SerializeAsString();
  auto view = ConnectionWire::Read(bytes);
  ASSERT_TRUE(view);
  ExpectAgrees(*view, c);
  EXPECT_EQ(view->context, c.context().SerializeAsString());
  EXPECT_EQ(view->path, c.path().SerializeAsString());

  auto empty = ConnectionWire::Read("");
  ASSERT_TRUE(empty);
  ExpectAgrees(*empty, Connection());
}

TEST(ConnectionWireTest, PiecesAParserWouldMergeAreLeftToTheParser) {
  // A second path field: a parser appends its segments to the first's.
  Connection more;
  more.mutable_path()->add_path_segments()->set_name("forwarder");
  const std::string bytes = Sample("m-1").SerializeAsString() + more.SerializeAsString();
  EXPECT_FALSE(ConnectionWire::Read(bytes));
}

TEST(ConnectionWireTest, InputThatIsNotWellFormedIsRefused) {
  const std::string bytes = Sample("m-1").SerializeAsString();
  EXPECT_FALSE(ConnectionWire::Read(bytes.substr(0, bytes.size() - 3)));   // cut short
  EXPECT_FALSE(ConnectionWire::Read(std::string("\x32\x05\x12\x09", 4)));  // segment too long
  EXPECT_FALSE(ConnectionWire::Read(std::string("\x00", 1)));              // a zero tag
  EXPECT_FALSE(ConnectionWire::Read(std::string("\x02\x00", 2)));  // field 0, length-delimited
}

TEST(EventWireTest, ReadsTypeAndEveryConnection) {
  ConnectionEvent e;
  e.set_type(ConnectionEventType::DELETE);
  (*e.mutable_connections())["m-1"] = Sample("m-1");
  (*e.mutable_connections())["m-2"] = Sample("m-2");
  EventWire wire;
  ASSERT_TRUE(wire.Read(e.SerializeAsString()));
  EXPECT_EQ(wire.type(), ConnectionEventType::DELETE);
  ASSERT_EQ(wire.connections().size(), 2u);
  for (const auto& [key, conn] : wire.connections()) {
    ASSERT_TRUE(e.connections().contains(std::string(key)));
    ExpectAgrees(conn, e.connections().at(std::string(key)));
  }
  auto unpacked = wire.Unpack();
  ASSERT_TRUE(unpacked);
  EXPECT_EQ(DeterministicBytes(*unpacked), DeterministicBytes(e));

  EventWire empty;  // INITIAL_STATE_TRANSFER of nothing: zero bytes
  ASSERT_TRUE(empty.Read(""));
  EXPECT_EQ(empty.type(), ConnectionEventType::INITIAL_STATE_TRANSFER);
  EXPECT_TRUE(empty.connections().empty());
}

// `event`, one UPDATE of "m-1" written in two pieces (Sample's two segments, then a third), reads
// as the parser's merge of them.
void ExpectMergedAsTheParserDoes(const std::string& event) {
  ConnectionEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event));
  ASSERT_EQ(parsed.connections().at("m-1").path().path_segments_size(), 3);

  EventWire wire;
  ASSERT_TRUE(wire.Read(event));
  ASSERT_EQ(wire.connections().size(), 1u);
  EXPECT_EQ(wire.connections()[0].key, "m-1");
  ExpectAgrees(wire.connections()[0].conn, parsed.connections().at("m-1"));
}

TEST(EventWireTest, AConnectionInPiecesIsReadAsTheParserMergesIt) {
  Connection more;
  more.mutable_path()->add_path_segments()->set_name("forwarder");
  const std::string conn = Sample("m-1").SerializeAsString() + more.SerializeAsString();
  // type UPDATE; connections: {key "m-1", value conn}
  const std::string event =
      std::string("\x08\x01", 2) +
      LengthDelimited(2, LengthDelimited(1, "m-1") + LengthDelimited(2, conn));
  ExpectMergedAsTheParserDoes(event);
}

TEST(EventWireTest, AValueInPiecesIsReadAsTheParserMergesIt) {
  Connection first = Sample("m-1");
  Connection second;
  second.mutable_path()->add_path_segments()->set_name("forwarder");
  // One entry: key, then the value written twice.
  const std::string entry = LengthDelimited(1, "m-1") +
                            LengthDelimited(2, first.SerializeAsString()) +
                            LengthDelimited(2, second.SerializeAsString());
  const std::string event = std::string("\x08\x01", 2) + LengthDelimited(2, entry);
  ExpectMergedAsTheParserDoes(event);
}

TEST(EventWireTest, AnEntryWithoutKeyOrValueIsTheDefault) {
  EventWire wire;
  ASSERT_TRUE(wire.Read(std::string("\x08\x02\x12\x00", 4)));  // DELETE, one empty entry
  ASSERT_EQ(wire.connections().size(), 1u);
  EXPECT_EQ(wire.connections()[0].key, "");
  ExpectAgrees(wire.connections()[0].conn, Connection());
}

TEST(EventWireTest, InputThatIsNotWellFormedIsRefused) {
  ConnectionEvent e;
  e.set_type(ConnectionEventType::UPDATE);
  (*e.mutable_connections())["m-1"] = Sample("m-1");
  const std::string bytes = e.SerializeAsString();
  EventWire wire;
  EXPECT_FALSE(wire.Read(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(wire.Read(std::string("\x12\x03\x12\x01\x32", 5)));  // a value cut short
  EXPECT_TRUE(wire.Read(bytes));  // and a good one after a bad one
  EXPECT_EQ(wire.connections().size(), 1u);
}

}  // namespace
}  // namespace nsm::monitor

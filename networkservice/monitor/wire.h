// monitor wire views: a next hop's ConnectionEvent read in its wire form, so that routing and the
// connection filter look at its connections without parsing them (api.md §7.5, nsmgr.md §4.4).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "connection.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace nsm::monitor {

// Walks the fields of one message in its wire form: a length-delimited field's bytes as a view, a
// varint's value; other fields are skipped.
class WireFields {
 public:
  using WireType = google::protobuf::internal::WireFormatLite::WireType;
  static constexpr WireType kLen =
      google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  static constexpr WireType kVarint = google::protobuf::internal::WireFormatLite::WIRETYPE_VARINT;

  explicit WireFields(absl::string_view bytes);
  // Moves to the next field; false at the end, or on malformed input (then ok() is false).
  bool Next();
  bool ok() const { return ok_; }
  int number() const { return google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag_); }
  WireType type() const { return google::protobuf::internal::WireFormatLite::GetTagWireType(tag_); }
  bool is(int number, WireType type) const {
    return this->number() == number && this->type() == type;
  }
  absl::string_view bytes() const { return value_; }
  uint64_t varint() const { return varint_; }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  absl::string_view bytes_;
  google::protobuf::io::CodedInputStream in_;
  uint32_t tag_ = 0;
  absl::string_view value_;
  uint64_t varint_ = 0;
  bool ok_ = false;
};

// One connection as views into its wire form (connection.proto: context = 4, path = 6 with
// index = 1 and path_segments = 2 of name = 1 and id = 2, state = 9). Valid while the bytes are.
struct ConnectionWire {
  // Nullopt when `bytes` is not a well-formed Connection at the levels read here, or when its
  // context or path comes in more than one piece (a parser merges those: parse it instead).
  // Strings are not checked for UTF-8 here; Unpack does.
  static std::optional<ConnectionWire> Read(absl::string_view bytes);
  // The connection parsed; nullopt when it does not parse.
  std::optional<::connection::Connection> Unpack() const;

  struct Segment {
    absl::string_view name;
    absl::string_view id;
  };
  absl::string_view bytes;
  int state = 0;
  bool has_context = false;
  absl::string_view context;
  absl::string_view path;
  uint32_t path_index = 0;
  absl::InlinedVector<Segment, 4> segments;
};

// A ConnectionEvent as its type and one ConnectionWire per map entry, in wire order (a key that
// comes twice is there twice: applying the entries in order leaves the last, as a parser would).
class EventWire {
 public:
  EventWire() = default;
  EventWire(const EventWire&) = delete;
  EventWire& operator=(const EventWire&) = delete;

  // False when `bytes` is not a well-formed ConnectionEvent. A connection that a view cannot
  // describe (ConnectionWire::Read: pieces a parser merges) is parsed and described in its
  // deterministic form instead; so is a map entry whose value comes in pieces.
  bool Read(std::string bytes);
  // The whole event parsed; nullopt when it does not parse.
  std::optional<::connection::ConnectionEvent> Unpack() const;

  ::connection::ConnectionEventType type() const { return type_; }
  struct Entry {
    absl::string_view key;
    ConnectionWire conn;
  };
  const std::vector<Entry>& connections() const { return entries_; }

 private:
  std::string bytes_;
  // Connections rewritten for views (merged pieces); each string stays where it is.
  std::vector<std::unique_ptr<std::string>> normalized_;
  ::connection::ConnectionEventType type_ = ::connection::INITIAL_STATE_TRANSFER;
  std::vector<Entry> entries_;
};

}  // namespace nsm::monitor

#include "networkservice/monitor/wire.h"

#include "core/packed.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace nsm::monitor {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr auto kLen = WireFields::kLen;
constexpr auto kVarint = WireFields::kVarint;

bool ReadPath(absl::string_view bytes, ConnectionWire& out) {
  WireFields path(bytes);
  while (path.Next()) {
    if (path.is(1, kVarint)) {
      out.path_index = static_cast<uint32_t>(path.varint());
    } else if (path.is(2, kLen)) {
      ConnectionWire::Segment seg;
      WireFields fields(path.bytes());
      while (fields.Next()) {
        if (fields.is(1, kLen)) seg.name = fields.bytes();
        if (fields.is(2, kLen)) seg.id = fields.bytes();
      }
      if (!fields.ok()) return false;
      out.segments.push_back(seg);
    }
  }
  return path.ok();
}

}  // namespace

WireFields::WireFields(absl::string_view bytes)
    : bytes_(bytes),
      in_(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size())) {}

bool WireFields::Next() {
  tag_ = in_.ReadTag();
  if (tag_ == 0) {
    ok_ = in_.ConsumedEntireMessage() && in_.CurrentPosition() == static_cast<int>(bytes_.size());
    return false;
  }
  if (number() == 0) return Fail();  // a parser refuses field number 0
  if (type() == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
    uint32_t size = 0;
    if (!in_.ReadVarint32(&size) || size > bytes_.size() - in_.CurrentPosition()) return Fail();
    value_ = bytes_.substr(in_.CurrentPosition(), size);
    if (!in_.Skip(static_cast<int>(size))) return Fail();
    return true;
  }
  if (type() == WireFormatLite::WIRETYPE_VARINT) {
    if (!in_.ReadVarint64(&varint_)) return Fail();
    return true;
  }
  if (!WireFormatLite::SkipField(&in_, tag_)) return Fail();
  return true;
}

std::optional<ConnectionWire> ConnectionWire::Read(absl::string_view bytes) {
  ConnectionWire out;
  out.bytes = bytes;
  bool saw_path = false;
  WireFields fields(bytes);
  while (fields.Next()) {
    if (fields.is(4, kLen)) {
      if (out.has_context) return std::nullopt;  // a parser would merge the pieces
      out.has_context = true;
      out.context = fields.bytes();
    } else if (fields.is(6, kLen)) {
      if (saw_path) return std::nullopt;
      saw_path = true;
      out.path = fields.bytes();
      if (!ReadPath(out.path, out)) return std::nullopt;
    } else if (fields.is(9, kVarint)) {
      out.state = static_cast<int>(fields.varint());
    }
  }
  if (!fields.ok()) return std::nullopt;
  return out;
}

std::optional<::connection::Connection> ConnectionWire::Unpack() const {
  ::connection::Connection conn;
  if (!conn.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return conn;
}

bool EventWire::Read(std::string bytes) {
  bytes_ = std::move(bytes);
  normalized_.clear();
  entries_.clear();
  type_ = ::connection::INITIAL_STATE_TRANSFER;
  WireFields fields(bytes_);
  while (fields.Next()) {
    if (fields.is(1, kVarint)) {
      // As a parser reads an enum: the varint's low 32 bits.
      type_ = static_cast<::connection::ConnectionEventType>(static_cast<int32_t>(fields.varint()));
    } else if (fields.is(2, kLen)) {
      absl::string_view key, value;
      std::unique_ptr<std::string> pieces;  // a value written more than once: a parser merges
      WireFields entry(fields.bytes());
      while (entry.Next()) {
        if (entry.is(1, kLen)) key = entry.bytes();
        if (!entry.is(2, kLen)) continue;
        if (value.data() == nullptr) {
          value = entry.bytes();
          continue;
        }
        // Concatenated encodings of a message parse as their merge.
        if (!pieces) pieces = std::make_unique<std::string>(value.data(), value.size());
        pieces->append(entry.bytes().data(), entry.bytes().size());
      }
      if (!entry.ok()) return false;
      if (pieces) value = *normalized_.emplace_back(std::move(pieces));
      std::optional<ConnectionWire> conn = ConnectionWire::Read(value);
      if (!conn) {
        // Merged pieces, or malformed: what a parser makes of it, in the form views can read.
        ::connection::Connection parsed;
        if (!parsed.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
        conn = ConnectionWire::Read(
            *normalized_.emplace_back(std::make_unique<std::string>(DeterministicBytes(parsed))));
        if (!conn) return false;
      }
      entries_.push_back({key, *conn});
    }
  }
  return fields.ok();
}

std::optional<::connection::ConnectionEvent> EventWire::Unpack() const {
  ::connection::ConnectionEvent event;
  if (!event.ParseFromString(bytes_)) return std::nullopt;
  return event;
}

}  // namespace nsm::monitor

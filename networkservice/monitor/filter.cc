#include "networkservice/monitor/filter.h"

#include <utility>

#include "absl/strings/match.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace nsm::monitor {

void ConnectionFilter::Rebase(const ::connection::Connection& base) {
  Rebase(base, Packed<::connection::Connection>(base));
}

void ConnectionFilter::Rebase(const ::connection::Connection& base,
                              Packed<::connection::Connection> packed) {
  id_ = base.id();
  index_ = base.path().index();
  state_ = base.state();
  base_ = std::move(packed);
}

bool ConnectionFilter::IsOurs(const ::connection::Connection& x) const {
  const auto& segments = x.path().path_segments();
  if (segments.size() < static_cast<int>(index_) + 1) return false;
  if (segments[static_cast<int>(index_)].id() != id_) return false;
  return x.path().index() == index_ || x.path().index() == index_ + 1;
}

bool ConnectionFilter::IsOurs(const ConnectionWire& x) const {
  if (x.segments.size() < static_cast<size_t>(index_) + 1) return false;
  if (x.segments[index_].id != id_) return false;
  return x.path_index == index_ || x.path_index == index_ + 1;
}

const ::connection::Connection* ConnectionFilter::Ours(
    const ::connection::ConnectionEvent& event) const {
  for (const auto& [key, x] : event.connections()) {
    if (IsOurs(x)) return &x;
  }
  return nullptr;
}

std::vector<::connection::Connection> ConnectionFilter::Apply(
    const ::connection::ConnectionEvent& event) {
  std::vector<::connection::Connection> out;
  for (const auto& [key, x] : event.connections()) {
    if (!IsOurs(x)) continue;
    // Built on the base as it is now (an event rarely carries more than one of ours).
    if (auto mapped = Map(event.type(), x)) out.push_back(std::move(mapped->conn));
  }
  return out;
}

bool ConnectionFilter::Unchanged(::connection::ConnectionEventType type,
                                 const ::connection::Connection& x) const {
  const std::string context = x.has_context() ? DeterministicBytes(x.context()) : std::string();
  return UnchangedWire(type, x.state(), x.has_context(), context, DeterministicBytes(x.path()));
}

bool ConnectionFilter::Unchanged(::connection::ConnectionEventType type,
                                 const ConnectionWire& x) const {
  return UnchangedWire(type, x.state, x.has_context, x.context, x.path);
}

bool ConnectionFilter::UnchangedWire(::connection::ConnectionEventType type, int x_state,
                                     bool has_context, absl::string_view context,
                                     absl::string_view theirs) const {
  using google::protobuf::internal::WireFormatLite;
  // The fields Map replaces (connection.proto): context = 4, path = 6, state = 9.
  constexpr int kContext = 4, kPath = 6, kState = 9;
  const bool deleted = type == ::connection::ConnectionEventType::DELETE;
  const int state = deleted ? ::connection::State::DOWN : x_state;
  // The path as Map sets it: x's, with our index. Serializers write field 1 (index) first, so x's
  // own index is dropped from the front and ours put there (a peer writing it elsewhere makes
  // this answer "changed", and Map compares the parsed forms).
  size_t skip = 0;
  if (!theirs.empty() &&
      theirs[0] == static_cast<char>(WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT))) {
    skip = 1;
    while (skip < theirs.size() && (static_cast<unsigned char>(theirs[skip]) & 0x80) != 0) ++skip;
    ++skip;  // the varint's last byte
    if (skip > theirs.size()) return false;
  }
  // Our index as deterministic output writes it (nothing for 0).
  uint8_t index_bytes[6];
  uint8_t* index_end = index_bytes;
  if (index_ != 0) {
    *index_end++ =
        static_cast<uint8_t>(WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT));
    index_end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(index_, index_end);
  }
  const absl::string_view index(reinterpret_cast<const char*>(index_bytes),
                                index_end - index_bytes);
  const absl::string_view segments = theirs.substr(skip);

  // Walk the base's fields: each replaced one must be there with the same bytes (or absent where
  // Map leaves it absent); every other field Map keeps as it is.
  bool saw_context = false, saw_path = false, saw_state = false;
  WireFields base(base_.wire());
  while (base.Next()) {
    const int number = base.number();
    if (number == kContext || number == kPath) {
      if (base.type() != WireFields::kLen) return false;
      bool& saw = number == kContext ? saw_context : saw_path;
      if (saw) return false;  // never written twice by deterministic output
      saw = true;
      const absl::string_view field = base.bytes();
      const bool same = number == kContext ? field == context
                                           : absl::StartsWith(field, index) &&
                                                 field.substr(index.size()) == segments;
      if (!same) return false;
    } else if (number == kState) {
      if (base.type() != WireFields::kVarint || saw_state) return false;
      saw_state = true;
      if (static_cast<int>(base.varint()) != state) return false;
    }
  }
  if (!base.ok()) return false;
  return saw_context == has_context && saw_path && saw_state == (state != 0);
}

std::optional<ConnectionFilter::Mapped> ConnectionFilter::Map(
    ::connection::ConnectionEventType type, const ConnectionWire& x) {
  if (Unchanged(type, x)) return std::nullopt;
  std::optional<::connection::Connection> parsed = x.Unpack();
  if (!parsed) return std::nullopt;  // not UTF-8, or malformed below what the view read
  return MapParsed(type, *parsed);
}

std::optional<ConnectionFilter::Mapped> ConnectionFilter::Map(
    ::connection::ConnectionEventType type, const ::connection::Connection& x) {
  if (Unchanged(type, x)) return std::nullopt;
  return MapParsed(type, x);
}

std::optional<ConnectionFilter::Mapped> ConnectionFilter::MapParsed(
    ::connection::ConnectionEventType type, const ::connection::Connection& x) {
  ::connection::Connection mapped = base_.Unpack();
  *mapped.mutable_path() = x.path();
  mapped.mutable_path()->set_index(index_);
  if (x.has_context()) {
    *mapped.mutable_context() = x.context();
  } else {
    mapped.clear_context();
  }
  const bool deleted = type == ::connection::ConnectionEventType::DELETE;
  mapped.set_state(deleted ? ::connection::State::DOWN : x.state());
  Packed<::connection::Connection> packed(mapped);
  if (packed == base_) return std::nullopt;  // nothing changed
  state_ = mapped.state();                   // id and index stay ours
  base_ = packed;
  return Mapped{std::move(mapped), std::move(packed)};
}

}  // namespace nsm::monitor

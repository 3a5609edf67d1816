#include "networkservice/updatepath/common.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace nsm::updatepath {

std::string NewUuid() {
  thread_local absl::BitGen gen;
  uint64_t hi = absl::Uniform<uint64_t>(gen);
  uint64_t lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};            // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // RFC 4122 variant
  // 8-4-4-4-12 lower-case hex digits, written directly (one per connection and hop).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t bits, int digits) {
    for (int i = digits - 1; i >= 0; --i)
      out[pos + i] = kHex[(bits >> (4 * (digits - 1 - i))) & 0xF];
    pos += digits + 1;  // and skip the dash
  };
  put(hi >> 32, 8);
  put((hi >> 16) & 0xFFFF, 4);
  put(hi & 0xFFFF, 4);
  put(lo >> 48, 4);
  put(lo & 0xFFFFFFFFFFFF, 12);
  return out;
}

absl::StatusOr<uint32_t> UpdatePath(Connection& conn, absl::string_view name) {
  connection::Path* path = conn.mutable_path();
  auto& segments = *path->mutable_path_segments();
  const uint64_t len = static_cast<uint64_t>(segments.size());

  // 0. No segments: this hop starts the path.
  if (len == 0) {
    path->set_index(0);
    if (conn.id().empty()) conn.set_id(NewUuid());
    connection::PathSegment* own = path->add_path_segments();
    own->set_name(std::string(name));
    own->set_id(conn.id());
    return 0u;
  }

  const uint32_t index = path->index();
  // 1. The index points at our own segment: a refresh/Close of ours, or our nested client.
  if (index < len && segments[static_cast<int>(index)].name() == name) {
    conn.set_id(segments[static_cast<int>(index)].id());
    return index;
  }

  // 2. Moving forward from the caller's segment.
  const uint64_t next_index = uint64_t{index} + 1;
  if (next_index > len) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Path.Index+1==%d should be less or equal len(Path.PathSegments)==%d", next_index, len));
  }
  const connection::PathSegment& current = segments[static_cast<int>(index)];
  if (current.id() != conn.id()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Current PathSegment.Id==%s should be equal Connection.Id==%s", current.id(), conn.id()));
  }
  if (next_index < len) {
    connection::PathSegment& stale = segments[static_cast<int>(next_index)];
    if (stale.name() != name) {
      // A tail left by an older path: the segment becomes ours, with a fresh id.
      stale.set_name(std::string(name));
      stale.set_id(NewUuid());
    }
    path->set_index(static_cast<uint32_t>(next_index));
    conn.set_id(stale.id());
    return index;
  }
  path->set_index(static_cast<uint32_t>(next_index));
  connection::PathSegment* own = path->add_path_segments();
  own->set_name(std::string(name));
  own->set_id(NewUuid());
  conn.set_id(own->id());
  return index;
}

absl::Status RestoreCallerFrame(Connection& conn, uint32_t caller_index) {
  const int len = conn.path().path_segments_size();
  if (static_cast<int64_t>(caller_index) >= len) {
    return absl::InternalError(absl::StrFormat(
        "updatepath: the returned connection.path has %d segment%s, the caller's index %d is out "
        "of range",
        len, len == 1 ? "" : "s", caller_index));
  }
  conn.set_id(conn.path().path_segments(static_cast<int>(caller_index)).id());
  conn.mutable_path()->set_index(caller_index);
  return absl::OkStatus();
}

}  // namespace nsm::updatepath

// A protobuf message kept in its wire form: about a sixth of the parsed form's memory (a Connection
// with four path segments: 565 bytes against 3.3 kB), for state held per connection and read back
// only when an event needs it (DESIGN.md §6: memory per held connection).
//
// Packing is deterministic (map entries sorted by key): equal bytes mean equal messages, and
// equal messages pack to equal bytes unless they carry unknown fields that arrived in different
// orders. Comparing packed forms replaces a reflection-based comparison (MessageDifferencer) at
// a small fraction of its cost; where it is used to find changes, that exception can only report
// a change too many, never miss one.
#pragma once

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message_lite.h"

namespace nsm {

// `m`'s wire form with map entries sorted by key: equal messages give equal bytes.
inline std::string DeterministicBytes(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    (void)m.SerializeToCodedStream(&coded);
  }  // the coded stream trims `out` to what was written when it goes
  return out;
}

template <typename Message>
class Packed {
 public:
  Packed() = default;
  explicit Packed(const Message& m) : bytes_(DeterministicBytes(m)) {}

  // Whether the packed messages are equal (every field, maps as maps; see above).
  friend bool operator==(const Packed& a, const Packed& b) { return a.bytes_ == b.bytes_; }

  // The message as it was packed (a default one if nothing was).
  Message Unpack() const {
    Message m;
    // Bytes this class serialized always parse back.
    (void)m.ParseFromString(bytes_);
    return m;
  }
  size_t bytes() const { return bytes_.size(); }
  // The wire form itself (deterministic, as described above).
  const std::string& wire() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace nsm

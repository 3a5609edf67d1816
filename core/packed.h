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
#include "google/protobuf/wire_format_lite.h"

namespace nsm {

// `m`'s wire form with map entries sorted by key: equal messages give equal bytes.
// Written into a string of the exact size (one allocation; a growing string took six for a
// connection).
inline std::string DeterministicBytes(const google::protobuf::MessageLite& m) {
  const size_t size = m.ByteSizeLong();  // caches the sizes the serializer reads
  std::string out(size, '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  m.SerializeWithCachedSizes(&coded);
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
  // Only the message field `number` of the packed message (a default one if it is absent), parsed
  // from the wire form without the rest: e.g. a request's connection without its mechanism
  // preferences. Repeated occurrences merge, as in a full parse.
  template <typename Field>
  Field UnpackField(int number) const {
    Field field;
    UnpackField(number, &field);
    return field;
  }
  // The same, merged into `*field` (e.g. one on an arena).
  void UnpackField(int number, google::protobuf::MessageLite* field) const {
    using google::protobuf::internal::WireFormatLite;
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes_.data()),
                                              static_cast<int>(bytes_.size()));
    while (uint32_t tag = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(tag) != number ||
          WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        if (!WireFormatLite::SkipField(&in, tag)) break;
        continue;
      }
      uint32_t size = 0;
      if (!in.ReadVarint32(&size)) break;
      const auto limit = in.PushLimit(static_cast<int>(size));
      // Bytes this class serialized always parse back.
      (void)field->MergePartialFromCodedStream(&in);
      in.PopLimit(limit);
    }
  }
  size_t bytes() const { return bytes_.size(); }
  // The wire form itself (deterministic, as described above).
  const std::string& wire() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace nsm

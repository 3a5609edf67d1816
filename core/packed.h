// A protobuf message kept in its wire form: about a sixth of the parsed form's memory (a Connection
// with four path segments: 565 bytes against 3.3 kB), for state held per connection and read back
// only when an event needs it (DESIGN.md §6: memory per held connection).
#pragma once

#include <string>

namespace nsm {

template <typename Message>
class Packed {
 public:
  Packed() = default;
  explicit Packed(const Message& m) { m.SerializeToString(&bytes_); }

  // The message as it was packed (a default one if nothing was).
  Message Unpack() const {
    Message m;
    // Bytes this class serialized always parse back.
    (void)m.ParseFromString(bytes_);
    return m;
  }
  size_t bytes() const { return bytes_.size(); }

 private:
  std::string bytes_;
};

}  // namespace nsm

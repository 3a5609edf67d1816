// Protobuf arenas for the hot path: a scratch message on the same arena as another, so that
// swapping fields between the two moves pointers (DESIGN.md §6: fewer allocations per call).
#pragma once

#include <optional>

#include "google/protobuf/arena.h"
#include "google/protobuf/message_lite.h"

namespace nsm {

// A default `M` on `owner`'s arena, or a local one (no allocation) if `owner` has none. Swap
// between messages on different arenas copies both ways; between a message and its ScratchLike it
// is a pointer swap.
template <typename M>
class ScratchLike {
 public:
  explicit ScratchLike(const google::protobuf::MessageLite& owner) {
    if (google::protobuf::Arena* arena = owner.GetArena()) {
      m_ = google::protobuf::Arena::CreateMessage<M>(arena);
    } else {
      m_ = &local_.emplace();
    }
  }
  ScratchLike(const ScratchLike&) = delete;
  ScratchLike& operator=(const ScratchLike&) = delete;

  M& operator*() const { return *m_; }
  M* operator->() const { return m_; }
  M* get() const { return m_; }

 private:
  std::optional<M> local_;
  M* m_;
};

}  // namespace nsm

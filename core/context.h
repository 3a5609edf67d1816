// Context: what travels with a call through a chain: deadline, cancellation, clock, gRPC peer and
// metadata, typed values; plus postponed contexts for rollback and events (chain-model.md §4).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/typed_key.h"

namespace nsm {

// Shared cancellation state. Cancelled once, with the reason (Cancelled or DeadlineExceeded).
class CancelState : public std::enable_shared_from_this<CancelState> {
 public:
  class Registration;

  static std::shared_ptr<CancelState> Create() {
    return std::make_shared<CancelState>(Key());  // one allocation: a context per call makes one
  }
  CancelState(const CancelState&) = delete;
  CancelState& operator=(const CancelState&) = delete;
  ~CancelState();

  // First call wins; later calls do nothing. Callbacks run on the cancelling thread.
  void Cancel(absl::Status reason);
  bool cancelled() const;
  absl::Status reason() const;  // OK while not cancelled
  // Child states linked to this one now (tests: children that went are unlinked).
  size_t linked_children() const;

  // Runs `fn` once when cancelled (at once, on this thread, if already cancelled). Destroying the
  // returned Registration unregisters it.
  [[nodiscard]] std::unique_ptr<Registration> OnCancel(std::function<void()> fn);

 private:
  friend class Context;
  // Only Create makes a CancelState (make_shared needs a public constructor: this key keeps it
  // private in effect).
  struct Key {};

 public:
  explicit CancelState(Key) {}

 private:
  mutable absl::Mutex mu_;
  absl::Status reason_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // A B-tree: one allocation holds the few callbacks a call's context gets (a std::map made one
  // per callback), and a long-lived context with thousands stays O(log n).
  absl::btree_map<uint64_t, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  // Children (states of contexts made WithCancel from a context on this one), cancelled with it;
  // a child takes its entry out when it goes. A link of its own rather than an OnCancel callback:
  // no std::function and no Registration to allocate per call.
  absl::btree_map<uint64_t, std::weak_ptr<CancelState>> children_ ABSL_GUARDED_BY(mu_);
  // Where this state is linked as a child, and its id there.
  std::weak_ptr<CancelState> parent_;
  uint64_t id_in_parent_ = 0;
  std::unique_ptr<Timer> deadline_timer_ ABSL_GUARDED_BY(mu_);

  // Links `child` so that it is cancelled with this state; false (nothing linked) if this state
  // is cancelled already.
  bool AddChild(const std::shared_ptr<CancelState>& child);
};

class CancelState::Registration {
 public:
  Registration(std::weak_ptr<CancelState> state, uint64_t id) : state_(std::move(state)), id_(id) {}
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  std::weak_ptr<CancelState> state_;
  uint64_t id_;
};

// Who called us, as seen by the transport.
struct Peer {
  std::string address;                  // e.g. "unix:/path" or "ipv4:127.0.0.1:5000"
  std::vector<std::string> identities;  // authenticated identities (SPIFFE IDs once mTLS lands)
};

using Metadata = std::multimap<std::string, std::string>;

class PostponedContext;

// Immutable and cheap to copy; derived contexts share their parent's state.
class Context {
 public:
  // A background context on the real clock: no deadline, never cancelled.
  Context();
  static Context Background(std::shared_ptr<Clock> clock);

  Clock& clock() const { return *clock_; }
  const std::shared_ptr<Clock>& clock_ptr() const { return clock_; }
  std::optional<absl::Time> deadline() const { return deadline_; }
  // Remaining time on this context's clock; nullopt when there is no deadline.
  std::optional<absl::Duration> remaining() const;

  bool cancelled() const;
  // OK, or the status that ended this context (Cancelled / DeadlineExceeded).
  absl::Status Err() const;
  const std::shared_ptr<CancelState>& cancel_state() const { return cancel_; }

  const Peer& peer() const;
  // gRPC request metadata as received (empty when not called over gRPC).
  const Metadata& incoming_metadata() const;

  // Derivations.
  template <typename T>
  Context WithValue(const TypedKey<T>& key, std::shared_ptr<T> value) const {
    Context c = *this;
    c.values_ = std::make_shared<const ValueNode>(
        ValueNode{key.id(), std::static_pointer_cast<void>(std::move(value)), values_});
    return c;
  }
  template <typename T>
  std::shared_ptr<T> Value(const TypedKey<T>& key) const {
    for (const ValueNode* n = values_.get(); n != nullptr; n = n->next.get()) {
      if (n->key == key.id()) return std::static_pointer_cast<T>(n->value);
    }
    return nullptr;
  }
  Context WithClock(std::shared_ptr<Clock> clock) const;
  Context WithPeer(Peer peer) const;
  Context WithIncomingMetadata(Metadata md) const;

  using CancelFunc = std::function<void()>;
  // A child cancelled by `cancel()` or when this context is cancelled.
  std::pair<Context, CancelFunc> WithCancel() const;
  // A child that is also cancelled (DeadlineExceeded) at `deadline` on this context's clock; the
  // effective deadline is the earlier of the two.
  std::pair<Context, CancelFunc> WithDeadline(absl::Time deadline) const;
  std::pair<Context, CancelFunc> WithTimeout(absl::Duration timeout) const;

  // Same values, clock, peer and metadata; no deadline and not cancelled with this context.
  Context Detached() const;
  // Captures the remaining time now (chain-model.md §4.3).
  PostponedContext Postpone() const;

 private:
  struct ValueNode {
    const void* key;
    std::shared_ptr<void> value;
    std::shared_ptr<const ValueNode> next;
  };

  std::shared_ptr<Clock> clock_;
  std::optional<absl::Time> deadline_;
  std::shared_ptr<CancelState> cancel_;  // null: never cancelled
  std::shared_ptr<const Peer> peer_;
  std::shared_ptr<const Metadata> metadata_;
  std::shared_ptr<const ValueNode> values_;
};

// A recipe for a fresh context later: same values, clock, peer and metadata; the deadline is
// "the remaining time captured at Postpone()" from the moment Make() is called; not cancelled by
// the original context. Used for rollback Close and for timer/heal events.
class PostponedContext {
 public:
  PostponedContext() = default;
  // The context and its cancel function; call the function when done to release the timer.
  std::pair<Context, Context::CancelFunc> Make() const;

 private:
  friend class Context;
  Context values_;
  std::optional<absl::Duration> remaining_;
};

}  // namespace nsm

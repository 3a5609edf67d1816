#include "core/context.h"

namespace nsm {
namespace {

// The reasons a context ends, made once: a copy shares the message instead of allocating it (a
// context per call ends with one of them).
const absl::Status& Cancelled() {
  static const absl::Status* const kStatus =
      new absl::Status(absl::CancelledError("context cancelled"));
  return *kStatus;
}
const absl::Status& DeadlineExceeded() {
  static const absl::Status* const kStatus =
      new absl::Status(absl::DeadlineExceededError("context deadline exceeded"));
  return *kStatus;
}

}  // namespace

CancelState::~CancelState() {
  if (auto parent = parent_.lock()) {
    absl::MutexLock lock(&parent->mu_);
    parent->children_.erase(id_in_parent_);
  }
}

bool CancelState::AddChild(const std::shared_ptr<CancelState>& child) {
  absl::MutexLock lock(&mu_);
  if (!reason_.ok()) return false;
  const uint64_t id = next_id_++;
  children_.emplace(id, child);
  child->parent_ = weak_from_this();
  child->id_in_parent_ = id;
  return true;
}

void CancelState::Cancel(absl::Status reason) {
  if (reason.ok()) reason = Cancelled();
  absl::btree_map<uint64_t, std::function<void()>> callbacks;
  absl::btree_map<uint64_t, std::weak_ptr<CancelState>> children;
  std::unique_ptr<Timer> timer;  // a cancelled context needs no deadline timer any more
  {
    absl::MutexLock lock(&mu_);
    if (!reason_.ok()) return;
    reason_ = reason;
    callbacks.swap(callbacks_);
    children.swap(children_);
    timer = std::move(deadline_timer_);
  }
  for (auto& [id, fn] : callbacks) fn();
  for (auto& [id, weak] : children) {
    if (auto child = weak.lock()) child->Cancel(reason);
  }
}

bool CancelState::cancelled() const {
  absl::MutexLock lock(&mu_);
  return !reason_.ok();
}

size_t CancelState::linked_children() const {
  absl::MutexLock lock(&mu_);
  return children_.size();
}

absl::Status CancelState::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

std::unique_ptr<CancelState::Registration> CancelState::OnCancel(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (reason_.ok()) {
      uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(fn));
      return std::make_unique<Registration>(weak_from_this(), id);
    }
  }
  fn();
  return nullptr;
}

CancelState::Registration::~Registration() {
  auto state = state_.lock();
  if (!state) return;
  std::function<void()> dropped;
  absl::MutexLock lock(&state->mu_);
  auto it = state->callbacks_.find(id_);
  if (it != state->callbacks_.end()) {
    dropped = std::move(it->second);
    state->callbacks_.erase(it);
  }
}

Context::Context() : clock_(RealClock()) {}

Context Context::Background(std::shared_ptr<Clock> clock) {
  Context c;
  c.clock_ = std::move(clock);
  return c;
}

std::optional<absl::Duration> Context::remaining() const {
  if (!deadline_) return std::nullopt;
  return *deadline_ - clock_->Now();
}

bool Context::cancelled() const { return !Err().ok(); }

absl::Status Context::Err() const {
  if (cancel_) {
    absl::Status s = cancel_->reason();
    if (!s.ok()) return s;
  }
  if (deadline_ && clock_->Now() >= *deadline_) return DeadlineExceeded();
  return absl::OkStatus();
}

const Peer& Context::peer() const {
  static const Peer* kEmpty = new Peer();
  return peer_ ? *peer_ : *kEmpty;
}

const Metadata& Context::incoming_metadata() const {
  static const Metadata* kEmpty = new Metadata();
  return metadata_ ? *metadata_ : *kEmpty;
}

Context Context::WithClock(std::shared_ptr<Clock> clock) const {
  Context c = *this;
  c.clock_ = std::move(clock);
  return c;
}

Context Context::WithPeer(Peer peer) const {
  Context c = *this;
  c.peer_ = std::make_shared<const Peer>(std::move(peer));
  return c;
}

Context Context::WithIncomingMetadata(Metadata md) const {
  Context c = *this;
  c.metadata_ = std::make_shared<const Metadata>(std::move(md));
  return c;
}

std::pair<Context, Context::CancelFunc> Context::WithCancel() const {
  Context c = *this;
  auto child = CancelState::Create();
  if (cancel_ && !cancel_->AddChild(child)) child->Cancel(cancel_->reason());
  c.cancel_ = child;
  std::weak_ptr<CancelState> weak = child;
  return {c, [weak] {
            if (auto s = weak.lock()) s->Cancel(Cancelled());
          }};
}

std::pair<Context, Context::CancelFunc> Context::WithDeadline(absl::Time deadline) const {
  auto [c, cancel] = WithCancel();
  if (!c.deadline_ || deadline < *c.deadline_) c.deadline_ = deadline;
  std::weak_ptr<CancelState> weak = c.cancel_;
  auto timer = clock_->At(*c.deadline_, [weak] {
    if (auto s = weak.lock()) s->Cancel(DeadlineExceeded());
  });
  absl::MutexLock lock(&c.cancel_->mu_);
  if (c.cancel_->reason_.ok()) c.cancel_->deadline_timer_ = std::move(timer);
  return {c, cancel};
}

std::pair<Context, Context::CancelFunc> Context::WithTimeout(absl::Duration timeout) const {
  return WithDeadline(clock_->Now() + timeout);
}

Context Context::Detached() const {
  Context c = *this;
  c.deadline_.reset();
  c.cancel_.reset();
  return c;
}

PostponedContext Context::Postpone() const {
  PostponedContext p;
  p.values_ = Detached();
  p.remaining_ = remaining();
  return p;
}

std::pair<Context, Context::CancelFunc> PostponedContext::Make() const {
  if (!remaining_) return values_.WithCancel();
  return values_.WithTimeout(*remaining_);
}

}  // namespace nsm

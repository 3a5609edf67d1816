#include "networkservice/monitor/grpc_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/grpc_transport.h"

namespace nsm::monitor {
namespace {

// A write carries the events queued behind a write in flight merged up to this size (the peer's
// default limit for a message is 4 MB, Go's and ours).
constexpr size_t kMaxMergedBytes = 64 * 1024;

// Moves events from a Subscription to the gRPC stream, one write at a time, in the wire form the
// store made them in (the method is served raw: nothing is serialized here); the events that
// queued behind a write in flight go out merged (Subscription::PopWireMerged). Shared with the
// subscription's wake callback (weakly), so a wake racing with the end of the stream is harmless.
// Stream operations are started under mu_: the callback API never runs reactions inline for
// default (non-inlineable) reactors, so no reaction can re-enter mu_.
class Pump {
 public:
  void Attach(grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor,
              std::shared_ptr<Subscription> sub) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
    sub_ = std::move(sub);
  }

  // Starts the next write, or finishes the stream once the subscription ended and is drained.
  void Kick() {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr || finishing_ || writing_) return;
    if (auto event = sub_->PopWireMerged(kMaxMergedBytes)) {
      grpc::Slice slice(*event);
      current_ = grpc::ByteBuffer(&slice, 1);
      writing_ = true;
      reactor_->StartWrite(&current_);
      return;
    }
    if (sub_->ended()) FinishLocked(ToGrpcStatus(sub_->status()));
  }

  void WriteDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "monitor stream write failed"));
        return;
      }
    }
    Kick();
  }

  void Cancelled() {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "monitor stream cancelled by the peer"));
  }

  // The reactor is about to be deleted.
  std::shared_ptr<Subscription> Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    return std::move(sub_);
  }

 private:
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || reactor_ == nullptr) return;
    finishing_ = true;
    reactor_->Finish(status);
  }

  absl::Mutex mu_;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::shared_ptr<Subscription> sub_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

class MonitorReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  MonitorReactor(ConnectionStore& store, const MonitorScopeSelector& selector, size_t max_queued,
                 std::shared_ptr<std::atomic<size_t>> open, std::function<void(int)> changed)
      : open_(std::move(open)), changed_(std::move(changed)) {
    if (changed_) changed_(1);
    std::weak_ptr<Pump> weak = pump_;
    pump_->Attach(this, store.Subscribe(
                            selector,
                            [weak] {
                              if (auto pump = weak.lock()) pump->Kick();
                            },
                            max_queued));
    pump_->Kick();
  }

  void OnWriteDone(bool ok) override { pump_->WriteDone(ok); }
  void OnCancel() override { pump_->Cancelled(); }
  void OnDone() override {
    if (auto sub = pump_->Detach()) sub->Cancel();
    open_->fetch_sub(1);
    if (changed_) changed_(-1);
    delete this;
  }

 private:
  std::shared_ptr<Pump> pump_ = std::make_shared<Pump>();
  std::shared_ptr<std::atomic<size_t>> open_;
  std::function<void(int)> changed_;
};

// Answers a refused stream.
class Refuse : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Refuse(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

GrpcService::GrpcService(std::shared_ptr<ConnectionStore> store, ServiceOptions options)
    : store_(std::move(store)), options_(options) {}

grpc::ServerWriteReactor<grpc::ByteBuffer>* GrpcService::MonitorConnections(
    grpc::CallbackServerContext*, const grpc::ByteBuffer* request) {
  MonitorScopeSelector parsed;
  if (!request->Valid()) {  // the call half-closed without its request
    return new Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "monitor: the call carries no MonitorScopeSelector"));
  }
  grpc::ByteBuffer copy = *request;  // shares the slices; parsing consumes the copy
  if (!grpc::GenericDeserialize<grpc::ProtoBufferReader, MonitorScopeSelector>(&copy, &parsed)
           .ok()) {
    return new Refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   absl::StrCat("monitor: the MonitorScopeSelector (",
                                                request->Length(), " bytes) does not parse")));
  }
  const MonitorScopeSelector* selector = &parsed;
  if (open_->fetch_add(1) >= options_.max_streams) {
    open_->fetch_sub(1);
    return new Refuse(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("monitor: ", options_.max_streams, " streams already open")));
  }
  size_t max_queued = options_.max_queued_events;
  const bool shared =
      std::all_of(selector->path_segments().begin(), selector->path_segments().end(),
                  [](const auto& seg) { return seg.id().empty(); });
  if (shared) {
    max_queued = options_.max_queued_events_shared != 0
                     ? options_.max_queued_events_shared
                     : 32 * (max_queued != 0 ? max_queued : store_->max_queued_events());
  }
  return new MonitorReactor(*store_, *selector, max_queued, open_, options_.on_streams_changed);
}

}  // namespace nsm::monitor

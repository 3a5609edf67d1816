// A registry Find over gRPC as a FindStream: queued one-at-a-time writes, a bounded backlog
// after the initial results (RESOURCE_EXHAUSTED beyond it) (DESIGN.md §3, registry.md §4).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/context.h"
#include "core/registry.h"
#include "grpcpp/grpcpp.h"

namespace nsm::reg::transport {

// What ServerFindStream drives: a grpc::ServerWriteReactor (or a fake in tests). StartWrite's
// message stays valid until OnWriteDone; neither call may invoke the stream's callbacks inline.
template <class Response>
class FindWriter {
 public:
  virtual ~FindWriter() = default;
  virtual void Write(const Response* response) = 0;
  virtual void End(const grpc::Status& status) = 0;
};

// Everything sent before SetLive() (the initial results of the Find) is queued without bound: it
// is bounded by the store. After SetLive() at most `max_backlog` responses may wait behind the
// ones still queued from before; one more finishes the stream with RESOURCE_EXHAUSTED.
template <class Response>
class ServerFindStream : public FindStream<Response> {
 public:
  ServerFindStream(Context ctx, Context::CancelFunc cancel, size_t max_backlog)
      : ctx_(std::move(ctx)), cancel_(std::move(cancel)), max_backlog_(max_backlog) {}

  // Must be called once, before the first Send.
  void Attach(FindWriter<Response>* writer) {
    absl::MutexLock lock(&mu_);
    writer_ = writer;
  }

  const Context& context() const override { return ctx_; }

  absl::Status Send(const Response& response) override {
    absl::Status overflow;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return closed_;
      const size_t backlog = queue_.size() - from_before_live_;
      if (!live_ || backlog < max_backlog_) {
        queue_.push_back(response);
        if (!writing_) WriteNextLocked();
        return absl::OkStatus();
      }
      overflow = absl::ResourceExhaustedError(
          absl::StrCat("find stream closed: the receiver fell behind by more than ", max_backlog_,
                       " responses"));
      closed_ = overflow;
      finished_ = true;
      queue_.clear();
      from_before_live_ = 0;
      FinishWriterLocked(overflow);  // now, even with a write outstanding: do not wait for it
    }
    cancel_();
    return overflow;
  }

  void Finish(absl::Status status) override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      closed_ = absl::FailedPreconditionError("find stream already finished");
      status_ = std::move(status);
      if (!writing_) FinishWriterLocked(status_);  // else after the queue drained
    }
    cancel_();
  }

  // The initial results are out: from now on the backlog is bounded.
  void SetLive() {
    absl::MutexLock lock(&mu_);
    live_ = true;
    from_before_live_ = queue_.size();
  }

  // Reactor callbacks.
  void OnWriteDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && !queue_.empty() && !writer_finished_) {
        WriteNextLocked();
        return;
      }
      if (!ok) {
        // The call is broken (client gone); nothing more can be written.
        queue_.clear();
        from_before_live_ = 0;
        if (!finished_) {
          finished_ = true;
          closed_ = absl::CancelledError("find stream receiver went away");
          status_ = closed_;
        }
      }
      if (!finished_) return;  // idle, waiting for the next Send
      FinishWriterLocked(status_);
    }
    cancel_();
  }
  void OnCancel() {
    {
      absl::MutexLock lock(&mu_);
      queue_.clear();
      from_before_live_ = 0;
      if (!finished_) {
        finished_ = true;
        closed_ = absl::CancelledError("find stream receiver went away");
        status_ = closed_;
      }
      FinishWriterLocked(status_);
    }
    cancel_();
  }
  void OnDone() {
    {
      absl::MutexLock lock(&mu_);
      writer_ = nullptr;
      if (!finished_) {
        finished_ = true;
        closed_ = absl::CancelledError("find stream receiver went away");
      }
      queue_.clear();
    }
    cancel_();
  }

  size_t queued() const {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    if (from_before_live_ > 0) --from_before_live_;
    writing_ = true;
    if (writer_ != nullptr) writer_->Write(&in_flight_);
  }
  void FinishWriterLocked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writer_finished_ || writer_ == nullptr) return;
    writer_finished_ = true;
    writer_->End(
        s.ok() ? grpc::Status::OK
               : grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message())));
  }

  const Context ctx_;
  const Context::CancelFunc cancel_;
  const size_t max_backlog_;
  mutable absl::Mutex mu_;
  FindWriter<Response>* writer_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);
  Response in_flight_ ABSL_GUARDED_BY(mu_);
  size_t from_before_live_ ABSL_GUARDED_BY(mu_) = 0;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;         // no more Sends
  bool writer_finished_ ABSL_GUARDED_BY(mu_) = false;  // writer->Finish called
  absl::Status status_ ABSL_GUARDED_BY(mu_);           // final status for the writer
  absl::Status closed_ ABSL_GUARDED_BY(mu_);           // what Send answers once finished
};

}  // namespace nsm::reg::transport

// Registry chain plumbing: NS and NSE registry server/client interfaces (Register, Find with
// watch, Unregister), explicit next handles, nesting chains, adapters (chain-model.md §7).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/context.h"
#include "core/networkservice.h"  // CallOptions
#include "registry.pb.h"

namespace nsm {

struct NSTraits {
  using Item = ::registry::NetworkService;
  using Query = ::registry::NetworkServiceQuery;
  using Response = ::registry::NetworkServiceResponse;
};
struct NSETraits {
  using Item = ::registry::NetworkServiceEndpoint;
  using Query = ::registry::NetworkServiceEndpointQuery;
  using Response = ::registry::NetworkServiceEndpointResponse;
};

// The receiving end of a Find. Send never blocks for long: a stream that cannot keep up or whose
// peer went away answers with an error. A watch Find keeps a reference to the stream and sends
// until the stream's context is cancelled or someone calls Finish.
template <class Response>
class FindStream {
 public:
  virtual ~FindStream() = default;
  // Cancelled when the receiver went away or the stream was finished.
  virtual const Context& context() const = 0;
  virtual absl::Status Send(const Response& response) = 0;
  // The same for a response the caller no longer needs: a stream that keeps it moves it.
  virtual absl::Status Send(Response&& response) {
    return Send(static_cast<const Response&>(response));
  }
  // Ends the stream with `status` (OK = end of results). Idempotent; later Sends fail.
  virtual void Finish(absl::Status status) = 0;
  // A watch that broke was opened again below (registry/heal): a fresh snapshot of the current
  // matches follows, and what was deleted during the break was never sent. A cache built from the
  // stream drops what it holds; streams that wrap another pass it on; others ignore it.
  virtual void Reopened() {}
};

template <class T>
class RegistryServerNext;
template <class T>
class RegistryClientNext;

// Find contract for both sides: send the current matches; if query.watch, keep the stream and
// send every later change, then return OK at once (the stream stays open until its context is
// cancelled or it is finished); if not watch, return after the last match. A non-OK return is
// the stream's final status. The outermost caller finishes a non-watch stream.
template <class T>
class RegistryServer {
 public:
  using Item = typename T::Item;
  using Query = typename T::Query;
  using Response = typename T::Response;
  using Stream = std::shared_ptr<FindStream<Response>>;
  using Next = RegistryServerNext<T>;

  virtual ~RegistryServer() = default;
  virtual absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) = 0;
  virtual absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                            const Next& next) = 0;
  virtual absl::Status Unregister(const Context& ctx, Item& item, const Next& next) = 0;
};

template <class T>
class RegistryClient {
 public:
  using Item = typename T::Item;
  using Query = typename T::Query;
  using Response = typename T::Response;
  using Stream = std::shared_ptr<FindStream<Response>>;
  using Next = RegistryClientNext<T>;

  virtual ~RegistryClient() = default;
  virtual absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                        const CallOptions& opts) = 0;
  virtual absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                            const Next& next, const CallOptions& opts) = 0;
  virtual absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                                  const CallOptions& opts) = 0;
};

using NSRegistryServer = RegistryServer<NSTraits>;
using NSERegistryServer = RegistryServer<NSETraits>;
using NSRegistryClient = RegistryClient<NSTraits>;
using NSERegistryClient = RegistryClient<NSETraits>;

namespace internal {
template <class T>
class RegistryServerLink {
 public:
  virtual ~RegistryServerLink() = default;
  virtual absl::StatusOr<typename T::Item> Register(const Context& ctx,
                                                    typename T::Item& item) const = 0;
  virtual absl::Status Find(const Context& ctx, const typename T::Query& query,
                            const std::shared_ptr<FindStream<typename T::Response>>& s) const = 0;
  virtual absl::Status Unregister(const Context& ctx, typename T::Item& item) const = 0;
};
template <class T>
class RegistryClientLink {
 public:
  virtual ~RegistryClientLink() = default;
  virtual absl::StatusOr<typename T::Item> Register(const Context& ctx, typename T::Item& item,
                                                    const CallOptions& opts) const = 0;
  virtual absl::Status Find(const Context& ctx, const typename T::Query& query,
                            const std::shared_ptr<FindStream<typename T::Response>>& s,
                            const CallOptions& opts) const = 0;
  virtual absl::Status Unregister(const Context& ctx, typename T::Item& item,
                                  const CallOptions& opts) const = 0;
};
}  // namespace internal

// The rest of a registry server chain. Default-constructed = the tail: Register returns the item
// unchanged, Find sends nothing, Unregister succeeds.
template <class T>
class RegistryServerNext {
 public:
  RegistryServerNext() = default;
  explicit RegistryServerNext(std::shared_ptr<const internal::RegistryServerLink<T>> link)
      : link_(std::move(link)) {}
  absl::StatusOr<typename T::Item> Register(const Context& ctx, typename T::Item& item) const {
    if (!link_) return item;
    return link_->Register(ctx, item);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& query,
                    const std::shared_ptr<FindStream<typename T::Response>>& s) const {
    if (!link_) return absl::OkStatus();
    return link_->Find(ctx, query, s);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item) const {
    if (!link_) return absl::OkStatus();
    return link_->Unregister(ctx, item);
  }
  bool is_tail() const { return link_ == nullptr; }

 private:
  std::shared_ptr<const internal::RegistryServerLink<T>> link_;
};

template <class T>
class RegistryClientNext {
 public:
  RegistryClientNext() = default;
  explicit RegistryClientNext(std::shared_ptr<const internal::RegistryClientLink<T>> link)
      : link_(std::move(link)) {}
  absl::StatusOr<typename T::Item> Register(const Context& ctx, typename T::Item& item,
                                            const CallOptions& opts = {}) const {
    if (!link_) return item;
    return link_->Register(ctx, item, opts);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& query,
                    const std::shared_ptr<FindStream<typename T::Response>>& s,
                    const CallOptions& opts = {}) const {
    if (!link_) return absl::OkStatus();
    return link_->Find(ctx, query, s, opts);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item,
                          const CallOptions& opts = {}) const {
    if (!link_) return absl::OkStatus();
    return link_->Unregister(ctx, item, opts);
  }
  bool is_tail() const { return link_ == nullptr; }

 private:
  std::shared_ptr<const internal::RegistryClientLink<T>> link_;
};

namespace internal {

inline absl::Status RegistryChainGone() {
  return absl::UnavailableError("registry chain has been shut down");
}

// Stands in for the elements of a chain that no longer exists.
template <class T>
class ShutDownServer : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;
  absl::StatusOr<Item> Register(const Context&, Item&, const Next&) override {
    return RegistryChainGone();
  }
  absl::Status Find(const Context&, const Query&, const Stream&, const Next&) override {
    return RegistryChainGone();
  }
  absl::Status Unregister(const Context&, Item&, const Next&) override {
    return RegistryChainGone();
  }
};

template <class T>
class ShutDownClient : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;
  absl::StatusOr<Item> Register(const Context&, Item&, const Next&, const CallOptions&) override {
    return RegistryChainGone();
  }
  absl::Status Find(const Context&, const Query&, const Stream&, const Next&,
                    const CallOptions&) override {
    return RegistryChainGone();
  }
  absl::Status Unregister(const Context&, Item&, const Next&, const CallOptions&) override {
    return RegistryChainGone();
  }
};

template <class T>
class RegistryServerChainLink : public RegistryServerLink<T> {
 public:
  using Elements = std::vector<std::shared_ptr<RegistryServer<T>>>;
  RegistryServerChainLink(const std::shared_ptr<const Elements>& e, size_t i,
                          RegistryServerNext<T> after)
      : elements_(e), index_(i) {
    next_ =
        index_ + 1 < e->size()
            ? RegistryServerNext<T>(std::make_shared<RegistryServerChainLink>(e, index_ + 1, after))
            : std::move(after);
  }
  absl::StatusOr<typename T::Item> Register(const Context& ctx,
                                            typename T::Item& item) const override {
    return Element()->Register(ctx, item, next_);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& q,
                    const std::shared_ptr<FindStream<typename T::Response>>& s) const override {
    return Element()->Find(ctx, q, s, next_);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item) const override {
    return Element()->Unregister(ctx, item, next_);
  }

 private:
  std::shared_ptr<RegistryServer<T>> Element() const {
    auto e = elements_.lock();
    return e ? (*e)[index_] : std::make_shared<ShutDownServer<T>>();
  }
  std::weak_ptr<const Elements> elements_;  // weak: see ServerChainLink in networkservice.cc
  size_t index_;
  RegistryServerNext<T> next_;
};

template <class T>
class RegistryClientChainLink : public RegistryClientLink<T> {
 public:
  using Elements = std::vector<std::shared_ptr<RegistryClient<T>>>;
  RegistryClientChainLink(const std::shared_ptr<const Elements>& e, size_t i,
                          RegistryClientNext<T> after)
      : elements_(e), index_(i) {
    next_ =
        index_ + 1 < e->size()
            ? RegistryClientNext<T>(std::make_shared<RegistryClientChainLink>(e, index_ + 1, after))
            : std::move(after);
  }
  absl::StatusOr<typename T::Item> Register(const Context& ctx, typename T::Item& item,
                                            const CallOptions& opts) const override {
    return Element()->Register(ctx, item, next_, opts);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& q,
                    const std::shared_ptr<FindStream<typename T::Response>>& s,
                    const CallOptions& opts) const override {
    return Element()->Find(ctx, q, s, next_, opts);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item,
                          const CallOptions& opts) const override {
    return Element()->Unregister(ctx, item, next_, opts);
  }

 private:
  std::shared_ptr<RegistryClient<T>> Element() const {
    auto e = elements_.lock();
    return e ? (*e)[index_] : std::make_shared<ShutDownClient<T>>();
  }
  std::weak_ptr<const Elements> elements_;  // weak: see ServerChainLink in networkservice.cc
  size_t index_;
  RegistryClientNext<T> next_;
};

// Client next that continues an outer server chain (options end at the crossing).
template <class T>
class RegistryServerAsClientLink : public RegistryClientLink<T> {
 public:
  explicit RegistryServerAsClientLink(RegistryServerNext<T> next) : next_(std::move(next)) {}
  absl::StatusOr<typename T::Item> Register(const Context& ctx, typename T::Item& item,
                                            const CallOptions&) const override {
    return next_.Register(ctx, item);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& q,
                    const std::shared_ptr<FindStream<typename T::Response>>& s,
                    const CallOptions&) const override {
    return next_.Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item,
                          const CallOptions&) const override {
    return next_.Unregister(ctx, item);
  }

 private:
  RegistryServerNext<T> next_;
};

// Server next that continues an outer client chain with the options the client element got.
template <class T>
class RegistryClientAsServerLink : public RegistryServerLink<T> {
 public:
  RegistryClientAsServerLink(RegistryClientNext<T> next, CallOptions opts)
      : next_(std::move(next)), opts_(std::move(opts)) {}
  absl::StatusOr<typename T::Item> Register(const Context& ctx,
                                            typename T::Item& item) const override {
    return next_.Register(ctx, item, opts_);
  }
  absl::Status Find(const Context& ctx, const typename T::Query& q,
                    const std::shared_ptr<FindStream<typename T::Response>>& s) const override {
    return next_.Find(ctx, q, s, opts_);
  }
  absl::Status Unregister(const Context& ctx, typename T::Item& item) const override {
    return next_.Unregister(ctx, item, opts_);
  }

 private:
  RegistryClientNext<T> next_;
  CallOptions opts_;
};

template <class Elements>
Elements WithoutNulls(Elements elements) {
  std::erase(elements, nullptr);
  return elements;
}

}  // namespace internal

template <class T>
class RegistryServerChain : public RegistryServer<T> {
 public:
  using Elements = std::vector<std::shared_ptr<RegistryServer<T>>>;
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  // Null elements are left out (optional slots).
  explicit RegistryServerChain(Elements elements)
      : elements_(std::make_shared<const Elements>(internal::WithoutNulls(std::move(elements)))),
        tail_start_(Start(Next())) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override {
    return Begin(next).Register(ctx, item);
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s,
                    const Next& next) override {
    return Begin(next).Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override {
    return Begin(next).Unregister(ctx, item);
  }
  absl::StatusOr<Item> Register(const Context& ctx, Item& item) {
    return Register(ctx, item, Next());
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s) {
    return Find(ctx, q, s, Next());
  }
  absl::Status Unregister(const Context& ctx, Item& item) { return Unregister(ctx, item, Next()); }

 private:
  Next Start(const Next& parent) const {
    if (elements_->empty()) return parent;
    return Next(std::make_shared<internal::RegistryServerChainLink<T>>(elements_, 0, parent));
  }
  Next Begin(const Next& parent) const { return parent.is_tail() ? tail_start_ : Start(parent); }
  std::shared_ptr<const Elements> elements_;
  Next tail_start_;
};

template <class T>
class RegistryClientChain : public RegistryClient<T> {
 public:
  using Elements = std::vector<std::shared_ptr<RegistryClient<T>>>;
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;

  // Null elements are left out (optional slots).
  explicit RegistryClientChain(Elements elements)
      : elements_(std::make_shared<const Elements>(internal::WithoutNulls(std::move(elements)))),
        tail_start_(Start(Next())) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                const CallOptions& opts) override {
    return Begin(next).Register(ctx, item, opts);
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s, const Next& next,
                    const CallOptions& opts) override {
    return Begin(next).Find(ctx, q, s, opts);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                          const CallOptions& opts) override {
    return Begin(next).Unregister(ctx, item, opts);
  }
  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const CallOptions& opts = {}) {
    return Register(ctx, item, Next(), opts);
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s,
                    const CallOptions& opts = {}) {
    return Find(ctx, q, s, Next(), opts);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const CallOptions& opts = {}) {
    return Unregister(ctx, item, Next(), opts);
  }

 private:
  Next Start(const Next& parent) const {
    if (elements_->empty()) return parent;
    return Next(std::make_shared<internal::RegistryClientChainLink<T>>(elements_, 0, parent));
  }
  Next Begin(const Next& parent) const { return parent.is_tail() ? tail_start_ : Start(parent); }
  std::shared_ptr<const Elements> elements_;
  Next tail_start_;
};

using NSRegistryServerChain = RegistryServerChain<NSTraits>;
using NSERegistryServerChain = RegistryServerChain<NSETraits>;
using NSRegistryClientChain = RegistryClientChain<NSTraits>;
using NSERegistryClientChain = RegistryClientChain<NSETraits>;

template <class T>
class RegistryClientToServer : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;
  explicit RegistryClientToServer(std::shared_ptr<RegistryClient<T>> c) : client_(std::move(c)) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override {
    return client_->Register(ctx, item, Bridge(next), CallOptions{});
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s,
                    const Next& next) override {
    return client_->Find(ctx, q, s, Bridge(next), CallOptions{});
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override {
    return client_->Unregister(ctx, item, Bridge(next), CallOptions{});
  }

 private:
  static RegistryClientNext<T> Bridge(const Next& next) {
    return RegistryClientNext<T>(std::make_shared<internal::RegistryServerAsClientLink<T>>(next));
  }
  std::shared_ptr<RegistryClient<T>> client_;
};

template <class T>
class RegistryServerToClient : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;
  explicit RegistryServerToClient(std::shared_ptr<RegistryServer<T>> s) : server_(std::move(s)) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                const CallOptions& opts) override {
    return server_->Register(ctx, item, Bridge(next, opts));
  }
  absl::Status Find(const Context& ctx, const Query& q, const Stream& s, const Next& next,
                    const CallOptions& opts) override {
    return server_->Find(ctx, q, s, Bridge(next, opts));
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                          const CallOptions& opts) override {
    return server_->Unregister(ctx, item, Bridge(next, opts));
  }

 private:
  static RegistryServerNext<T> Bridge(const Next& next, const CallOptions& opts) {
    return RegistryServerNext<T>(
        std::make_shared<internal::RegistryClientAsServerLink<T>>(next, opts));
  }
  std::shared_ptr<RegistryServer<T>> server_;
};

// A FindStream that buffers without bound and lets a reader pull: for tests, tools and callers
// that want Find results as a list. Its context is the given one plus its own cancellation.
template <class Response>
class BufferedFindStream : public FindStream<Response> {
 public:
  static std::shared_ptr<BufferedFindStream> Create(const Context& ctx) {
    return std::shared_ptr<BufferedFindStream>(new BufferedFindStream(ctx));
  }
  const Context& context() const override { return ctx_; }
  absl::Status Send(const Response& response) override { return Send(Response(response)); }
  absl::Status Send(Response&& response) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return absl::FailedPreconditionError("find stream already finished");
    if (ctx_.cancelled()) return ctx_.Err();
    items_.push_back(std::move(response));
    return absl::OkStatus();
  }
  void Finish(absl::Status status) override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      status_ = std::move(status);
    }
    cancel_();
  }
  void Reopened() override { ++reopened_; }
  // Times a watch below was opened again after a break.
  int reopened() const { return reopened_.load(); }
  // Next item; nullopt at the end of a finished stream (its status in final_status()), or when
  // `timeout` (real time) passes with nothing to read.
  std::optional<Response> Recv(absl::Duration timeout = absl::InfiniteDuration()) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ || !items_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (items_.empty()) return std::nullopt;
    Response r = std::move(items_.front());
    items_.pop_front();
    return r;
  }
  // Everything buffered so far.
  std::vector<Response> Drain() {
    absl::MutexLock lock(&mu_);
    std::vector<Response> out(std::make_move_iterator(items_.begin()),
                              std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }
  bool finished() const {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  absl::Status final_status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void Cancel() { cancel_(); }

 private:
  explicit BufferedFindStream(const Context& parent) {
    auto [c, cancel] = parent.WithCancel();
    ctx_ = c;
    cancel_ = cancel;
  }
  Context ctx_;
  Context::CancelFunc cancel_;
  mutable absl::Mutex mu_;
  std::deque<Response> items_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> reopened_{0};
};

}  // namespace nsm

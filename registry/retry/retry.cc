#include "registry/retry/retry.h"

#include "registry/matchutils/items.h"

namespace nsm::reg::retry {
namespace {

// Runs `attempt(attempt_ctx)` until it succeeds, fails for good, or `ctx` ends.
template <class R, class F>
R Retry(const Context& ctx, const Options& options, F attempt) {
  Backoff backoff(options.backoff);
  for (;;) {
    R result = [&] {
      auto [actx, cancel] = ctx.WithTimeout(options.attempt_timeout);
      R r = attempt(actx);
      cancel();
      return r;
    }();  // the attempt's deadline timer is gone before the wait below
    const absl::Status& s = [&]() -> const absl::Status& {
      if constexpr (std::is_same_v<R, absl::Status>) {
        return result;
      } else {
        return result.status();
      }
    }();
    if (s.ok() || !Retryable(s) || ctx.cancelled()) return result;
    if (!WaitFor(ctx, backoff.Next()).ok()) return result;
  }
}

}  // namespace

template <class T>
auto Client<T>::Register(const Context& ctx, Item& item, const Next& next, const CallOptions& opts)
    -> absl::StatusOr<Item> {
  return Retry<absl::StatusOr<Item>>(ctx, options_, [&](const Context& actx) {
    Item copy = item;  // each attempt starts from the caller's item
    return next.Register(actx, copy, opts);
  });
}

template <class T>
absl::Status Client<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next, const CallOptions& opts) {
  if (query.watch()) return next.Find(ctx, query, stream, opts);
  // Results of a failed attempt may already be in the stream; a retry may send them again.
  return Retry<absl::Status>(
      ctx, options_, [&](const Context& actx) { return next.Find(actx, query, stream, opts); });
}

template <class T>
absl::Status Client<T>::Unregister(const Context& ctx, Item& item, const Next& next,
                                   const CallOptions& opts) {
  return Retry<absl::Status>(ctx, options_, [&](const Context& actx) {
    Item copy = item;
    return next.Unregister(actx, copy, opts);
  });
}

template class Client<NSTraits>;
template class Client<NSETraits>;

}  // namespace nsm::reg::retry

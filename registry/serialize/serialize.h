// serialize: Register and Unregister of one name run one at a time in arrival order; the per-name
// executor travels in the context for later elements' timer work (registry.md §3.2).
#pragma once

#include <memory>
#include <string>

#include "core/executor.h"
#include "core/registry.h"
#include "core/typed_key.h"

namespace nsm::reg::serialize {

inline const TypedKey<MultiExecutor> kExecutorKey{"registry.serialize.executor"};

// The per-name executor placed in the context by serialize; null outside a serialized call.
inline std::shared_ptr<MultiExecutor> ExecutorFromContext(const Context& ctx) {
  return ctx.Value(kExecutorKey);
}

// Find passes through. A call whose context ended while it waited for its turn returns the
// context's error without reaching the rest of the chain.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(std::shared_ptr<MultiExecutor> executor = std::make_shared<MultiExecutor>())
      : executor_(std::move(executor)) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override {
    absl::StatusOr<Item> result = absl::UnknownError("serialize: not run");
    executor_->RunSync(item.name(), [&] {
      if (ctx.cancelled()) {
        result = ctx.Err();
        return;
      }
      result = next.Register(ctx.WithValue(kExecutorKey, executor_), item);
    });
    return result;
  }
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override {
    return next.Find(ctx, query, stream);
  }
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override {
    absl::Status result;
    executor_->RunSync(item.name(), [&] {
      if (ctx.cancelled()) {
        result = ctx.Err();
        return;
      }
      result = next.Unregister(ctx.WithValue(kExecutorKey, executor_), item);
    });
    return result;
  }

  const std::shared_ptr<MultiExecutor>& executor() const { return executor_; }

 private:
  std::shared_ptr<MultiExecutor> executor_;
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer() { return std::make_shared<NSServer>(); }
inline std::shared_ptr<NSEServer> NewNSEServer() { return std::make_shared<NSEServer>(); }

}  // namespace nsm::reg::serialize

// begin's event factory: lets elements after begin (timeout, refresh, heal) inject a Request or
// Close for their connection, serialized with the connection's other events (chain-model.md §5.3).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "core/context.h"
#include "core/executor.h"
#include "core/typed_key.h"

namespace nsm::begin {

struct EventOptions {
  // Skip the event if this context is cancelled by the time the event's turn comes.
  std::optional<Context> cancel_ctx = std::nullopt;
  // Request only, client side: Close the current connection first (errors ignored), then clear
  // its mechanism and endpoint name so the rest of the chain selects again.
  bool reselect = false;
  // Adds values to the event's context, e.g. so an element recognises its own events (refresh and
  // heal tag theirs). Applied after the event factory is attached.
  std::function<Context(const Context&)> decorate = nullptr;
};

class EventFactory {
 public:
  virtual ~EventFactory() = default;
  // Re-runs the rest of the chain after begin with the last successful request. Does nothing
  // (completes OK) when the connection is not established (anymore).
  virtual std::shared_ptr<Completion> Request(EventOptions opts = {}) = 0;
  // Closes the connection through the rest of the chain and forgets it.
  virtual std::shared_ptr<Completion> Close(EventOptions opts = {}) = 0;
};

inline const TypedKey<EventFactory> kEventFactoryKey{"begin.event_factory"};

// The factory of the connection being processed; null outside a chain with begin.
inline std::shared_ptr<EventFactory> FromContext(const Context& ctx) {
  return ctx.Value(kEventFactoryKey);
}

}  // namespace nsm::begin

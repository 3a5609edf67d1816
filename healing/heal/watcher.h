// heal watcher: how heal hears about its connection at the next hop, a MonitorConnections stream
// per connection read by a callback reactor, or an in-process hop's store (nsmgr.md §4.4, §7.2).
#pragma once

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "core/networkservice.h"
#include "networkservice/monitor/store.h"

namespace nsm::healing::heal {

// What the next hop says about the connection, in this hop's view.
struct WatchEvent {
  enum class Kind {
    kUp,                // an UPDATE with state UP (or heal's own RESELECT_REQUESTED echoed back)
    kDown,              // state DOWN
    kDeleted,           // the next hop closed it (DELETE), or does not hold it (initial state)
    kRefreshRequested,  // state REFRESH_REQUESTED (api v1.5): Request again, same path
    kLost,              // the stream ended without this hop cancelling it
  };
  Kind kind = Kind::kUp;
  Connection conn;      // this hop's connection with the next hop's path, context and state
  absl::Status status;  // kLost: how the stream ended; kDeleted: why, when not a DELETE
};

// Called on the watcher's threads; must be short and must not block or cancel its own watch.
using WatchSink = std::function<void(const WatchEvent&)>;

// One connection's subscription. Cancel it when done: a stream may outlive the last reference
// until it has ended.
class Watch {
 public:
  virtual ~Watch() = default;
  // Idempotent and non-blocking. When it returns the sink is not called any more.
  virtual void Cancel() = 0;
  // Not cancelled and the stream has not ended.
  virtual bool active() const = 0;
  // After a successful refresh through `ctx`: if this watch still serves the connection (same next
  // hop, same segment), takes `conn` as the new base and returns true; false means start another.
  virtual bool Rebase(const Context& ctx, const Connection& conn) = 0;
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Starts watching `conn`, the answer of a successful Request through `ctx` (its client metadata
  // says which next hop was used). Null when the next hop cannot be watched from here.
  virtual std::shared_ptr<Watch> Start(const Context& ctx, const Connection& conn,
                                       WatchSink sink) = 0;
  // Watches not yet ended (tests and metrics).
  virtual size_t open() const = 0;
};

// MonitorConnections on the channel dial kept in the connection's client metadata, with selector
// [{name, id} of this hop's segment]; one stream per connection, read by a gRPC callback reactor
// (no thread per stream). A next hop without the MonitorConnection service (UNIMPLEMENTED) leaves
// the connection unwatched; any other end of the stream not caused by Cancel is kLost.
std::shared_ptr<Watcher> NewGrpcWatcher();

// Subscribes to an in-process next hop's store (tests and in-process chains). The store shutting
// down or dropping a slow subscriber is kLost.
std::shared_ptr<Watcher> NewStoreWatcher(std::shared_ptr<monitor::ConnectionStore> store);

}  // namespace nsm::healing::heal

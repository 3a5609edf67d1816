// registry metrics element: counts Register, Find and Unregister of an NS or NSE registry chain
// by result and keeps the open watch streams gauge (issue #8, docs/metrics.md).
#include "registry/metrics/server.h"

namespace nsm::reg::metrics {
namespace {

// One open watch in the gauge; leaves it when destroyed.
class Watch {
 public:
  explicit Watch(prometheus::Gauge& gauge) : gauge_(gauge) { gauge_.Increment(); }
  ~Watch() { gauge_.Decrement(); }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

 private:
  prometheus::Gauge& gauge_;
};

// Counts the watch until `ctx` ends. The cancel callback owns the Watch and its own registration,
// so the gauge goes down when the context is cancelled (callbacks run, then are destroyed) or,
// should it never be, when the cancel state itself is destroyed.
void HoldUntilCancelled(const Context& ctx, prometheus::Gauge& gauge) {
  const auto& state = ctx.cancel_state();
  if (state == nullptr) return;  // never cancelled: not a stream we can follow
  auto watch = std::make_shared<Watch>(gauge);
  auto registration = std::make_shared<std::unique_ptr<CancelState::Registration>>();
  *registration = state->OnCancel([watch, registration] {});
}

}  // namespace

template <class T>
absl::StatusOr<typename Server<T>::Item> Server<T>::Register(const Context& ctx, Item& item,
                                                             const Next& next) {
  auto result = next.Register(ctx, item);
  stats_->Registers(registry_, result.status()).Increment();
  return result;
}

template <class T>
absl::Status Server<T>::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  absl::Status s = next.Find(ctx, query, stream);
  stats_->Finds(registry_, query.watch(), s).Increment();
  if (s.ok() && query.watch())
    HoldUntilCancelled(stream->context(), stats_->WatchStreams(registry_));
  return s;
}

template <class T>
absl::Status Server<T>::Unregister(const Context& ctx, Item& item, const Next& next) {
  absl::Status s = next.Unregister(ctx, item);
  stats_->Unregisters(registry_, s).Increment();
  return s;
}

template class Server<NSTraits>;
template class Server<NSETraits>;

std::shared_ptr<RegistryServer<NSTraits>> NewNSServer(std::shared_ptr<RegistryStats> stats) {
  if (stats == nullptr) return nullptr;
  return std::make_shared<Server<NSTraits>>(std::move(stats), "ns");
}

std::shared_ptr<RegistryServer<NSETraits>> NewNSEServer(std::shared_ptr<RegistryStats> stats) {
  if (stats == nullptr) return nullptr;
  return std::make_shared<Server<NSETraits>>(std::move(stats), "nse");
}

}  // namespace nsm::reg::metrics

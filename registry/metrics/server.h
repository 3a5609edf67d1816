// registry metrics element: counts Register, Find and Unregister of an NS or NSE registry chain
// by result and keeps the open watch streams gauge (issue #8, docs/metrics.md).
#pragma once

#include <memory>

#include "core/registry.h"
#include "registry/metrics/stats.h"

namespace nsm::reg::metrics {

// Put first in the chain (so refused calls count too). Register and Unregister: counted with
// their result. Find: counted with watch and result; a watch that was set up (OK) adds one to
// nsm_registry_watch_streams until the stream's context ends (the receiver went away or the
// stream was finished).
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  Server(std::shared_ptr<RegistryStats> stats, std::string registry)
      : stats_(std::move(stats)), registry_(std::move(registry)) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

 private:
  std::shared_ptr<RegistryStats> stats_;
  std::string registry_;
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;

// Null stats: null (no element; chain builders drop null elements).
std::shared_ptr<RegistryServer<NSTraits>> NewNSServer(std::shared_ptr<RegistryStats> stats);
std::shared_ptr<RegistryServer<NSETraits>> NewNSEServer(std::shared_ptr<RegistryStats> stats);

}  // namespace nsm::reg::metrics

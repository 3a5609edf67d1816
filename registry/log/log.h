// log (registry): one debug line per Register, Find and Unregister passing this point of a
// registry chain, with the name, services, URL, outcome and duration (issue #8 Logs).
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/registry.h"

namespace nsm::reg::logging {

struct Options {
  // The component of the lines, e.g. "registry/nse".
  std::string component = "registry";
  // nullptr: the process logger (log::Default()).
  log::Logger* logger = nullptr;
  // Measures the duration; nullptr: the real clock.
  std::shared_ptr<Clock> clock = nullptr;
};

// With debug off: one level check, then next. With debug on, after next returns: "register",
// "find" or "unregister" with fields name, services (NSE: comma-separated; NS: the name), url
// (NSE), watch (find), outcome ("ok" or the gRPC code name), error and duration. A watch Find
// is logged when it is set up (it returns at once), not when the stream ends.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(Options options);
  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

 private:
  log::Logger& logger() const { return options_.logger ? *options_.logger : log::Default(); }
  Options options_;
};

using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(Options options = {}) {
  return std::make_shared<NSServer>(std::move(options));
}
inline std::shared_ptr<NSEServer> NewNSEServer(Options options = {}) {
  return std::make_shared<NSEServer>(std::move(options));
}

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;

}  // namespace nsm::reg::logging

// localbypass: local endpoints are registered upstream with this nsmgr's URL, while local callers
// get the endpoints' own URLs back (nsmgr.md §10.1 step 7, §10.2, with the fix of §13.5).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/registry.h"

namespace nsm::reg::localbypass {

// Register: the endpoint's URL must parse as an NSM URL (else INVALID_ARGUMENT naming the field
// and the value, nothing remembered, next not called). name -> real URL is remembered (a changed
// URL replaces the old one, §13.5), the rest of the chain sees the nsmgr URL, and the response
// carries the real URL again. If next fails a new mapping is forgotten and a changed one restored.
// Unregister: a local endpoint reaches the rest of the chain with the nsmgr URL and is forgotten
// (whatever next answers); other names pass through unchanged.
// Find: results carrying the nsmgr URL get the real URL of the local endpoint of that name; such
// results for names unknown here (registered through this nsmgr before a restart) are dropped,
// except deletions. Results with other URLs pass unchanged.
// With `local_store_first` (the nsmgr: its memory store of local endpoints and forwarders sits
// before this element and answers Finds for them itself), results from next carrying the nsmgr
// URL are dropped, deletions too, so a caller sees each local endpoint once, with its own URL.
// State is one entry per local endpoint; it ends with the endpoint's Unregister (the nsmgr's
// expire element unregisters expired endpoints through this element).
struct Options {
  bool local_store_first = false;
};

class NSEServer : public NSERegistryServer {
 public:
  explicit NSEServer(std::string nsmgr_url, Options options = {});

  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next) override;

  // The real URL of the local endpoint `name`; nullopt when it is not local.
  std::optional<std::string> LocalUrl(const std::string& name) const;
  // Number of local endpoints remembered.
  size_t size() const;
  const std::string& nsmgr_url() const { return nsmgr_url_; }

 private:
  struct State;
  class BypassStream;
  const std::string nsmgr_url_;
  const Options options_;
  std::shared_ptr<State> state_;  // shared with the Find streams, which may outlive a call
};

inline std::shared_ptr<NSEServer> NewNSEServer(std::string nsmgr_url, Options options = {}) {
  return std::make_shared<NSEServer>(std::move(nsmgr_url), options);
}

}  // namespace nsm::reg::localbypass

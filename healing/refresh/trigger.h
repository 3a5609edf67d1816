// The hook through which refresh hands a connection to heal after repeated refresh failures; heal
// keeps one per connection in the client metadata (DESIGN.md §7; nsmgr.md §7.2, §8.1).
#pragma once

#include "absl/status/status.h"
#include "core/typed_key.h"

namespace nsm::healing {

class HealTrigger {
 public:
  virtual ~HealTrigger() = default;
  // Starts healing the connection unless it is already healing or closed. Never blocks: the heal
  // work runs later as begin events. `cause` says why (for logs and the heal observer).
  virtual void StartHeal(const absl::Status& cause) = 0;
};

// Where heal puts a connection's trigger in its client metadata (metadata::MetaData::client).
inline const TypedKey<HealTrigger> kHealTriggerKey{"healing.trigger"};

}  // namespace nsm::healing

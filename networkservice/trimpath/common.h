// trimpath's "don't trim" mark, put in the client metadata by the client and consumed by the
// server (chain-model.md §5.5).
#pragma once

#include "core/typed_key.h"

namespace nsm::trimpath {

struct DontTrim {};
inline const TypedKey<DontTrim> kDontTrimKey{"trimpath.dont_trim"};

}  // namespace nsm::trimpath

// clienturl: the next hop's URL in the context (read by dial and connect), and the elements that
// put a fixed URL there (nsmgr.md §3.2 C6, chain-model.md §4.1 "client URL").
#pragma once

#include <memory>

#include "api/nsm_url.h"
#include "core/context.h"
#include "core/typed_key.h"

namespace nsm::clienturl {

// Set by clienturl, discover and roundrobin; read by dial (connect/dial.h).
inline const TypedKey<api::NsmUrl> kClientUrlKey{"clienturl"};

inline Context WithClientUrl(const Context& ctx, api::NsmUrl url) {
  return ctx.WithValue(kClientUrlKey, std::make_shared<api::NsmUrl>(std::move(url)));
}

// The URL the rest of the chain should dial; null when nothing chose one yet.
inline std::shared_ptr<api::NsmUrl> FromContext(const Context& ctx) {
  return ctx.Value(kClientUrlKey);
}

}  // namespace nsm::clienturl

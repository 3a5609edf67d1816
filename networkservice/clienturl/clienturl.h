// clienturl: the next hop's URL in the context (read by dial and connect), and the elements that
// put a fixed URL there (nsmgr.md §3.2 C6, chain-model.md §4.1 "client URL").
#pragma once

#include <memory>
#include <string>

#include "api/nsm_url.h"
#include "core/context.h"
#include "core/typed_key.h"

namespace nsm::clienturl {

// Set by clienturl, discover and roundrobin; read by dial (connect/dial.h).
inline const TypedKey<api::NsmUrl> kClientUrlKey{"clienturl"};

// The name of the hop at that URL (a forwarder, an endpoint), when the chooser knows it: dial
// names the hop in its "unreachable" errors (MarkNextHopUnreachable).
inline const TypedKey<std::string> kNextHopNameKey{"clienturl.name"};

inline Context WithClientUrl(const Context& ctx, api::NsmUrl url, std::string name = "") {
  Context out = ctx.WithValue(kClientUrlKey, std::make_shared<api::NsmUrl>(std::move(url)));
  if (name.empty() && !ctx.Value(kNextHopNameKey)) return out;
  return out.WithValue(kNextHopNameKey, std::make_shared<std::string>(std::move(name)));
}

// The URL the rest of the chain should dial; null when nothing chose one yet.
inline std::shared_ptr<api::NsmUrl> FromContext(const Context& ctx) {
  return ctx.Value(kClientUrlKey);
}

// The name given with the URL; empty when none was.
inline std::string NextHopName(const Context& ctx) {
  auto name = ctx.Value(kNextHopNameKey);
  return name ? *name : std::string();
}

}  // namespace nsm::clienturl

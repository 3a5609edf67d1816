// updatetoken internals shared by the server and the client: the caller's token from the request
// metadata, a fresh token for the hop's own segment, and the metadata a client sends (api.md §7.2).
#pragma once

#include "absl/status/status.h"
#include "core/context.h"
#include "core/networkservice.h"
#include "core/token.h"

namespace nsm::updatetoken {

// When the connection has a previous segment and the incoming metadata carries exactly one
// nsm-client-token and exactly one valid nsm-client-token-expires, writes them into the previous
// segment and returns true. Otherwise (no previous segment, missing, repeated or malformed values,
// e.g. an event without a caller) leaves the connection unchanged and returns false.
bool TakeCallerToken(const Context& ctx, Connection& conn);

// Writes a token from `tokens` for `peer` into the segment at path.index. InvalidArgument
// "NetworkServiceRequest.Connection.Path.Index(i) >= len(...PathSegments)(n)" when there is no such
// segment; a generator error is returned with its code. On error the connection is unchanged.
absl::Status SetOwnToken(const TokenGenerator* tokens, const Peer& peer, Connection& conn,
                         Token* issued = nullptr);

// `opts` plus the two token headers for `token`.
CallOptions WithTokenMetadata(const CallOptions& opts, const Token& token);

}  // namespace nsm::updatetoken

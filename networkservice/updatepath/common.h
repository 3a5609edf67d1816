// updatepath: gives every hop its own path segment and connection id, and hands the connection
// back in the caller's frame (chain-model.md §5.1, api.md §7.1).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/networkservice.h"

namespace nsm::updatepath {

// A random (version 4) UUID in the canonical 8-4-4-4-12 lower-case form.
std::string NewUuid();

// Applies chain-model.md §5.1 to `conn` for the hop `name`: afterwards path.index points at the
// hop's own segment and conn.id is that segment's id. Returns the caller's index (the hop's own
// index when the path was empty or already pointed at the hop). Errors are InvalidArgument with
// the spec's messages; `conn` is unchanged on error.
absl::StatusOr<uint32_t> UpdatePath(Connection& conn, absl::string_view name);

// The return path: conn.path.index = caller_index and conn.id = that segment's id. Internal error
// (conn unchanged) when the returned path has no segment at caller_index.
absl::Status RestoreCallerFrame(Connection& conn, uint32_t caller_index);

}  // namespace nsm::updatepath

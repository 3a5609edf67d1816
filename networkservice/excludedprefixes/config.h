// excludedprefixes' config file: the `prefixes:` list of NSM's excluded_prefixes.yaml, read with a
// small parser for the YAML subset such files use (nsmgr.md §4.6).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nsm::excludedprefixes {

// Accepts a top-level mapping whose `prefixes` key (matched case-insensitively, as Go's decoder
// does) holds a block list ("- 10.0.0.0/8", indented or not) or a flow list ("[a, 'b']"), with
// plain, 'single' or "double" quoted items, comments, blank lines and a leading "---". Other
// top-level keys are skipped. An empty document, a missing key, `prefixes:` alone, `~`/`null`
// and `[]` all mean no prefixes. Anything else is InvalidArgument naming the line.
absl::StatusOr<std::vector<std::string>> ParsePrefixesYaml(absl::string_view text);

}  // namespace nsm::excludedprefixes

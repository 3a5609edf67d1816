// Label selectors: IsSubset(have, want, vars) with Go text/template-style "{{.key}}" values
// evaluated against the connection labels (api.md §8; nsmgr.md §6.3).
#pragma once

#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace nsm::api {

// Go text/template prints this for a key missing from a map.
inline constexpr char kNoValue[] = "<no value>";

// Looks a template variable up: the value, or nullopt when the key is absent.
using LabelLookup = absl::FunctionRef<std::optional<absl::string_view>(absl::string_view key)>;

// Renders `tmpl` the way Go's text/template does with a map[string]string as data, for the subset
// NSM uses: literal text, field actions "{{.key}}" / "{{ .key }}" (a key missing from the map
// renders "<no value>"), trim markers "{{- " and " -}}", and comments "{{/* ... */}}". Anything
// else (pipelines, functions, "{{.}}", chained fields, control actions) and malformed templates
// give InvalidArgument naming the template, the offset and the problem.
absl::StatusOr<std::string> RenderLabelTemplateWith(absl::string_view tmpl, LabelLookup vars);

// As RenderLabelTemplateWith, with any map keyed by std::string whose values convert to
// absl::string_view (google::protobuf::Map, std::map, absl::flat_hash_map, ...).
template <typename Map>
absl::StatusOr<std::string> RenderLabelTemplate(absl::string_view tmpl, const Map& vars) {
  return RenderLabelTemplateWith(
      tmpl, [&vars](absl::string_view key) -> std::optional<absl::string_view> {
        auto it = vars.find(std::string(key));
        if (it == vars.end()) return std::nullopt;
        return absl::string_view(it->second);
      });
}

// "want ⊆ have" (api.md §8): false if `have` has fewer entries than `want`; otherwise each
// want[k] must equal have[k] (a missing key reads as ""), where a value that differs is rendered
// as a template against `vars` and compared again; a template that fails to render is compared
// literally. An empty `want` is a subset of everything.
template <typename Have, typename Want, typename Vars>
bool IsSubset(const Have& have, const Want& want, const Vars& vars) {
  if (have.size() < want.size()) return false;
  for (const auto& [key, value] : want) {
    auto it = have.find(key);
    const absl::string_view got = it == have.end() ? absl::string_view() : it->second;
    const absl::string_view wanted = value;
    if (got == wanted) continue;
    if (!absl::StrContains(wanted, "{{")) return false;  // no action: renders to itself
    absl::StatusOr<std::string> rendered = RenderLabelTemplate(wanted, vars);
    if (!rendered.ok() || *rendered != got) return false;
  }
  return true;
}

}  // namespace nsm::api

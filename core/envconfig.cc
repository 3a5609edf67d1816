#include "core/envconfig.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/nsm_url.h"

namespace nsm::env {

Variable LogLevelVariable(const char* name) {
  return {name, "string", "INFO",
          "panic, fatal, error, warn, info, debug or trace; SIGUSR1 / SIGUSR2 step it up / down "
          "while running"};
}

Variable LogFormatVariable(const char* name) {
  return {name, "string", "text",
          "text (timestamp [LEVEL] component: message key=value...) or json (one JSON object per "
          "line: time, level, component, msg and the fields; docs/logging.md)"};
}

Getenv ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Getenv FromMap(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<Value> Reader::Read(const Variable& v) const {
  if (!v.prefixed || prefixes_.empty()) {
    if (auto value = getenv_(v.name)) return Value{v.name, *value, true};
    return Value{v.name, v.default_value, false};
  }
  std::optional<Value> found;
  for (const auto& prefix : prefixes_) {
    const std::string name = absl::StrCat(prefix, v.name);
    auto value = getenv_(name);
    if (!value) continue;
    if (found && found->value != *value) {
      return absl::InvalidArgumentError(absl::StrCat(found->variable, "=\"", found->value,
                                                     "\" and ", name, "=\"", *value,
                                                     "\" disagree: set only one of them"));
    }
    if (!found) found = Value{name, *value, true};
  }
  if (found) return *found;
  return Value{absl::StrCat(prefixes_.front(), v.name), v.default_value, false};
}

absl::Status Invalid(const Value& v, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(v.variable, "=\"", v.value, "\" is invalid: ", why));
}

absl::StatusOr<absl::Duration> ParseDuration(const Value& v) {
  if (v.value.empty()) return absl::ZeroDuration();
  absl::Duration d;
  if (!absl::ParseDuration(v.value, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return Invalid(v, "want a duration such as 100ms, 30s, 1m or 1h30m");
  }
  return d;
}

absl::StatusOr<bool> ParseBool(const Value& v) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (v.value == t) return true;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (v.value == f) return false;
  }
  return Invalid(v, "want true or false");
}

absl::StatusOr<std::string> ParseUrl(const Value& v, bool listen) {
  auto url = api::ParseNsmUrl(v.value);
  if (!url.ok()) return Invalid(v, url.status().message());
  auto target = listen ? url->GrpcListenAddress() : url->GrpcDialTarget();
  if (!target.ok()) return Invalid(v, target.status().message());
  return url->ToString();
}

absl::StatusOr<std::vector<std::string>> ParseUrlList(const Value& v, bool listen) {
  if (v.value.empty()) return Invalid(v, "no URL given");
  std::vector<std::string> urls;
  for (absl::string_view item : absl::StrSplit(v.value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) return Invalid(v, "empty item in the list");
    auto url = ParseUrl(Value{v.variable, std::string(item), true}, listen);
    if (!url.ok()) return Invalid(v, absl::StrCat("\"", item, "\": ", url.status().message()));
    urls.push_back(*url);
  }
  return urls;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const Value& v) {
  std::map<std::string, std::string> labels;
  if (absl::StripAsciiWhitespace(v.value).empty()) return labels;
  for (absl::string_view item : absl::StrSplit(v.value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    // envconfig's map form is key:value; key=value is accepted too. The first of either splits.
    const size_t sep = item.find_first_of(":=");
    absl::string_view key =
        absl::StripAsciiWhitespace(item.substr(0, sep == absl::string_view::npos ? 0 : sep));
    if (sep == absl::string_view::npos || key.empty()) {
      return Invalid(v, absl::StrCat("\"", item, "\" is not key:value"));
    }
    labels[std::string(key)] = std::string(absl::StripAsciiWhitespace(item.substr(sep + 1)));
  }
  return labels;
}

std::string HelpText(absl::string_view intro, const std::vector<Variable>& vars,
                     const std::vector<std::string>& prefixes, absl::string_view outro) {
  std::string out = absl::StrCat(intro, "\nEnvironment variables:\n");
  for (const auto& v : vars) {
    std::vector<std::string> names;
    if (v.prefixed && !prefixes.empty()) {
      for (const auto& p : prefixes) names.push_back(absl::StrCat(p, v.name));
    } else {
      names.push_back(v.name);
    }
    const std::string def = *v.default_value ? v.default_value : "(empty)";
    absl::StrAppend(&out, "  ", absl::StrJoin(names, ", "), "\n      type ", v.type, ", default ",
                    def, "\n      ", v.description, "\n");
  }
  absl::StrAppend(&out, outro);
  return out;
}

}  // namespace nsm::env

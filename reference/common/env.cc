#include "reference/common/env.h"

#include <arpa/inet.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/envconfig.h"

namespace nsm::reference {

Getenv ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Getenv MapEnvironment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvReader::EnvReader(Getenv getenv, const std::vector<Variable>& variables)
    : getenv_(std::move(getenv)), variables_(variables) {}

const Variable* EnvReader::Find(absl::string_view name) const {
  for (const auto& v : variables_) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

void EnvReader::Invalid(const Raw& raw, absl::string_view why) {
  if (!status_.ok()) return;
  status_ = absl::InvalidArgumentError(
      absl::StrCat(raw.variable, "=\"", raw.value, "\" is invalid: ", why));
}

void EnvReader::Fail(absl::string_view name, absl::string_view why) { Invalid(Read(name), why); }

EnvReader::Raw EnvReader::Read(absl::string_view name) {
  const Variable* v = Find(name);
  if (v == nullptr) {
    // A programming error: every variable read must be declared (and so listed by --help).
    if (status_.ok()) {
      status_ = absl::InternalError(absl::StrCat("variable ", name, " is not declared"));
    }
    return Raw{std::string(name), "", false};
  }
  std::vector<std::string> names{v->name};
  names.insert(names.end(), v->aliases.begin(), v->aliases.end());
  std::vector<Raw> set;
  for (const std::string& n : names) {
    if (auto value = getenv_(n)) set.push_back(Raw{n, *value, true});
  }
  if (set.empty()) return Raw{v->name, v->default_value, false};
  for (const Raw& other : set) {
    if (other.value != set[0].value && status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(set[0].variable, "=\"", set[0].value, "\" and ", other.variable, "=\"",
                       other.value, "\" disagree: set only one of them"));
    }
  }
  return set[0];
}

std::string EnvReader::String(absl::string_view name) { return Read(name).value; }

void EnvReader::Keep(const absl::Status& s) {
  if (status_.ok() && !s.ok()) status_ = s;
}

absl::Duration EnvReader::Duration(absl::string_view name) {
  Raw raw = Read(name);
  auto d = env::ParseDuration(env::Value{raw.variable, raw.value, raw.set});
  if (!d.ok()) {
    Keep(d.status());
    return absl::ZeroDuration();
  }
  if (*d < absl::ZeroDuration()) {
    Invalid(raw, "must not be negative");
    return absl::ZeroDuration();
  }
  return *d;
}

std::string EnvReader::Url(absl::string_view name, bool listen, bool optional) {
  Raw raw = Read(name);
  if (raw.value.empty()) {
    if (!optional) Invalid(raw, "a URL is required (unix:///path or tcp://host:port)");
    return "";
  }
  auto url = env::ParseUrl(env::Value{raw.variable, raw.value, raw.set}, listen);
  if (!url.ok()) {
    Keep(url.status());
    return "";
  }
  return *url;
}

std::vector<std::string> EnvReader::List(absl::string_view name) {
  Raw raw = Read(name);
  std::vector<std::string> out;
  if (raw.value.empty()) return out;
  for (absl::string_view item : absl::StrSplit(raw.value, ',')) {
    if (item.empty()) {
      Invalid(raw, "empty item in the comma-separated list");
      return {};
    }
    out.emplace_back(item);
  }
  return out;
}

std::map<std::string, std::string> EnvReader::Labels(absl::string_view name) {
  Raw raw = Read(name);
  std::map<std::string, std::string> out;
  if (raw.value.empty()) return out;
  for (absl::string_view pair : absl::StrSplit(raw.value, ',')) {
    const size_t sep = pair.find_first_of(":=");
    if (sep == absl::string_view::npos) {
      Invalid(raw, absl::StrCat("\"", pair, "\" is not key:value"));
      return {};
    }
    std::string key(pair.substr(0, sep));
    if (key.empty()) {
      Invalid(raw, absl::StrCat("\"", pair, "\" has an empty key"));
      return {};
    }
    if (!out.emplace(key, std::string(pair.substr(sep + 1))).second) {
      Invalid(raw, absl::StrCat("key \"", key, "\" is given twice"));
      return {};
    }
  }
  return out;
}

bool EnvReader::Bool(absl::string_view name) {
  Raw raw = Read(name);
  auto b = env::ParseBool(env::Value{raw.variable, raw.value, raw.set});
  Keep(b.status());
  return b.ok() && *b;
}

uint64_t EnvReader::Uint(absl::string_view name, uint64_t min, uint64_t max) {
  Raw raw = Read(name);
  uint64_t v = 0;
  if (!absl::SimpleAtoi(raw.value, &v) || raw.value.empty() || raw.value[0] == '+' ||
      raw.value[0] == '-') {
    Invalid(raw, absl::StrCat("want a whole number from ", min, " to ", max));
    return 0;
  }
  if (v < min || v > max) {
    Invalid(raw, absl::StrCat("out of range: want ", min, " to ", max));
    return 0;
  }
  return v;
}

std::string EnvReader::Ip(absl::string_view name, bool optional) {
  Raw raw = Read(name);
  if (raw.value.empty()) {
    if (!optional) Invalid(raw, "an IP address is required");
    return "";
  }
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, raw.value.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, text, sizeof(text));
  }
  if (inet_pton(AF_INET6, raw.value.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, text, sizeof(text));
  }
  Invalid(raw, "not an IPv4 or IPv6 address");
  return "";
}

log::Level EnvReader::LogLevel(absl::string_view name) {
  Raw raw = Read(name);
  auto level = log::ParseLevel(raw.value);
  if (!level.ok()) {
    Invalid(raw, level.status().message());
    return log::Level::kInfo;
  }
  return *level;
}

log::Format EnvReader::LogFormat(absl::string_view name) {
  Raw raw = Read(name);
  auto format = log::ParseFormat(raw.value);
  if (!format.ok()) {
    Invalid(raw, format.status().message());
    return log::Format::kText;
  }
  return *format;
}

std::string HelpText(absl::string_view intro, const std::vector<Variable>& variables,
                     absl::string_view outro) {
  std::string out = absl::StrCat(
      intro,
      "\nConfiguration comes from the environment. The default applies when a variable is unset;\n"
      "set to \"\" it means the empty value. Invalid values stop the start-up with a message\n"
      "naming the variable and the value.\n\nEnvironment variables:\n");
  for (const auto& v : variables) {
    std::string names = v.name;
    for (const auto& a : v.aliases) absl::StrAppend(&names, ", ", a);
    const std::string def = v.default_value.empty() ? "(empty)" : v.default_value;
    absl::StrAppend(&out, "  ", names, "\n      type ", v.type, ", default ", def, "\n      ",
                    v.description, "\n");
  }
  absl::StrAppend(&out, outro);
  return out;
}

}  // namespace nsm::reference

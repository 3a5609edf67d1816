#include "networkservice/excludedprefixes/config.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nsm::excludedprefixes {
namespace {

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("excluded prefixes YAML line %d: %s", line, what));
}

// Drops a comment: '#' at the start or after a blank, outside quotes.
absl::string_view StripComment(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return s.substr(0, i);
    }
  }
  return s;
}

// A scalar: quoted ('' escapes a quote; "" knows \\ \" \n \t \/) or plain.
absl::StatusOr<std::string> Scalar(absl::string_view s, int line) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty()) return LineError(line, "empty value");
  if (s.front() == '\'' || s.front() == '"') {
    const char q = s.front();
    if (s.size() < 2 || s.back() != q) return LineError(line, "unterminated quoted value");
    absl::string_view body = s.substr(1, s.size() - 2);
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
      const char c = body[i];
      if (q == '\'' && c == '\'') {
        if (i + 1 >= body.size() || body[i + 1] != '\'') {
          return LineError(line, "stray quote in a single-quoted value");
        }
        out.push_back('\'');
        ++i;
      } else if (q == '"' && c == '\\') {
        if (i + 1 >= body.size()) return LineError(line, "dangling escape in a quoted value");
        const char e = body[++i];
        switch (e) {
          case '\\':
          case '"':
          case '/':
            out.push_back(e);
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          default:
            return LineError(line, absl::StrFormat("unsupported escape \\%c", e));
        }
      } else if (q == '"' && c == '"') {
        return LineError(line, "stray quote in a double-quoted value");
      } else {
        out.push_back(c);
      }
    }
    return out;
  }
  // Plain scalars that YAML would read as something other than a string are not prefixes.
  if (s.front() == '[' || s.front() == '{' || s.front() == '&' || s.front() == '*' ||
      s.front() == '!' || s.front() == '|' || s.front() == '>' || s.front() == '-' ||
      absl::StrContains(s, ": ")) {
    return LineError(line, absl::StrFormat("\"%s\" is not a plain string", s));
  }
  return std::string(s);
}

// "[a, 'b', ...]" -> items.
absl::StatusOr<std::vector<std::string>> FlowList(absl::string_view s, int line) {
  s = absl::StripAsciiWhitespace(s);
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') {
    return LineError(line, "prefixes must be a list");
  }
  absl::string_view body = absl::StripAsciiWhitespace(s.substr(1, s.size() - 2));
  std::vector<std::string> items;
  if (body.empty()) return items;
  // Split on commas outside quotes.
  std::vector<absl::string_view> parts;
  char quote = 0;
  size_t from = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == ',') {
      parts.push_back(body.substr(from, i - from));
      from = i + 1;
    }
  }
  parts.push_back(body.substr(from));
  for (size_t i = 0; i < parts.size(); ++i) {
    if (absl::StripAsciiWhitespace(parts[i]).empty() && i + 1 == parts.size() && i > 0) break;
    absl::StatusOr<std::string> item = Scalar(parts[i], line);
    if (!item.ok()) return item.status();
    items.push_back(*std::move(item));
  }
  return items;
}

// Position of the ':' that ends a mapping key ("key:" or "key: value"), outside quotes.
std::optional<size_t> KeyColon(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ' || s[i + 1] == '\t')) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParsePrefixesYaml(absl::string_view text) {
  std::vector<std::string> prefixes;
  enum class In { kNothing, kPrefixes, kOtherKey } in = In::kNothing;
  bool seen_prefixes = false;
  constexpr size_t kUnset = absl::string_view::npos;
  size_t item_indent = kUnset;  // indentation of the first item of `prefixes`
  std::string flow;             // a flow list spanning lines, until its ']'
  int flow_line = 0;

  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t n = 0; n < lines.size(); ++n) {
    const int line = static_cast<int>(n) + 1;
    absl::string_view raw = absl::StripSuffix(lines[n], "\r");
    absl::string_view s = StripComment(raw);
    const size_t indent = s.find_first_not_of(' ');
    if (indent == absl::string_view::npos || absl::StripAsciiWhitespace(s).empty()) continue;
    if (s[indent] == '\t') return LineError(line, "tabs are not allowed for indentation");
    s = absl::StripTrailingAsciiWhitespace(s);

    if (!flow.empty()) {
      absl::StrAppend(&flow, " ", absl::StripAsciiWhitespace(s));
      if (flow.back() == ']') {
        absl::StatusOr<std::vector<std::string>> items = FlowList(flow, flow_line);
        if (!items.ok()) return items.status();
        prefixes = *std::move(items);
        flow.clear();
        in = In::kNothing;  // a flow list takes no block items
      }
      continue;
    }
    if (indent == 0 && (s == "---" || absl::StartsWith(s, "--- "))) continue;
    if (indent == 0 && s == "...") break;

    const absl::string_view body = s.substr(indent);
    const bool is_item = body == "-" || absl::StartsWith(body, "- ");
    if (is_item && (indent > 0 || in != In::kNothing)) {
      if (in == In::kOtherKey) continue;
      if (in != In::kPrefixes) return LineError(line, "a list item outside of `prefixes`");
      if (item_indent != kUnset && item_indent != indent) {
        return LineError(line, "list items of `prefixes` are not aligned");
      }
      item_indent = indent;
      absl::StatusOr<std::string> item = Scalar(body.substr(1), line);
      if (!item.ok()) return item.status();
      prefixes.push_back(*std::move(item));
      continue;
    }
    if (indent > 0) {
      if (in == In::kOtherKey) continue;
      return LineError(line, in == In::kPrefixes ? "expected a list item \"- <prefix>\""
                                                 : "unexpected indentation");
    }
    if (is_item)
      return LineError(line, "the document is a list; expected a mapping with `prefixes`");

    std::optional<size_t> colon = KeyColon(body);
    if (!colon) return LineError(line, "expected \"<key>: <value>\"");
    absl::StatusOr<std::string> key = Scalar(body.substr(0, *colon), line);
    if (!key.ok()) return key.status();
    const absl::string_view value = absl::StripAsciiWhitespace(body.substr(*colon + 1));
    if (!absl::EqualsIgnoreCase(*key, "prefixes")) {
      in = In::kOtherKey;
      continue;
    }
    if (seen_prefixes) return LineError(line, "`prefixes` is defined twice");
    seen_prefixes = true;
    in = In::kPrefixes;
    item_indent = kUnset;
    if (value.empty() || value == "~" || value == "null") continue;
    if (value.front() != '[') return LineError(line, "prefixes must be a list");
    if (value.back() != ']') {
      flow = std::string(value);
      flow_line = line;
      continue;
    }
    absl::StatusOr<std::vector<std::string>> items = FlowList(value, line);
    if (!items.ok()) return items.status();
    prefixes = *std::move(items);
    in = In::kNothing;  // a flow list takes no block items
  }
  if (!flow.empty()) return LineError(flow_line, "unterminated flow list");
  return prefixes;
}

}  // namespace nsm::excludedprefixes

#include "api/labels.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nsm::api {
namespace {

constexpr absl::string_view kLeftDelim = "{{";
constexpr absl::string_view kRightDelim = "}}";
constexpr absl::string_view kLeftComment = "/*";
constexpr absl::string_view kRightComment = "*/";

// Go's text/template treats space, tab, carriage return and newline as spaces.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsIdentStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

class TemplateRenderer {
 public:
  TemplateRenderer(absl::string_view tmpl, LabelLookup vars) : tmpl_(tmpl), vars_(vars) {}

  absl::StatusOr<std::string> Render() {
    std::string out;
    size_t pos = 0;
    bool trim_leading = false;  // the previous action ended with " -}}"
    while (pos <= tmpl_.size()) {
      const size_t open = tmpl_.find(kLeftDelim, pos);
      absl::string_view text =
          tmpl_.substr(pos, open == absl::string_view::npos ? absl::string_view::npos : open - pos);
      if (trim_leading) {
        while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
      }
      if (open != absl::string_view::npos && HasTrimMarker(open)) {
        while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      }
      out.append(text.data(), text.size());
      if (open == absl::string_view::npos) break;
      absl::StatusOr<size_t> next = Action(open, &out, &trim_leading);
      if (!next.ok()) return next.status();
      pos = *next;
    }
    return out;
  }

 private:
  absl::Status Error(size_t offset, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrFormat("template \"%s\": %s at offset %d", tmpl_, problem, offset));
  }

  // True when the action at `open` starts with the left trim marker "{{- ".
  bool HasTrimMarker(size_t open) const {
    return HasAt(open + kLeftDelim.size(), "-") && IsSpace(At(open + kLeftDelim.size() + 1));
  }

  char At(size_t i) const { return i < tmpl_.size() ? tmpl_[i] : '\0'; }
  bool HasAt(size_t i, absl::string_view s) const { return tmpl_.substr(i, s.size()) == s; }

  // Consumes the closing delimiter at `*pos` (after optional spaces): "}}", or " -}}" when at least
  // one space precedes the dash.
  absl::Status CloseAction(size_t* pos, bool* trim_leading) const {
    const size_t start = *pos;
    while (IsSpace(At(*pos))) ++*pos;
    if (*pos > start && HasAt(*pos, "-") && HasAt(*pos + 1, kRightDelim)) {
      *trim_leading = true;
      *pos += 1 + kRightDelim.size();
      return absl::OkStatus();
    }
    if (HasAt(*pos, kRightDelim)) {
      *trim_leading = false;
      *pos += kRightDelim.size();
      return absl::OkStatus();
    }
    if (*pos >= tmpl_.size()) return Error(*pos, "unclosed action");
    return Error(*pos, absl::StrFormat("unsupported text \"%c\" in action", At(*pos)));
  }

  // Renders the action starting at `open` ("{{") into `out`; returns the offset after it.
  absl::StatusOr<size_t> Action(size_t open, std::string* out, bool* trim_leading) {
    size_t pos = open + kLeftDelim.size();
    if (HasTrimMarker(open)) pos += 2;  // the preceding text was trimmed by Render
    if (HasAt(pos, kLeftComment)) {
      const size_t end = tmpl_.find(kRightComment, pos + kLeftComment.size());
      if (end == absl::string_view::npos) return Error(open, "unclosed comment");
      pos = end + kRightComment.size();
      if (!HasAt(pos, kRightDelim) && !HasAt(pos, " -}}")) {
        return Error(pos, "comment not followed by the closing delimiter");
      }
      if (absl::Status s = CloseAction(&pos, trim_leading); !s.ok()) return s;
      return pos;
    }
    while (IsSpace(At(pos))) ++pos;
    if (pos >= tmpl_.size()) return Error(open, "unclosed action");
    if (HasAt(pos, kRightDelim)) return Error(pos, "missing value in action");
    if (At(pos) != '.') {
      return Error(pos, "unsupported action (only {{.key}} is supported)");
    }
    const size_t name_start = pos + 1;
    if (!IsIdentStart(At(name_start))) {
      return Error(pos, "unsupported action (only {{.key}} is supported)");
    }
    size_t name_end = name_start;
    while (IsIdentChar(At(name_end))) ++name_end;
    if (At(name_end) == '.') return Error(name_end, "unsupported chained field");
    const absl::string_view name = tmpl_.substr(name_start, name_end - name_start);
    pos = name_end;
    if (absl::Status s = CloseAction(&pos, trim_leading); !s.ok()) return s;
    const std::optional<absl::string_view> value = vars_(name);
    if (value.has_value()) {
      out->append(value->data(), value->size());
    } else {
      out->append(kNoValue);
    }
    return pos;
  }

  absl::string_view tmpl_;
  LabelLookup vars_;
};

}  // namespace

absl::StatusOr<std::string> RenderLabelTemplateWith(absl::string_view tmpl, LabelLookup vars) {
  return TemplateRenderer(tmpl, vars).Render();
}

}  // namespace nsm::api

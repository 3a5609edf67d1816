#include "tools/bench/report.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nsm::bench {
namespace {

const char* BetterName(Better b) {
  switch (b) {
    case Better::kHigher:
      return "higher";
    case Better::kLower:
      return "lower";
    case Better::kNeither:
      break;
  }
  return "neither";
}

Better BetterFromName(const std::string& s) {
  if (s == "higher") return Better::kHigher;
  if (s == "lower") return Better::kLower;
  return Better::kNeither;
}

// Three significant digits, thousands grouped for large values.
std::string FormatValue(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1000) {
    std::string digits = absl::StrFormat("%.0f", a);
    std::string grouped;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
      grouped += digits[i];
    }
    return v < 0 ? "-" + grouped : grouped;
  }
  if (a >= 100 || v == std::round(v)) return absl::StrFormat("%.0f", v);  // whole numbers whole
  if (a >= 10) return absl::StrFormat("%.1f", v);
  if (a >= 1) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.3g", v);
}

}  // namespace

Report::Section& Report::At(const std::string& name) {
  for (auto& s : sections_) {
    if (s.name == name) return s;
  }
  sections_.push_back(Section{name, {}, {}});
  return sections_.back();
}

void Report::Add(const std::string& section, const std::string& key, double value,
                 const std::string& unit, const std::string& label, Better better) {
  Section& s = At(section);
  for (auto& f : s.figures) {
    if (f.key == key) {
      f = Figure{key, unit, label, value, better};
      return;
    }
  }
  s.figures.push_back(Figure{key, unit, label, value, better});
}

void Report::AddLatency(const std::string& section, const std::string& key,
                        const std::string& label, const LatencySummary& l, bool with_p90) {
  Add(section, key + "_p50_us", l.p50_us, "us", label + " p50", Better::kLower);
  if (with_p90) Add(section, key + "_p90_us", l.p90_us, "us", label + " p90", Better::kLower);
  Add(section, key + "_p99_us", l.p99_us, "us", label + " p99", Better::kLower);
  Add(section, key + "_max_us", l.max_us, "us", label + " max", Better::kLower);
  Add(section, key + "_count", static_cast<double>(l.count), "calls", label + " samples",
      Better::kNeither);
}

void Report::Note(const std::string& section, const std::string& text) {
  At(section).notes.push_back(text);
}

void Report::SetInfo(const std::string& key, nlohmann::json value) {
  info_[key] = std::move(value);
}

double Report::Get(const std::string& section, const std::string& key, double fallback) const {
  for (const auto& s : sections_) {
    if (s.name != section) continue;
    for (const auto& f : s.figures) {
      if (f.key == key) return f.value;
    }
  }
  return fallback;
}

void Report::PrintTable(std::FILE* out) const {
  for (const auto& s : sections_) {
    std::fprintf(out, "\n%s\n", s.name.c_str());
    for (const auto& f : s.figures) {
      std::fprintf(out, "  %-52s %14s %s\n", f.label.c_str(), FormatValue(f.value).c_str(),
                   f.unit.c_str());
    }
    for (const auto& n : s.notes) std::fprintf(out, "  * %s\n", n.c_str());
  }
  std::fflush(out);
}

nlohmann::json Report::ToJson() const {
  nlohmann::json j = info_;
  j["schema"] = "nsm-bench/1";
  nlohmann::json results = nlohmann::json::object();
  for (const auto& s : sections_) {
    nlohmann::json figures = nlohmann::json::object();
    for (const auto& f : s.figures) {
      figures[f.key] = {{"value", f.value},
                        {"unit", f.unit},
                        {"label", f.label},
                        {"better", BetterName(f.better)}};
    }
    results[s.name] = {{"figures", figures}, {"notes", s.notes}};
  }
  j["results"] = results;
  return j;
}

std::string Key(std::string name) {
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

int PrintComparison(const nlohmann::json& old_report, const nlohmann::json& new_report,
                    std::FILE* out) {
  int compared = 0;
  if (!old_report.contains("results") || !new_report.contains("results")) return 0;
  const auto& olds = old_report["results"];
  std::fprintf(out, "\ncomparison (new / old; for latency, memory and CPU lower is better)\n");
  for (const auto& [section, body] : new_report["results"].items()) {
    if (!olds.contains(section)) continue;
    const auto& old_figures = olds[section]["figures"];
    bool header = false;
    for (const auto& [key, fig] : body["figures"].items()) {
      if (!old_figures.contains(key)) continue;
      const double o = old_figures[key].value("value", 0.0);
      const double n = fig.value("value", 0.0);
      const Better better = BetterFromName(fig.value("better", std::string("neither")));
      if (better == Better::kNeither) continue;
      if (!header) {
        std::fprintf(out, "%s\n", section.c_str());
        header = true;
      }
      std::string verdict;
      std::string ratio = "-";
      if (o != 0) {
        const double r = n / o;
        ratio = absl::StrFormat("%.2fx", r);
        const bool up = r > 1.05, down = r < 0.95;
        if (up || down) {
          verdict = (up == (better == Better::kHigher)) ? "better" : "worse";
        }
      }
      std::fprintf(out, "  %-52s %12s -> %-12s %8s %s\n", fig.value("label", key).c_str(),
                   FormatValue(o).c_str(), FormatValue(n).c_str(), ratio.c_str(), verdict.c_str());
      ++compared;
    }
  }
  std::fflush(out);
  return compared;
}

}  // namespace nsm::bench

// nsm-bench results: named figures per section with units, printed as a table and written as
// JSON; --compare prints each figure of a new report as a ratio to an old one.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tools/bench/stats.h"

namespace nsm::bench {

enum class Better { kHigher, kLower, kNeither };

class Report {
 public:
  // A figure of `section` ("registry", "mesh", "baseline", ...). `key` is stable (JSON and
  // --compare use it); `label` is for people.
  void Add(const std::string& section, const std::string& key, double value,
           const std::string& unit, const std::string& label, Better better);
  // p50/p90/p99/max (and count) of `s` as `<key>_p50_us` ...
  void AddLatency(const std::string& section, const std::string& key, const std::string& label,
                  const LatencySummary& s, bool with_p90 = true);
  // A line of text under the section (what was measured, errors seen).
  void Note(const std::string& section, const std::string& text);
  // Run-wide facts: machine, settings, command line.
  void SetInfo(const std::string& key, nlohmann::json value);
  // A figure already added, or `fallback`.
  double Get(const std::string& section, const std::string& key, double fallback = 0) const;

  void PrintTable(std::FILE* out) const;
  nlohmann::json ToJson() const;

 private:
  struct Figure {
    std::string key, unit, label;
    double value;
    Better better;
  };
  struct Section {
    std::string name;
    std::vector<Figure> figures;
    std::vector<std::string> notes;
  };
  Section& At(const std::string& name);

  std::vector<Section> sections_;
  nlohmann::json info_ = nlohmann::json::object();
};

// A process name as part of a report key ("nsmgr-1" -> "nsmgr_1").
std::string Key(std::string name);

// Every figure present in both reports: old, new, new/old, and whether that is better or worse.
// Returns the number of figures compared.
int PrintComparison(const nlohmann::json& old_report, const nlohmann::json& new_report,
                    std::FILE* out);

}  // namespace nsm::bench

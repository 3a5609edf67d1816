// nsmctl output: kubectl-like tables, JSON objects with stable field names (tokens never appear),
// describe text and one-line watch events for NS, NSE and connections (issue #8, api.md §3, §5).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "connection.pb.h"
#include "nlohmann/json.hpp"
#include "registry.pb.h"

namespace nsm::nsmctl {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using Connection = ::connection::Connection;

enum class Output { kTable, kWide, kJson };

// A table with aligned columns (kubectl style): upper-case header, three spaces between columns,
// "<none>" for empty cells, no trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// kubectl's short durations: "45s", "2m30s", "45m", "3h5m", "20h", "3d4h", "12d", "2y".
std::string HumanDuration(absl::Duration d);
// Age of an event at `t` seen at `now` ("<unknown>" for an unset time).
std::string Age(absl::Time t, absl::Time now);
// Time left until `t` ("<none>" for an unset time, "expired" once passed).
std::string Remaining(absl::Time t, absl::Time now);

// "k1=v1,k2=v2" in key order; "" for no labels.
std::string FormatLabels(const std::map<std::string, std::string>& labels);

// The hops of a connection by position in its path (api.md §7.1: [nsc, nsmgr, forwarder, ...,
// nse]): the NSC is the first segment, the nsmgr the segment of the hop that reported the
// connection (path.index), the forwarder the one after it, the NSE the last one (when the path
// has more than the hops up to the forwarder).
struct Hops {
  std::string nsc, nsmgr, forwarder, nse;
};
Hops HopsOf(const Connection& conn);
// When the connection expires at the reporting hop: the expiry of the previous segment's token
// (the caller's), else of the hop's own segment; InfinitePast when unknown.
absl::Time ExpiresOf(const Connection& conn);

// Tables (rows in the given order).
std::string NSTable(const std::vector<NS>& items, Output output);
std::string NSETable(const std::vector<NSE>& items, Output output, absl::Time now);
std::string ForwarderTable(const std::vector<NSE>& items, const std::string& forwarder_service,
                           Output output, absl::Time now);
std::string ConnectionTable(const std::vector<Connection>& items, Output output, absl::Time now);

// JSON objects (times as RFC 3339 strings, null when unset; connections without tokens).
nlohmann::json NSToJson(const NS& ns);
nlohmann::json NSEToJson(const NSE& nse);
nlohmann::json ConnectionToJson(const Connection& conn);
template <class T, class F>
nlohmann::json JsonArray(const std::vector<T>& items, F to_json) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& item : items) a.push_back(to_json(item));
  return a;
}

// `nsmctl describe nse`: every field of one endpoint, one per line.
std::string DescribeNSE(const NSE& nse, absl::Time now);

// `nsmctl watch`: one line per event, "<time> <EVENT> <kind> <name> <details>" (EVENT is UPDATE,
// DELETE or, for the first state of a MonitorConnections stream, INITIAL).
std::string NSEventLine(absl::Time at, bool deleted, const NS& ns);
std::string NSEEventLine(absl::Time at, bool deleted, const NSE& nse, absl::Time now);
std::string ConnectionEventLine(absl::Time at, const std::string& event, const Connection& conn);

}  // namespace nsm::nsmctl

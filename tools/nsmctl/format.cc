// nsmctl output: kubectl-like tables, JSON objects with stable field names (tokens never appear),
// describe text and one-line watch events for NS, NSE and connections (issue #8, api.md §3, §5).
#include "tools/nsmctl/format.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "api/path.h"

namespace nsm::nsmctl {
namespace {

constexpr char kNone[] = "<none>";

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return IsSet(ts) ? api::FromProtoTimestamp(ts) : absl::InfinitePast();
}

nlohmann::json TimeJson(const google::protobuf::Timestamp& ts) {
  if (!IsSet(ts)) return nullptr;
  return api::FormatRfc3339Nano(api::FromProtoTimestamp(ts));
}

std::map<std::string, std::string> Sorted(
    const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

std::string OrNone(const std::string& s) { return s.empty() ? kNone : s; }

// "svc-a: k=v,k2=v2; svc-b: k=v" in service order.
std::string ServiceLabels(const NSE& nse) {
  std::map<std::string, std::string> per_service;
  for (const auto& [service, labels] : nse.network_service_labels()) {
    per_service[service] = FormatLabels(Sorted(labels.labels()));
  }
  std::vector<std::string> parts;
  for (const auto& [service, labels] : per_service) {
    parts.push_back(absl::StrCat(service, ":", labels.empty() ? kNone : labels));
  }
  return absl::StrJoin(parts, ";");
}

std::string Ips(const google::protobuf::RepeatedPtrField<std::string>& ips) {
  return absl::StrJoin(ips, ",");
}

std::string PathNames(const Connection& conn) {
  std::vector<std::string> names;
  for (const auto& s : conn.path().path_segments()) names.push_back(s.name());
  return absl::StrJoin(names, ">");
}

std::string Rfc3339(absl::Time t) {
  return t == absl::InfinitePast() ? kNone : api::FormatRfc3339Nano(t);
}

}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto cell = [](const std::vector<std::string>& row, size_t i) -> std::string {
    return i < row.size() && !row[i].empty() ? row[i] : kNone;
  };
  for (size_t i = 0; i < header_.size(); ++i) {
    widths[i] = header_[i].size();
    for (const auto& row : rows_) widths[i] = std::max(widths[i], cell(row, i).size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row, bool header) {
    std::string l;
    for (size_t i = 0; i < header_.size(); ++i) {
      const std::string c = header ? header_[i] : cell(row, i);
      l += c;
      if (i + 1 < header_.size()) l += std::string(widths[i] - c.size() + 3, ' ');
    }
    out += l + "\n";
  };
  line(header_, true);
  for (const auto& row : rows_) line(row, false);
  return out;
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  const int64_t m = s / 60, h = s / 3600, days = s / 86400;
  if (s < 120) return absl::StrCat(s, "s");
  if (m < 10) return s % 60 == 0 ? absl::StrCat(m, "m") : absl::StrCat(m, "m", s % 60, "s");
  if (h < 3) return absl::StrCat(m, "m");
  if (h < 8) return m % 60 == 0 ? absl::StrCat(h, "h") : absl::StrCat(h, "h", m % 60, "m");
  if (h < 48) return absl::StrCat(h, "h");
  if (days < 8) return h % 24 == 0 ? absl::StrCat(days, "d") : absl::StrCat(days, "d", h % 24, "h");
  if (days < 365 * 2) return absl::StrCat(days, "d");
  return absl::StrCat(days / 365, "y");
}

std::string Age(absl::Time t, absl::Time now) {
  if (t == absl::InfinitePast()) return "<unknown>";
  return HumanDuration(now - t);
}

std::string Remaining(absl::Time t, absl::Time now) {
  if (t == absl::InfinitePast()) return kNone;
  if (t <= now) return "expired";
  return HumanDuration(t - now);
}

std::string FormatLabels(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, ",");
}

Hops HopsOf(const Connection& conn) {
  Hops hops;
  const auto& segments = conn.path().path_segments();
  const int n = segments.size();
  if (n == 0) return hops;
  hops.nsc = segments[0].name();
  // The reporting hop is an nsmgr unless it is the client itself (index 0): then the nsmgr is the
  // next hop.
  const int nsmgr = std::max<int>(1, static_cast<int>(conn.path().index()));
  if (nsmgr < n) hops.nsmgr = segments[nsmgr].name();
  if (nsmgr + 1 < n) hops.forwarder = segments[nsmgr + 1].name();
  if (nsmgr + 2 < n) hops.nse = segments[n - 1].name();
  return hops;
}

absl::Time ExpiresOf(const Connection& conn) {
  const auto* previous = api::PreviousSegment(conn);
  if (previous != nullptr && IsSet(previous->expires())) return TimeOf(previous->expires());
  const auto* current = api::CurrentSegment(conn);
  if (current != nullptr) return TimeOf(current->expires());
  return absl::InfinitePast();
}

std::string NSTable(const std::vector<NS>& items, Output output) {
  std::vector<std::string> header = {"NAME", "PAYLOAD", "MATCHES"};
  if (output == Output::kWide) header.push_back("FORWARDER-LABELS");
  Table t(header);
  for (const auto& ns : items) {
    std::vector<std::string> row = {ns.name(), ns.payload(), absl::StrCat(ns.matches_size())};
    if (output == Output::kWide) {
      std::vector<std::string> wanted;
      for (const auto& m : ns.matches()) {
        if (m.has_metadata()) wanted.push_back(FormatLabels(Sorted(m.metadata().labels())));
      }
      row.push_back(absl::StrJoin(wanted, ";"));
    }
    t.Add(std::move(row));
  }
  return t.Render();
}

std::string NSETable(const std::vector<NSE>& items, Output output, absl::Time now) {
  std::vector<std::string> header = {"NAME", "SERVICES", "URL", "AGE", "EXPIRES"};
  if (output == Output::kWide) header.push_back("LABELS");
  Table t(header);
  for (const auto& nse : items) {
    std::vector<std::string> row = {nse.name(), absl::StrJoin(nse.network_service_names(), ","),
                                    nse.url(), Age(TimeOf(nse.initial_registration_time()), now),
                                    Remaining(TimeOf(nse.expiration_time()), now)};
    if (output == Output::kWide) row.push_back(ServiceLabels(nse));
    t.Add(std::move(row));
  }
  return t.Render();
}

std::string ForwarderTable(const std::vector<NSE>& items, const std::string& forwarder_service,
                           Output output, absl::Time now) {
  std::vector<std::string> header = {"NAME", "URL", "LABELS", "AGE", "EXPIRES"};
  if (output == Output::kWide) header.push_back("SERVICES");
  Table t(header);
  for (const auto& nse : items) {
    std::string labels;
    if (auto it = nse.network_service_labels().find(forwarder_service);
        it != nse.network_service_labels().end()) {
      labels = FormatLabels(Sorted(it->second.labels()));
    }
    std::vector<std::string> row = {nse.name(), nse.url(), labels,
                                    Age(TimeOf(nse.initial_registration_time()), now),
                                    Remaining(TimeOf(nse.expiration_time()), now)};
    if (output == Output::kWide) row.push_back(absl::StrJoin(nse.network_service_names(), ","));
    t.Add(std::move(row));
  }
  return t.Render();
}

std::string ConnectionTable(const std::vector<Connection>& items, Output output, absl::Time now) {
  std::vector<std::string> header = {"ID",        "SERVICE", "STATE",     "NSC",    "NSMGR",
                                     "FORWARDER", "NSE",     "MECHANISM", "SRC-IP", "DST-IP"};
  if (output == Output::kWide) {
    for (const char* h : {"EXPIRES", "LABELS", "PATH"}) header.push_back(h);
  }
  Table t(header);
  for (const auto& conn : items) {
    const Hops hops = HopsOf(conn);
    const auto& ip = conn.context().ip_context();
    std::vector<std::string> row = {conn.id(),
                                    conn.network_service(),
                                    connection::State_Name(conn.state()),
                                    hops.nsc,
                                    hops.nsmgr,
                                    hops.forwarder,
                                    hops.nse,
                                    conn.mechanism().type(),
                                    Ips(ip.src_ip_addrs()),
                                    Ips(ip.dst_ip_addrs())};
    if (output == Output::kWide) {
      row.push_back(Remaining(ExpiresOf(conn), now));
      row.push_back(FormatLabels(Sorted(conn.labels())));
      row.push_back(PathNames(conn));
    }
    t.Add(std::move(row));
  }
  return t.Render();
}

nlohmann::json NSToJson(const NS& ns) {
  nlohmann::json matches = nlohmann::json::array();
  for (const auto& m : ns.matches()) {
    nlohmann::json routes = nlohmann::json::array();
    for (const auto& r : m.routes()) {
      routes.push_back(
          {{"destination_selector", Sorted(r.destination_selector())}, {"weight", r.weight()}});
    }
    nlohmann::json metadata = nullptr;
    if (m.has_metadata()) metadata = {{"labels", Sorted(m.metadata().labels())}};
    matches.push_back({{"source_selector", Sorted(m.source_selector())},
                       {"routes", routes},
                       {"fallthrough", m.fallthrough()},
                       {"metadata", metadata}});
  }
  return {{"name", ns.name()}, {"payload", ns.payload()}, {"matches", matches}};
}

nlohmann::json NSEToJson(const NSE& nse) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [service, l] : nse.network_service_labels()) {
    labels[service] = Sorted(l.labels());
  }
  return {{"name", nse.name()},
          {"network_service_names", std::vector<std::string>(nse.network_service_names().begin(),
                                                             nse.network_service_names().end())},
          {"network_service_labels", labels},
          {"url", nse.url()},
          {"expiration_time", TimeJson(nse.expiration_time())},
          {"initial_registration_time", TimeJson(nse.initial_registration_time())}};
}

nlohmann::json ConnectionToJson(const Connection& conn) {
  const Hops hops = HopsOf(conn);
  nlohmann::json mechanism = nullptr;
  if (conn.has_mechanism()) {
    mechanism = {{"cls", conn.mechanism().cls()},
                 {"type", conn.mechanism().type()},
                 {"parameters", Sorted(conn.mechanism().parameters())}};
  }
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& s : conn.path().path_segments()) {
    // Deliberately no token: it authorizes calls on behalf of the hop (DESIGN.md §7).
    segments.push_back({{"name", s.name()}, {"id", s.id()}, {"expires", TimeJson(s.expires())}});
  }
  const auto& ip = conn.context().ip_context();
  const absl::Time expires = ExpiresOf(conn);
  return {
      {"id", conn.id()},
      {"network_service", conn.network_service()},
      {"state", connection::State_Name(conn.state())},
      {"nsc", hops.nsc},
      {"nsmgr", hops.nsmgr},
      {"forwarder", hops.forwarder},
      {"nse", hops.nse},
      {"network_service_endpoint_name", conn.network_service_endpoint_name()},
      {"payload", conn.payload()},
      {"mechanism", mechanism},
      {"src_ip_addrs",
       std::vector<std::string>(ip.src_ip_addrs().begin(), ip.src_ip_addrs().end())},
      {"dst_ip_addrs",
       std::vector<std::string>(ip.dst_ip_addrs().begin(), ip.dst_ip_addrs().end())},
      {"labels", Sorted(conn.labels())},
      {"expires", expires == absl::InfinitePast()
                      ? nlohmann::json(nullptr)
                      : nlohmann::json(api::FormatRfc3339Nano(expires))},
      {"path", {{"index", conn.path().index()}, {"segments", segments}}},
  };
}

std::string DescribeNSE(const NSE& nse, absl::Time now) {
  std::string out;
  auto field = [&out](const std::string& name, const std::string& value) {
    out += absl::StrCat(
        name, ":", std::string(std::max(1, 27 - static_cast<int>(name.size())), ' '), value, "\n");
  };
  field("Name", nse.name());
  field("URL", OrNone(nse.url()));
  field("Network Services", OrNone(absl::StrJoin(nse.network_service_names(), ", ")));
  std::map<std::string, std::map<std::string, std::string>> labels;
  for (const auto& [service, l] : nse.network_service_labels())
    labels[service] = Sorted(l.labels());
  if (labels.empty()) {
    field("Labels", kNone);
  } else {
    out += "Labels:\n";
    for (const auto& [service, l] : labels) {
      out += absl::StrCat("  ", service, ":",
                          std::string(std::max(1, 25 - static_cast<int>(service.size())), ' '),
                          l.empty() ? kNone : FormatLabels(l), "\n");
    }
  }
  const absl::Time expires = TimeOf(nse.expiration_time());
  const absl::Time registered = TimeOf(nse.initial_registration_time());
  field("Expiration Time",
        expires == absl::InfinitePast()
            ? kNone
            : absl::StrCat(Rfc3339(expires), " (",
                           expires <= now ? "expired" : "in " + HumanDuration(expires - now), ")"));
  field("Initial Registration Time",
        registered == absl::InfinitePast()
            ? kNone
            : absl::StrCat(Rfc3339(registered), " (", HumanDuration(now - registered), " ago)"));
  return out;
}

namespace {
std::string Stamp(absl::Time at) { return absl::FormatTime("%H:%M:%E3S", at, absl::UTCTimeZone()); }
}  // namespace

std::string NSEventLine(absl::Time at, bool deleted, const NS& ns) {
  return absl::StrCat(Stamp(at), " ", deleted ? "DELETE" : "UPDATE", " ns ", ns.name(),
                      " payload=", OrNone(ns.payload()), " matches=", ns.matches_size());
}

std::string NSEEventLine(absl::Time at, bool deleted, const NSE& nse, absl::Time now) {
  std::string line =
      absl::StrCat(Stamp(at), " ", deleted ? "DELETE" : "UPDATE", " nse ", nse.name(),
                   " services=", OrNone(absl::StrJoin(nse.network_service_names(), ",")),
                   " url=", OrNone(nse.url()));
  if (!deleted) {
    absl::StrAppend(&line, " expires=", Remaining(TimeOf(nse.expiration_time()), now));
  }
  return line;
}

std::string ConnectionEventLine(absl::Time at, const std::string& event, const Connection& conn) {
  const auto& ip = conn.context().ip_context();
  std::string line = absl::StrCat(
      Stamp(at), " ", event, " connection ", conn.id(), " service=", OrNone(conn.network_service()),
      " state=", connection::State_Name(conn.state()), " path=", OrNone(PathNames(conn)));
  if (ip.src_ip_addrs_size() > 0 || ip.dst_ip_addrs_size() > 0) {
    absl::StrAppend(&line, " src=", OrNone(Ips(ip.src_ip_addrs())),
                    " dst=", OrNone(Ips(ip.dst_ip_addrs())));
  }
  return line;
}

}  // namespace nsm::nsmctl

#include "reference/nse/ipam.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "connectioncontext.pb.h"

namespace nsm::nse {
namespace {

const absl::uint128 kMax128 = absl::Uint128Max();

std::optional<std::pair<bool, absl::uint128>> ParseAddress(const std::string& text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    absl::uint128 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | buf[i];
    return std::make_pair(false, v);
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    absl::uint128 v = 0;
    for (int i = 0; i < 16; ++i) v = (v << 8) | buf[i];
    return std::make_pair(true, v);
  }
  return std::nullopt;
}

std::string FormatAddress(bool v6, absl::uint128 v) {
  unsigned char buf[16];
  const int n = v6 ? 16 : 4;
  for (int i = n - 1; i >= 0; --i) {
    buf[i] = static_cast<unsigned char>(absl::Uint128Low64(v) & 0xff);
    v >>= 8;
  }
  char text[INET6_ADDRSTRLEN];
  return inet_ntop(v6 ? AF_INET6 : AF_INET, buf, text, sizeof(text));
}

void AddUnique(google::protobuf::RepeatedPtrField<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) *list.Add() = value;
}

void RemoveValue(google::protobuf::RepeatedPtrField<std::string>& list, const std::string& value) {
  for (int i = 0; i < list.size(); ++i) {
    if (list.Get(i) == value) {
      list.DeleteSubrange(i, 1);
      return;
    }
  }
}

void AddRoute(google::protobuf::RepeatedPtrField<::connectioncontext::Route>& routes,
              const std::string& prefix) {
  for (const auto& r : routes) {
    if (r.prefix() == prefix) return;
  }
  routes.Add()->set_prefix(prefix);
}

void RemoveRoute(google::protobuf::RepeatedPtrField<::connectioncontext::Route>& routes,
                 const std::string& prefix) {
  for (int i = 0; i < routes.size(); ++i) {
    if (routes.Get(i).prefix() == prefix) {
      routes.DeleteSubrange(i, 1);
      return;
    }
  }
}

bool Excluded(const std::vector<Prefix>& excluded, bool v6, absl::uint128 address) {
  for (const auto& e : excluded) {
    if (e.Contains(v6, address)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<Prefix> Prefix::Parse(const std::string& cidr) {
  const size_t slash = cidr.find('/');
  int bits = 0;
  auto address = slash == std::string::npos ? std::nullopt : ParseAddress(cidr.substr(0, slash));
  if (!address || !absl::SimpleAtoi(cidr.substr(slash + 1), &bits) || bits < 0 ||
      bits > (address->first ? 128 : 32) || cidr.substr(slash + 1).empty() ||
      !std::all_of(cidr.begin() + slash + 1, cidr.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", cidr, "\" is not a CIDR prefix such as 169.254.0.0/16 or fd00::/64"));
  }
  Prefix p;
  p.v6 = address->first;
  p.bits = bits;
  const int width = p.v6 ? 128 : 32;
  const absl::uint128 all = p.v6 ? kMax128 : absl::uint128(0xffffffffu);
  const absl::uint128 host = bits == width ? absl::uint128(0) : (all >> bits);
  p.first = address->second & ~host & all;
  p.last = p.first | host;
  return p;
}

std::string Prefix::Host(absl::uint128 address) const {
  return absl::StrCat(FormatAddress(v6, address), v6 ? "/128" : "/32");
}

std::string Prefix::ToString() const { return absl::StrCat(FormatAddress(v6, first), "/", bits); }

std::optional<absl::uint128> IpPool::Take(const std::vector<Prefix>& excluded) {
  absl::uint128 candidate = prefix_.first;
  while (true) {
    bool moved = false;
    for (const auto& e : excluded) {
      if (e.Contains(prefix_.v6, candidate)) {
        if (e.last >= prefix_.last) return std::nullopt;
        candidate = e.last + 1;
        moved = true;
      }
    }
    if (moved) continue;
    auto it = used_.find(candidate);
    if (it == used_.end()) {
      used_.insert(candidate);
      return candidate;
    }
    // Skip the run of used addresses starting here.
    while (it != used_.end() && *it == candidate) {
      if (candidate == prefix_.last) return std::nullopt;
      ++candidate;
      ++it;
    }
  }
}

bool IpPool::TakeExactly(absl::uint128 address, const std::vector<Prefix>& excluded) {
  if (!prefix_.Contains(prefix_.v6, address)) return false;
  for (const auto& e : excluded) {
    if (e.Contains(prefix_.v6, address)) return false;
  }
  return used_.insert(address).second;
}

absl::StatusOr<std::shared_ptr<Point2PointIpam>> Point2PointIpam::Create(
    const std::vector<std::string>& prefixes, size_t max_connections) {
  if (prefixes.empty()) return absl::InvalidArgumentError("ipam: no prefix to assign from");
  std::vector<IpPool> pools;
  for (const auto& text : prefixes) {
    auto p = Prefix::Parse(text);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("ipam: ", p.status().message()));
    pools.emplace_back(*p);
  }
  return std::shared_ptr<Point2PointIpam>(new Point2PointIpam(std::move(pools), max_connections));
}

size_t Point2PointIpam::connections() const {
  absl::MutexLock lock(&mu_);
  return leases_.size();
}

void Point2PointIpam::ReleaseLocked(const Lease& lease) {
  pools_[lease.pool].Release(lease.dst);
  pools_[lease.pool].Release(lease.src);
}

std::optional<Point2PointIpam::Lease> Point2PointIpam::RecoverLocked(
    const ::connectioncontext::IPContext& ip, const std::vector<Prefix>& excluded) {
  for (size_t i = 0; i < pools_.size(); ++i) {
    IpPool& pool = pools_[i];
    auto take_one = [&](const auto& list) -> std::optional<absl::uint128> {
      for (const std::string& text : list) {
        auto host = Prefix::Parse(text);
        if (!host.ok() || host->first != host->last) continue;  // only host addresses
        if (host->v6 == pool.prefix().v6 && pool.TakeExactly(host->first, excluded)) {
          return host->first;
        }
      }
      return std::nullopt;
    };
    auto src = take_one(ip.src_ip_addrs());
    if (!src) continue;
    auto dst = take_one(ip.dst_ip_addrs());
    if (!dst) {
      pool.Release(*src);
      continue;
    }
    const Prefix& p = pool.prefix();
    return Lease{i, *dst, *src, p.Host(*dst), p.Host(*src)};
  }
  return std::nullopt;
}

bool Point2PointIpam::StaleLocked(const std::string& text, const Lease& lease) const {
  auto host = Prefix::Parse(text);
  if (!host.ok() || host->first != host->last) return false;
  const bool v6 = pools_[lease.pool].prefix().v6;
  if (host->v6 == v6 && (host->first == lease.src || host->first == lease.dst)) return false;
  for (const auto& pool : pools_) {
    if (pool.prefix().Contains(host->v6, host->first)) return true;
  }
  return false;
}

absl::StatusOr<Connection> Point2PointIpam::Request(const Context& ctx,
                                                    NetworkServiceRequest& request,
                                                    const ServerNext& next) {
  Connection& conn = *request.mutable_connection();
  auto& ip = *conn.mutable_context()->mutable_ip_context();
  std::vector<Prefix> excluded;
  for (int i = 0; i < ip.excluded_prefixes_size(); ++i) {
    auto p = Prefix::Parse(ip.excluded_prefixes(i));
    if (!p.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "connection.context.ip_context.excluded_prefixes[", i, "]: ", p.status().message()));
    }
    excluded.push_back(*p);
  }

  const std::string id = conn.id();
  Lease lease;
  bool fresh = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(id);
    if (it != leases_.end()) {
      const Lease& old = it->second;
      const bool v6 = pools_[old.pool].prefix().v6;
      if (Excluded(excluded, v6, old.dst) || Excluded(excluded, v6, old.src)) {
        RemoveValue(*ip.mutable_src_ip_addrs(), old.src_text);
        RemoveValue(*ip.mutable_dst_ip_addrs(), old.dst_text);
        RemoveRoute(*ip.mutable_src_routes(), old.dst_text);
        RemoveRoute(*ip.mutable_dst_routes(), old.src_text);
        ReleaseLocked(old);
        leases_.erase(it);
        it = leases_.end();
      }
    }
    if (it != leases_.end()) {
      lease = it->second;
    } else {
      if (leases_.size() >= max_connections_) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "ipam: ", leases_.size(), " connections already hold addresses (the limit)"));
      }
      if (auto recovered = RecoverLocked(ip, excluded)) {
        lease = *recovered;
        fresh = true;
      }
      for (size_t i = 0; i < pools_.size() && !fresh; ++i) {
        auto dst = pools_[i].Take(excluded);
        if (!dst) continue;
        auto src = pools_[i].Take(excluded);
        if (!src) {
          pools_[i].Release(*dst);
          continue;
        }
        const Prefix& p = pools_[i].prefix();
        lease = Lease{i, *dst, *src, p.Host(*dst), p.Host(*src)};
        fresh = true;
      }
      if (!fresh) {
        std::vector<std::string> names;
        for (const auto& pool : pools_) names.push_back(pool.prefix().ToString());
        return absl::ResourceExhaustedError(absl::StrCat("ipam: no free address pair in ",
                                                         absl::StrJoin(names, ", "),
                                                         " outside the excluded prefixes"));
      }
      leases_[id] = lease;
    }
    auto drop_stale = [&](auto& list) {
      for (int i = list.size() - 1; i >= 0; --i) {
        if (StaleLocked(list.Get(i), lease)) list.DeleteSubrange(i, 1);
      }
    };
    auto drop_stale_routes = [&](auto& routes) {
      for (int i = routes.size() - 1; i >= 0; --i) {
        if (StaleLocked(routes.Get(i).prefix(), lease)) routes.DeleteSubrange(i, 1);
      }
    };
    drop_stale(*ip.mutable_src_ip_addrs());
    drop_stale(*ip.mutable_dst_ip_addrs());
    drop_stale_routes(*ip.mutable_src_routes());
    drop_stale_routes(*ip.mutable_dst_routes());
  }
  AddUnique(*ip.mutable_src_ip_addrs(), lease.src_text);
  AddRoute(*ip.mutable_src_routes(), lease.dst_text);
  AddUnique(*ip.mutable_dst_ip_addrs(), lease.dst_text);
  AddRoute(*ip.mutable_dst_routes(), lease.src_text);

  auto result = next.Request(ctx, request);
  if (!result.ok() && fresh) {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(id);
    if (it != leases_.end()) {
      ReleaseLocked(it->second);
      leases_.erase(it);
    }
  }
  return result;
}

absl::Status Point2PointIpam::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(conn.id());
    if (it != leases_.end()) {
      ReleaseLocked(it->second);
      leases_.erase(it);
    }
  }
  return next.Close(ctx, conn);
}

}  // namespace nsm::nse

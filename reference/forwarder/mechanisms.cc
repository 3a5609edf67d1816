#include "reference/forwarder/mechanisms.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/mechanisms.h"
#include "core/log.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/mechanisms/server.h"
#include "networkservice/mechanismtranslation/client.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::forwarder {
namespace {

namespace mech = api::mech;

// VNIs drawn before giving up on finding a free one (2^23 candidates per parity).
constexpr int kVniDraws = 64;

struct VniLease {
  std::string src;
  uint32_t vni;
};
const TypedKey<VniLease> kVniLeaseKey{"forwarder.vxlan.vni"};

struct VlanLease {
  uint16_t id;
};
const TypedKey<VlanLease> kVlanLeaseKey{"forwarder.vlan.id"};

// The address in canonical text, nullopt when `text` is not an IPv4/IPv6 address.
std::optional<std::string> NormalizeIp(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, out, sizeof(out));
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, out, sizeof(out));
  }
  return std::nullopt;
}

bool IsWireguardKey(const std::string& key) {
  std::string raw;
  return absl::Base64Unescape(key, &raw) && raw.size() == 32;
}

void SetParameter(connection::Mechanism& m, const std::string& key, const std::string& value) {
  (*m.mutable_parameters())[key] = value;
}

std::shared_ptr<metadata::MetaData> Metadata(const Context& ctx) {
  return metadata::FromContext(ctx);
}

// LOCAL types: nothing to do in a control-plane-only forwarder.
class PassThrough : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

bool IsLocalType(const std::string& type) {
  return type == mech::kernel::kType || type == mech::memif::kType || type == mech::vfio::kType ||
         type == mech::noop::kType;
}

connection::Mechanism Offer(const MechanismOptions& o, const std::string& type) {
  connection::Mechanism m = mech::MakeMechanism(mech::kRemote, type);
  if (type == mech::vxlan::kType) {
    SetParameter(m, mech::vxlan::kSrcIP, o.tunnel_ip);
    SetParameter(m, mech::vxlan::kSrcPort, absl::StrCat(o.vxlan_port));
  } else if (type == mech::wireguard::kType) {
    SetParameter(m, mech::wireguard::kSrcIP, o.tunnel_ip);
    SetParameter(m, mech::wireguard::kSrcPort, absl::StrCat(o.wireguard.port));
    SetParameter(m, mech::wireguard::kSrcPublicKey, o.wireguard.public_key);
  }
  return m;
}

}  // namespace

Locality ClassifyByScheme(const api::NsmUrl* url) {
  if (url == nullptr) return Locality::kUnknown;
  if (url->scheme == api::NsmUrl::Scheme::kTcp) return Locality::kUnknown;
  return Locality::kLocal;
}

Locality ClassifyStrictly(const api::NsmUrl* url) {
  if (url != nullptr && url->scheme != api::NsmUrl::Scheme::kTcp) return Locality::kLocal;
  return Locality::kRemote;
}

absl::Status Validate(const MechanismOptions& o) {
  for (const auto& type : o.local) {
    if (!IsLocalType(type)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("local mechanism \"%s\" is not one of KERNEL, MEMIF, VFIO, NOOP", type));
    }
  }
  if (!o.tunnel_ip.empty() && !NormalizeIp(o.tunnel_ip)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tunnel IP \"%s\" is not an IP address", o.tunnel_ip));
  }
  if (o.vxlan && o.vxlan_port == 0) {
    return absl::InvalidArgumentError("VXLAN port 0 is not a port");
  }
  if (o.wireguard.enabled) {
    if (o.tunnel_ip.empty()) {
      return absl::InvalidArgumentError("WireGuard needs a tunnel IP");
    }
    if (!IsWireguardKey(o.wireguard.public_key)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "WireGuard public key \"%s\" is not base64 of 32 bytes", o.wireguard.public_key));
    }
    if (o.wireguard.port == 0) return absl::InvalidArgumentError("WireGuard port 0 is not a port");
  }
  if (o.vlan.enabled &&
      (o.vlan.first_id < 1 || o.vlan.last_id > 4094 || o.vlan.first_id > o.vlan.last_id)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("VLAN id range %d-%d is not within 1-4094 with first <= last",
                        o.vlan.first_id, o.vlan.last_id));
  }
  return absl::OkStatus();
}

std::vector<std::string> RemoteTypes(const MechanismOptions& o, absl::string_view payload) {
  const bool tunnel = !o.tunnel_ip.empty();
  std::vector<std::string> types;
  if (payload != api::payload::kEthernet && tunnel && o.wireguard.enabled) {
    types.push_back(mech::wireguard::kType);
  }
  if (tunnel && o.vxlan) types.push_back(mech::vxlan::kType);
  if (o.vlan.enabled) types.push_back(mech::vlan::kType);
  return types;
}

std::shared_ptr<NetworkServiceServer> NewMechanismsServer(const MechanismOptions& o) {
  mechanisms::Handlers handlers;
  auto pass = std::make_shared<PassThrough>();
  for (const auto& type : o.local) handlers[type] = pass;
  if (!o.tunnel_ip.empty() && o.vxlan) {
    handlers[mech::vxlan::kType] = std::make_shared<VxlanServer>(o.tunnel_ip, o.vxlan_port);
  }
  if (!o.tunnel_ip.empty() && o.wireguard.enabled) {
    handlers[mech::wireguard::kType] = std::make_shared<WireguardServer>(o.tunnel_ip, o.wireguard);
  }
  if (o.vlan.enabled) handlers[mech::vlan::kType] = std::make_shared<VlanServer>(o.vlan);
  return mechanisms::NewServer(std::move(handlers));
}

// ---------------------------------------------------------------------------------------------
// VXLAN

absl::Status VxlanServer::Take(const Key& key, const std::string& owner) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = owners_.try_emplace(key, owner);
  if (inserted || it->second == owner) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "VXLAN: vni %d from src_ip %s is held by another connection", key.second, key.first));
}

void VxlanServer::Release(const Key& key, const std::string& owner) {
  absl::MutexLock lock(&mu_);
  auto it = owners_.find(key);
  if (it != owners_.end() && it->second == owner) owners_.erase(it);
}

size_t VxlanServer::leases() const {
  absl::MutexLock lock(&mu_);
  return owners_.size();
}

absl::StatusOr<Connection> VxlanServer::Request(const Context& ctx, NetworkServiceRequest& request,
                                                const ServerNext& next) {
  connection::Mechanism& m = *request.mutable_connection()->mutable_mechanism();
  const std::string src_text = mech::GetParameter(m, mech::vxlan::kSrcIP);
  const std::optional<std::string> src = NormalizeIp(src_text);
  if (!src) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "VXLAN: the client's %s \"%s\" is not an IP address", mech::vxlan::kSrcIP, src_text));
  }
  SetParameter(m, mech::vxlan::kDstIP, tunnel_ip_);
  SetParameter(m, mech::vxlan::kDstPort, absl::StrCat(port_));

  const std::string& id = request.connection().id();
  auto md = Metadata(ctx);
  std::shared_ptr<VniLease> held = md ? md->server.Load(kVniLeaseKey) : nullptr;
  Key key;
  bool fresh = false;  // taken by this Request: released if it fails
  if (const uint32_t vni = mech::GetVni(m); vni != 0) {
    key = {*src, vni};
    if (!(held && held->src == key.first && held->vni == key.second)) {
      if (absl::Status s = Take(key, id); !s.ok()) return s;
      fresh = true;
    }
  } else if (held && held->src == *src) {
    key = {held->src, held->vni};
  } else {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < kVniDraws && !fresh; ++i) {
      absl::StatusOr<uint32_t> drawn = mech::GenerateRandomVni(m, gen_);
      if (!drawn.ok()) return drawn.status();
      key = {*src, *drawn};
      fresh = owners_.try_emplace(key, id).second;
    }
    if (!fresh) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("VXLAN: no free vni for src_ip %s after %d draws", *src, kVniDraws));
    }
  }
  SetParameter(m, mech::vxlan::kVNI, absl::StrCat(key.second));

  auto result = next.Request(ctx, request);
  if (!result.ok()) {
    if (fresh) Release(key, id);
    return result;
  }
  if (md) {
    if (held && (held->src != key.first || held->vni != key.second)) {
      Release({held->src, held->vni}, id);
    }
    md->server.Put(kVniLeaseKey, std::make_shared<VniLease>(VniLease{key.first, key.second}));
  }
  if (fresh && log::Enabled(log::Level::kDebug)) {
    log::Debug("forwarder", absl::StrFormat("VXLAN for %s: src_ip %s, dst_ip %s:%d, vni %d", id,
                                            key.first, tunnel_ip_, port_, key.second));
  }
  return result;
}

absl::Status VxlanServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (auto md = Metadata(ctx)) {
    if (auto held = md->server.LoadAndDelete(kVniLeaseKey))
      Release({held->src, held->vni}, conn.id());
  }
  const auto src = NormalizeIp(mech::GetParameter(conn.mechanism(), mech::vxlan::kSrcIP));
  if (const uint32_t vni = mech::GetVni(conn.mechanism()); src && vni != 0) {
    Release({*src, vni}, conn.id());
  }
  return next.Close(ctx, conn);
}

// ---------------------------------------------------------------------------------------------
// WireGuard

absl::StatusOr<Connection> WireguardServer::Request(const Context& ctx,
                                                    NetworkServiceRequest& request,
                                                    const ServerNext& next) {
  connection::Mechanism& m = *request.mutable_connection()->mutable_mechanism();
  const std::string src = mech::GetParameter(m, mech::wireguard::kSrcIP);
  if (!NormalizeIp(src)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "WIREGUARD: the client's %s \"%s\" is not an IP address", mech::wireguard::kSrcIP, src));
  }
  const std::string key = mech::GetParameter(m, mech::wireguard::kSrcPublicKey);
  if (!IsWireguardKey(key)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("WIREGUARD: the client's %s \"%s\" is not base64 of 32 bytes",
                        mech::wireguard::kSrcPublicKey, key));
  }
  SetParameter(m, mech::wireguard::kDstIP, tunnel_ip_);
  SetParameter(m, mech::wireguard::kDstPort, absl::StrCat(options_.port));
  SetParameter(m, mech::wireguard::kDstPublicKey, options_.public_key);
  return next.Request(ctx, request);
}

absl::Status WireguardServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

// ---------------------------------------------------------------------------------------------
// VLAN

size_t VlanServer::leases() const {
  absl::MutexLock lock(&mu_);
  return owners_.size();
}

absl::StatusOr<Connection> VlanServer::Request(const Context& ctx, NetworkServiceRequest& request,
                                               const ServerNext& next) {
  connection::Mechanism& m = *request.mutable_connection()->mutable_mechanism();
  const std::string& id = request.connection().id();
  auto md = Metadata(ctx);
  std::shared_ptr<VlanLease> held = md ? md->server.Load(kVlanLeaseKey) : nullptr;
  const std::string asked = mech::GetParameter(m, mech::vlan::kID);
  uint16_t vlan = 0;
  bool fresh = false;
  {
    absl::MutexLock lock(&mu_);
    if (!asked.empty() && asked != "0") {
      absl::StatusOr<uint16_t> parsed = mech::ParseVlanId(asked);
      if (!parsed.ok()) return parsed.status();
      if (*parsed < options_.first_id || *parsed > options_.last_id) {
        return absl::FailedPreconditionError(
            absl::StrFormat("VLAN: %s %d is outside this forwarder's range %d-%d", mech::vlan::kID,
                            *parsed, options_.first_id, options_.last_id));
      }
      auto [it, inserted] = owners_.try_emplace(*parsed, id);
      if (!inserted && it->second != id) {
        return absl::FailedPreconditionError(
            absl::StrFormat("VLAN: %s %d is held by another connection", mech::vlan::kID, *parsed));
      }
      vlan = *parsed;
      fresh = inserted;
    } else if (held) {
      vlan = held->id;
    } else {
      for (uint32_t v = options_.first_id; v <= options_.last_id && !fresh; ++v) {
        fresh = owners_.try_emplace(static_cast<uint16_t>(v), id).second;
        if (fresh) vlan = static_cast<uint16_t>(v);
      }
      if (!fresh) {
        return absl::ResourceExhaustedError(absl::StrFormat("VLAN: every id of %d-%d is in use",
                                                            options_.first_id, options_.last_id));
      }
    }
  }
  SetParameter(m, mech::vlan::kID, absl::StrCat(vlan));
  auto result = next.Request(ctx, request);
  absl::MutexLock lock(&mu_);
  if (!result.ok()) {
    if (fresh) owners_.erase(vlan);
    return result;
  }
  if (held && held->id != vlan) {
    auto it = owners_.find(held->id);
    if (it != owners_.end() && it->second == id) owners_.erase(it);
  }
  if (md) md->server.Put(kVlanLeaseKey, std::make_shared<VlanLease>(VlanLease{vlan}));
  return result;
}

absl::Status VlanServer::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  std::vector<uint16_t> ids;
  if (auto md = Metadata(ctx)) {
    if (auto held = md->server.LoadAndDelete(kVlanLeaseKey)) ids.push_back(held->id);
  }
  if (const uint16_t id = mech::GetVlanId(conn.mechanism()); id != 0) ids.push_back(id);
  {
    absl::MutexLock lock(&mu_);
    for (uint16_t v : ids) {
      auto it = owners_.find(v);
      if (it != owners_.end() && it->second == conn.id()) owners_.erase(it);
    }
  }
  return next.Close(ctx, conn);
}

// ---------------------------------------------------------------------------------------------
// Next-hop side

absl::Status CheckAnswer(const connection::Mechanism& m) {
  const std::string& type = m.type();
  auto need_ip = [&](const char* key) -> absl::Status {
    const std::string value = mech::GetParameter(m, key);
    if (NormalizeIp(value)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrFormat("the next hop chose %s without a usable %s (\"%s\")", type, key, value));
  };
  if (type == mech::vxlan::kType) {
    if (absl::Status s = need_ip(mech::vxlan::kDstIP); !s.ok()) return s;
    if (mech::GetVni(m) == 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("the next hop chose VXLAN without a usable %s (\"%s\")",
                          mech::vxlan::kVNI, mech::GetParameter(m, mech::vxlan::kVNI)));
    }
  } else if (type == mech::wireguard::kType) {
    if (absl::Status s = need_ip(mech::wireguard::kDstIP); !s.ok()) return s;
    if (mech::GetParameter(m, mech::wireguard::kDstPublicKey).empty()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the next hop chose WIREGUARD without %s", mech::wireguard::kDstPublicKey));
    }
  } else if (type == mech::vlan::kType) {
    const uint16_t id = mech::GetVlanId(m);
    if (id < 1 || id > 4094) {
      return absl::FailedPreconditionError(
          absl::StrFormat("the next hop chose VLAN without a usable %s (\"%s\")", mech::vlan::kID,
                          mech::GetParameter(m, mech::vlan::kID)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Connection> MechanismsClient::Request(const Context& ctx,
                                                     NetworkServiceRequest& request,
                                                     const ClientNext& next,
                                                     const CallOptions& opts) {
  const PostponedContext postponed = ctx.Postpone();
  const std::shared_ptr<api::NsmUrl> url = clienturl::FromContext(ctx);
  const Locality locality = options_.classify ? options_.classify(url.get()) : Locality::kUnknown;
  std::vector<connection::Mechanism> offers;
  if (locality != Locality::kLocal) {
    for (const auto& type : RemoteTypes(options_, request.connection().payload())) {
      offers.push_back(Offer(options_, type));
    }
  }
  if (locality != Locality::kRemote) {
    std::vector<std::string> local = options_.local;
    if (auto up = mechanismtranslation::UpstreamMechanism(ctx)) {
      auto it = std::find(local.begin(), local.end(), up->type());
      if (it != local.end()) std::rotate(local.begin(), it, it + 1);
    }
    for (const auto& type : local) offers.push_back(mech::MakeMechanism(mech::kLocal, type));
  }
  if (offers.empty()) {
    const std::string where = url ? url->ToString() : "the next hop";
    return absl::FailedPreconditionError(
        locality == Locality::kLocal
            ? absl::StrCat("no mechanism to offer to ", where, ": no LOCAL mechanism configured")
            : absl::StrCat("no mechanism to offer to ", where,
                           ": it may be on another node and no remote mechanism is configured "
                           "(NSM_TUNNEL_IP is empty)"));
  }
  for (auto& offer : offers) *request.add_mechanism_preferences() = std::move(offer);

  auto result = next.Request(ctx, request, opts);
  if (!result.ok() || !result->has_mechanism()) return result;
  if (absl::Status bad = CheckAnswer(result->mechanism()); !bad.ok()) {
    auto [close_ctx, cancel] = postponed.Make();
    Connection established = *result;
    (void)next.Close(close_ctx, established, opts);
    cancel();
    const std::string where = url ? url->ToString() : "the next hop";
    return absl::Status(bad.code(), absl::StrCat(where, ": ", bad.message()));
  }
  if (log::Enabled(log::Level::kDebug)) {
    log::Debug("forwarder", absl::StrCat("next hop ", url ? url->ToString() : "?", " chose ",
                                         result->mechanism().cls(), "/", result->mechanism().type(),
                                         " for ", result->id()));
  }
  return result;
}

absl::Status MechanismsClient::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                                     const CallOptions& opts) {
  return next.Close(ctx, conn, opts);
}

}  // namespace nsm::forwarder

// The forwarder's mechanisms, control plane only: the types it accepts from its caller (LOCAL ones
// as given; REMOTE ones answered with its tunnel end: VXLAN, WireGuard, VLAN) and the preferences
// it offers the next hop, local or remote (mechanisms.md §1, §4-5, §8-10, §14; nsmgr.md §4.10).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "api/nsm_url.h"
#include "connection.pb.h"
#include "core/networkservice.h"

namespace nsm::forwarder {

// Where the next hop is, as far as the forwarder can tell from its URL.
enum class Locality {
  kLocal,    // same node: offer LOCAL mechanisms only
  kRemote,   // another node: offer REMOTE mechanisms only
  kUnknown,  // offer REMOTE mechanisms first, then LOCAL ones; the next hop takes what it serves
};

// The default rule. unix:// and inode:// URLs can only reach this node: kLocal (as Go's
// filtermechanisms). tcp:// URLs reach a local NSE served on tcp as well as another node's nsmgr
// (the registry gives no way to tell them apart, and test topologies serve everything on
// 127.0.0.1): kUnknown, so a remote forwarder picks a tunnel and a local NSE picks KERNEL/MEMIF.
// No URL: kUnknown.
Locality ClassifyByScheme(const api::NsmUrl* url);
// Go v1.1.1 filtermechanisms exactly: unix:// and inode:// kLocal, anything else kRemote.
Locality ClassifyStrictly(const api::NsmUrl* url);

struct WireguardOptions {
  bool enabled = false;
  // This forwarder's WireGuard public key: base64 of 32 bytes (no data plane here: it is only
  // announced, as src_public_key / dst_public_key).
  std::string public_key = {};
  uint16_t port = 51820;
};

struct VlanOptions {
  bool enabled = false;
  // The VLAN ids the serving side hands out, lowest free first (1..4094).
  uint16_t first_id = 0;
  uint16_t last_id = 0;
};

struct MechanismOptions {
  // LOCAL types accepted from the caller and offered to a local next hop.
  std::vector<std::string> local = {"KERNEL", "MEMIF"};
  // This node's tunnel end (NSM_TUNNEL_IP). Empty: no REMOTE mechanism is accepted or offered.
  std::string tunnel_ip = {};
  bool vxlan = true;
  uint16_t vxlan_port = 4789;  // NSM_VXLAN_PORT
  WireguardOptions wireguard = {};
  VlanOptions vlan = {};
  // Locality of the next hop from its URL; default ClassifyByScheme.
  std::function<Locality(const api::NsmUrl* url)> classify = ClassifyByScheme;
};

// InvalidArgument naming the option: tunnel_ip not an IP, WireGuard without tunnel IP or with a
// key that is not base64 of 32 bytes, VLAN range outside 1..4094 or reversed, unknown local type.
absl::Status Validate(const MechanismOptions& options);

// The REMOTE types `options` serves, in the order they are offered for a connection of `payload`:
// ETHERNET: VXLAN, VLAN (WireGuard carries IP only); anything else: WIREGUARD, VXLAN, VLAN. Each
// only when configured (all need the tunnel IP).
std::vector<std::string> RemoteTypes(const MechanismOptions& options, absl::string_view payload);

// The caller-facing side: a mechanisms::Server with a pass-through handler per LOCAL type and the
// tunnel handlers below for the configured REMOTE types.
std::shared_ptr<NetworkServiceServer> NewMechanismsServer(const MechanismOptions& options);

// VXLAN, serving side: requires the client's src_ip; sets dst_ip = tunnel IP, dst_port = the
// VXLAN port and, when the request carries no VNI, a random VNI of the parity rule (even iff
// src <= dst, mechanisms.md §8) that no other connection from the same src_ip holds here. The VNI
// is remembered per connection (server metadata), kept across refreshes, and released by Close
// or a failed first Request. A VNI sent by the client is kept (a refresh, or this forwarder
// restarted) unless another connection from that src_ip holds it (FAILED_PRECONDITION).
class VxlanServer : public NetworkServiceServer {
 public:
  VxlanServer(std::string tunnel_ip, uint16_t port)
      : tunnel_ip_(std::move(tunnel_ip)), port_(port) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  // VNIs currently held (for tests and metrics).
  size_t leases() const;

 private:
  using Key = std::pair<std::string, uint32_t>;  // (src IP, VNI)
  // OK when `key` is free or already held by `owner`, then held by `owner`.
  absl::Status Take(const Key& key, const std::string& owner);
  void Release(const Key& key, const std::string& owner);

  const std::string tunnel_ip_;
  const uint16_t port_;
  mutable absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key, std::string> owners_ ABSL_GUARDED_BY(mu_);
};

// WIREGUARD, serving side: requires the client's src_ip and src_public_key; sets dst_ip,
// dst_port and dst_public_key to this forwarder's. No state.
class WireguardServer : public NetworkServiceServer {
 public:
  WireguardServer(std::string tunnel_ip, WireguardOptions options)
      : tunnel_ip_(std::move(tunnel_ip)), options_(std::move(options)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  const std::string tunnel_ip_;
  const WireguardOptions options_;
};

// Remote VLAN, serving side: hands out the lowest free id of the range as `vlan-id` (kept across
// refreshes, released by Close or a failed first Request). An id sent by the client is kept when
// it lies in the range and no other connection holds it; otherwise FAILED_PRECONDITION.
// RESOURCE_EXHAUSTED when the range is used up.
class VlanServer : public NetworkServiceServer {
 public:
  explicit VlanServer(VlanOptions options) : options_(options) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

  size_t leases() const;

 private:
  const VlanOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint16_t, std::string> owners_ ABSL_GUARDED_BY(mu_);
};

// The next-hop side, after mechanismtranslation in the nested client chain. Request appends the
// preferences for the next hop's locality (options.classify on the client URL in the context):
// REMOTE ones (RemoteTypes order, this side's parameters: src_ip, src_port, src_public_key) and/or
// LOCAL ones (the caller's type first, then the other configured ones, without parameters).
// Nothing to offer: FAILED_PRECONDITION naming the URL and what is missing. A successful answer
// whose REMOTE mechanism lacks what a tunnel needs (dst_ip, a VNI, dst_public_key, a VLAN id) is
// closed again and refused with FAILED_PRECONDITION naming the parameter. Close: pass-through.
class MechanismsClient : public NetworkServiceClient {
 public:
  explicit MechanismsClient(MechanismOptions options) : options_(std::move(options)) {}

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  const MechanismOptions options_;
};

// OK when a REMOTE mechanism chosen by the next hop carries what the tunnel needs; other types
// are always OK.
absl::Status CheckAnswer(const connection::Mechanism& m);

}  // namespace nsm::forwarder

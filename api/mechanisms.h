// Mechanism classes, types and parameter keys, payloads, SR-IOV labels, and the small parameter
// helpers around them (mechanisms.md §1-§13; VLAN ids unsigned as in api v1.5.0, api.md §11).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connection.pb.h"

namespace nsm::api {

// Connection/NetworkService payloads (mechanisms.md §13).
namespace payload {
inline constexpr char kEthernet[] = "ETHERNET";
inline constexpr char kIP[] = "IP";  // registry-memory's default for an empty payload
}  // namespace payload

// SR-IOV label keys (mechanisms.md §13).
namespace sriov {
inline constexpr char kSriovTokenLabel[] = "sriovToken";
inline constexpr char kServiceDomainLabel[] = "serviceDomain";
}  // namespace sriov

namespace mech {

// Classes (mechanisms.md §1).
inline constexpr char kLocal[] = "LOCAL";
inline constexpr char kRemote[] = "REMOTE";

// Parameter keys shared by several types (mechanisms.md §3).
namespace common {
inline constexpr char kSrcIP[] = "src_ip";
inline constexpr char kDstIP[] = "dst_ip";
inline constexpr char kSrcPort[] = "src_port";
inline constexpr char kDstPort[] = "dst_port";
inline constexpr char kSrcOriginalIP[] = "orig_src_ip";
inline constexpr char kDstOriginalIP[] = "orig_dst_ip";
inline constexpr char kNetNSInode[] = "netnsInode";
inline constexpr char kInterfaceName[] = "name";
inline constexpr char kInodeURL[] = "inodeURL";
inline constexpr char kPCIAddress[] = "pciAddress";
inline constexpr char kDeviceTokenID[] = "tokenID";
inline constexpr char kMTU[] = "MTU";
}  // namespace common

// KERNEL (mechanisms.md §4).
namespace kernel {
inline constexpr char kType[] = "KERNEL";
inline constexpr char kNetNSURL[] = "inodeURL";
inline constexpr char kNetNSURLScheme[] = "file";
inline constexpr char kInterfaceName[] = "name";
inline constexpr char kNetNSInode[] = "netnsInode";
inline constexpr char kPCIAddress[] = "pciAddress";
inline constexpr char kDeviceTokenID[] = "tokenID";
inline constexpr char kSupportsVLAN[] = "supportsVlan";
inline constexpr char kVLAN[] = "vlan";
inline constexpr char kRouteLocalNet[] = "routeLocalNet";                // api v1.4.0
inline constexpr char kIPTables4NatTemplate[] = "IPTables4NatTemplate";  // api v1.4.0
inline constexpr size_t kLinuxIfMaxLength = 15;
// The SDK client's netns when none is given.
inline constexpr char kDefaultNetNSURL[] = "file:///proc/thread-self/ns/net";
}  // namespace kernel

// MEMIF (mechanisms.md §5). Both variants use the same inodeURL key.
namespace memif {
inline constexpr char kType[] = "MEMIF";
inline constexpr char kSocketFilename[] = "socketfile";  // abstract-socket variant only
inline constexpr char kNetNSURL[] = "inodeURL";          // abstract-socket variant
inline constexpr char kSocketFileURL[] = "inodeURL";     // filesystem-socket variant
inline constexpr char kFileScheme[] = "file";
}  // namespace memif

// VFIO (mechanisms.md §6).
namespace vfio {
inline constexpr char kType[] = "VFIO";
inline constexpr char kCgroupDir[] = "cgroupDir";
inline constexpr char kIommuGroup[] = "iommuGroup";
inline constexpr char kPCIAddress[] = "pciAddress";
inline constexpr char kDeviceTokenID[] = "tokenID";
inline constexpr char kVfioMajor[] = "vfioMajor";
inline constexpr char kVfioMinor[] = "vfioMinor";
inline constexpr char kDeviceMajor[] = "deviceMajor";
inline constexpr char kDeviceMinor[] = "deviceMinor";
}  // namespace vfio

// NOOP (mechanisms.md §7): no parameters.
namespace noop {
inline constexpr char kType[] = "NOOP";
}  // namespace noop

// VXLAN (mechanisms.md §8).
namespace vxlan {
inline constexpr char kType[] = "VXLAN";
inline constexpr char kSrcIP[] = "src_ip";
inline constexpr char kDstIP[] = "dst_ip";
inline constexpr char kSrcPort[] = "src_port";
inline constexpr char kDstPort[] = "dst_port";
inline constexpr char kSrcOriginalIP[] = "orig_src_ip";
inline constexpr char kDstOriginalIP[] = "orig_dst_ip";
inline constexpr char kVNI[] = "vni";
inline constexpr char kMTU[] = "MTU";
inline constexpr uint16_t kDefaultPort = 4789;
inline constexpr uint32_t kMaxVNI = 0xFFFFFF;
}  // namespace vxlan

// WIREGUARD (mechanisms.md §9).
namespace wireguard {
inline constexpr char kType[] = "WIREGUARD";
inline constexpr char kSrcIP[] = "src_ip";
inline constexpr char kDstIP[] = "dst_ip";
inline constexpr char kSrcPort[] = "src_port";
inline constexpr char kDstPort[] = "dst_port";
inline constexpr char kSrcPublicKey[] = "src_public_key";
inline constexpr char kDstPublicKey[] = "dst_public_key";
inline constexpr char kMTU[] = "MTU";
}  // namespace wireguard

// Remote VLAN (mechanisms.md §10); distinct from kernel::kVLAN.
namespace vlan {
inline constexpr char kType[] = "VLAN";
inline constexpr char kID[] = "vlan-id";
inline constexpr uint16_t kMaxID = 4095;
}  // namespace vlan

// SRV6 (mechanisms.md §11). Every key except the hardware addresses holds an IP.
namespace srv6 {
inline constexpr char kType[] = "SRV6";
inline constexpr char kSrcHostIP[] = "src_host_ip";
inline constexpr char kDstHostIP[] = "dst_host_ip";
inline constexpr char kSrcBSID[] = "src_bsid";
inline constexpr char kDstBSID[] = "dst_bsid";
inline constexpr char kSrcLocalSID[] = "src_localsid";
inline constexpr char kDstLocalSID[] = "dst_localsid";
inline constexpr char kSrcHostLocalSID[] = "src_host_localsid";
inline constexpr char kDstHostLocalSID[] = "dst_host_localsid";
inline constexpr char kSrcHardwareAddress[] = "src_hw_addr";
inline constexpr char kDstHardwareAddress[] = "dst_hw_addr";
}  // namespace srv6

// IPSEC (mechanisms.md §12, api v1.7.0+): the WireGuard keys.
namespace ipsec {
inline constexpr char kType[] = "IPSEC";
inline constexpr char kSrcIP[] = "src_ip";
inline constexpr char kDstIP[] = "dst_ip";
inline constexpr char kSrcPort[] = "src_port";
inline constexpr char kDstPort[] = "dst_port";
inline constexpr char kSrcPublicKey[] = "src_public_key";
inline constexpr char kDstPublicKey[] = "dst_public_key";
inline constexpr char kMTU[] = "MTU";
}  // namespace ipsec

// ---------------------------------------------------------------------------------------------
// Construction.

using Parameters = std::map<std::string, std::string>;

connection::Mechanism MakeMechanism(absl::string_view cls, absl::string_view type,
                                    const Parameters& parameters = {});
// LOCAL KERNEL with inodeURL = netns_url (e.g. "file:///proc/123/ns/net").
connection::Mechanism MakeKernel(absl::string_view netns_url = kernel::kDefaultNetNSURL);
// LOCAL MEMIF, filesystem-socket variant: inodeURL = "file://" + socket_path.
connection::Mechanism MakeMemifFilesystem(absl::string_view socket_path);
// LOCAL MEMIF, abstract-socket variant: socketfile = socket_name, inodeURL = "file://" +
// netns_path.
connection::Mechanism MakeMemifAbstract(absl::string_view socket_name,
                                        absl::string_view netns_path);
// LOCAL VFIO with cgroupDir.
connection::Mechanism MakeVfio(absl::string_view cgroup_dir);

// ---------------------------------------------------------------------------------------------
// Parameter access. Missing keys read as "".

std::string GetParameter(const connection::Mechanism& m, absl::string_view key);

// Go strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; nullopt otherwise.
std::optional<bool> ParseBool(absl::string_view text);
// The parameter as a bool; missing or unparsable reads as false.
bool GetBoolParameter(const connection::Mechanism& m, absl::string_view key);
// The parameter as an unsigned decimal no larger than `max`; missing, unparsable or too large
// reads as 0 (the helpers' convention, mechanisms.md preamble).
uint32_t GetUintParameter(const connection::Mechanism& m, absl::string_view key,
                          uint32_t max = UINT32_MAX);
// The parameter if it parses as an IP address, else "" (SRV6 convention, mechanisms.md §11).
std::string GetIpParameter(const connection::Mechanism& m, absl::string_view key);

// ---------------------------------------------------------------------------------------------
// KERNEL.

// SDK default interface name: first ≤10 characters of the network service, '-', connection id,
// all truncated to kLinuxIfMaxLength (15) characters.
std::string DefaultKernelInterfaceName(absl::string_view network_service,
                                       absl::string_view connection_id);

// ---------------------------------------------------------------------------------------------
// MEMIF.

enum class MemifVariant {
  kFilesystemSocket,  // inodeURL is the socket file
  kAbstractSocket,    // socketfile names an abstract socket, inodeURL is its netns
};
// The presence of `socketfile` marks the abstract-socket variant.
MemifVariant DetectMemifVariant(const connection::Mechanism& m);

// ---------------------------------------------------------------------------------------------
// VXLAN (mechanisms.md §8).

// Parity of the VNI this side must choose: source = orig_src_ip else src_ip, destination likewise.
// Even when the source is missing or unparsable; otherwise odd when the destination is missing or
// unparsable; otherwise even iff source <= destination comparing 16-byte addresses bytewise.
bool VniIsEven(const connection::Mechanism& m);
// A random 24-bit VNI of the parity above: (2r) & 0xFFFFFF or (2r+1) & 0xFFFFFF. Needs both IPs
// (InvalidArgument naming the missing key otherwise). VNI 0 is never returned (redrawn).
absl::StatusOr<uint32_t> GenerateRandomVni(const connection::Mechanism& m, absl::BitGenRef gen);
// The `vni` parameter (24-bit), 0 if missing or invalid.
uint32_t GetVni(const connection::Mechanism& m);

// ---------------------------------------------------------------------------------------------
// VLAN ids: unsigned decimal 0..4095 (the api v1.5.0 fix). Used for vlan::kID and kernel::kVLAN.

// InvalidArgument names `field` and the value.
absl::StatusOr<uint16_t> ParseVlanId(absl::string_view text, absl::string_view field = vlan::kID);
// The remote-VLAN `vlan-id` parameter; 0 when missing or invalid.
uint16_t GetVlanId(const connection::Mechanism& m);

}  // namespace mech
}  // namespace nsm::api

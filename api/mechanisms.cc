#include "api/mechanisms.h"

#include <algorithm>
#include <string>

#include "absl/random/distributions.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/path.h"

namespace nsm::api::mech {
namespace {

using connection::Mechanism;

// Strict unsigned decimal: digits only (no sign, no spaces), at most `max`.
std::optional<uint64_t> ParseUnsigned(absl::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return std::nullopt;
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value > max) return std::nullopt;
  return value;
}

// The first of the keys that is present and parses as an IP address.
std::optional<IpAddress> FirstIp(const Mechanism& m, absl::string_view preferred,
                                 absl::string_view fallback) {
  const std::string first = GetParameter(m, preferred);
  if (!first.empty()) return ParseIpAddress(first);
  return ParseIpAddress(GetParameter(m, fallback));
}

}  // namespace

Mechanism MakeMechanism(absl::string_view cls, absl::string_view type,
                        const Parameters& parameters) {
  Mechanism m;
  m.set_cls(std::string(cls));
  m.set_type(std::string(type));
  m.mutable_parameters()->insert(parameters.begin(), parameters.end());
  return m;
}

Mechanism MakeKernel(absl::string_view netns_url) {
  return MakeMechanism(kLocal, kernel::kType, {{kernel::kNetNSURL, std::string(netns_url)}});
}

Mechanism MakeMemifFilesystem(absl::string_view socket_path) {
  return MakeMechanism(kLocal, memif::kType,
                       {{memif::kSocketFileURL, absl::StrCat("file://", socket_path)}});
}

Mechanism MakeMemifAbstract(absl::string_view socket_name, absl::string_view netns_path) {
  return MakeMechanism(kLocal, memif::kType,
                       {{memif::kSocketFilename, std::string(socket_name)},
                        {memif::kNetNSURL, absl::StrCat("file://", netns_path)}});
}

Mechanism MakeVfio(absl::string_view cgroup_dir) {
  return MakeMechanism(kLocal, vfio::kType, {{vfio::kCgroupDir, std::string(cgroup_dir)}});
}

std::string GetParameter(const Mechanism& m, absl::string_view key) {
  auto it = m.parameters().find(std::string(key));
  return it == m.parameters().end() ? std::string() : it->second;
}

std::optional<bool> ParseBool(absl::string_view text) {
  if (text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "true" ||
      text == "True") {
    return true;
  }
  if (text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "false" ||
      text == "False") {
    return false;
  }
  return std::nullopt;
}

bool GetBoolParameter(const Mechanism& m, absl::string_view key) {
  return ParseBool(GetParameter(m, key)).value_or(false);
}

uint32_t GetUintParameter(const Mechanism& m, absl::string_view key, uint32_t max) {
  return static_cast<uint32_t>(ParseUnsigned(GetParameter(m, key), max).value_or(0));
}

std::string GetIpParameter(const Mechanism& m, absl::string_view key) {
  std::string value = GetParameter(m, key);
  return ParseIpAddress(value).has_value() ? value : std::string();
}

std::string DefaultKernelInterfaceName(absl::string_view network_service,
                                       absl::string_view connection_id) {
  std::string name = absl::StrCat(network_service.substr(0, 10), "-", connection_id);
  if (name.size() > kernel::kLinuxIfMaxLength) name.resize(kernel::kLinuxIfMaxLength);
  return name;
}

MemifVariant DetectMemifVariant(const Mechanism& m) {
  return m.parameters().contains(memif::kSocketFilename) ? MemifVariant::kAbstractSocket
                                                         : MemifVariant::kFilesystemSocket;
}

bool VniIsEven(const Mechanism& m) {
  const std::optional<IpAddress> src = FirstIp(m, vxlan::kSrcOriginalIP, vxlan::kSrcIP);
  if (!src.has_value()) return true;
  const std::optional<IpAddress> dst = FirstIp(m, vxlan::kDstOriginalIP, vxlan::kDstIP);
  if (!dst.has_value()) return false;
  return src->bytes <= dst->bytes;
}

absl::StatusOr<uint32_t> GenerateRandomVni(const Mechanism& m, absl::BitGenRef gen) {
  if (!FirstIp(m, vxlan::kSrcOriginalIP, vxlan::kSrcIP).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot choose a VNI: %s \"%s\" (or %s \"%s\") is not an IP address",
                        vxlan::kSrcIP, GetParameter(m, vxlan::kSrcIP), vxlan::kSrcOriginalIP,
                        GetParameter(m, vxlan::kSrcOriginalIP)));
  }
  if (!FirstIp(m, vxlan::kDstOriginalIP, vxlan::kDstIP).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot choose a VNI: %s \"%s\" (or %s \"%s\") is not an IP address",
                        vxlan::kDstIP, GetParameter(m, vxlan::kDstIP), vxlan::kDstOriginalIP,
                        GetParameter(m, vxlan::kDstOriginalIP)));
  }
  const uint32_t parity = VniIsEven(m) ? 0 : 1;
  uint32_t vni = 0;
  while (vni == 0) vni = (2 * absl::Uniform<uint32_t>(gen) + parity) & vxlan::kMaxVNI;
  return vni;
}

uint32_t GetVni(const Mechanism& m) { return GetUintParameter(m, vxlan::kVNI, vxlan::kMaxVNI); }

absl::StatusOr<uint16_t> ParseVlanId(absl::string_view text, absl::string_view field) {
  std::optional<uint64_t> id = ParseUnsigned(text, vlan::kMaxID);
  if (!id.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s \"%s\" is not a VLAN id: want an unsigned decimal in 0..%d", field,
                        text, vlan::kMaxID));
  }
  return static_cast<uint16_t>(*id);
}

uint16_t GetVlanId(const Mechanism& m) {
  return static_cast<uint16_t>(GetUintParameter(m, vlan::kID, vlan::kMaxID));
}

}  // namespace nsm::api::mech

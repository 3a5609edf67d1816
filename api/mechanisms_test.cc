#include "api/mechanisms.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/random/mock_distributions.h"
#include "absl/random/mocking_bit_gen.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"

namespace nsm::api::mech {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::Return;
using ::testing::UnorderedElementsAre;

TEST(MechanismsTest, ConstantsMatchTheSpec) {
  EXPECT_STREQ(kLocal, "LOCAL");
  EXPECT_STREQ(kRemote, "REMOTE");
  EXPECT_STREQ(kernel::kType, "KERNEL");
  EXPECT_STREQ(memif::kType, "MEMIF");
  EXPECT_STREQ(vfio::kType, "VFIO");
  EXPECT_STREQ(noop::kType, "NOOP");
  EXPECT_STREQ(vxlan::kType, "VXLAN");
  EXPECT_STREQ(wireguard::kType, "WIREGUARD");
  EXPECT_STREQ(vlan::kType, "VLAN");
  EXPECT_STREQ(srv6::kType, "SRV6");
  EXPECT_STREQ(ipsec::kType, "IPSEC");

  EXPECT_STREQ(common::kSrcIP, "src_ip");
  EXPECT_STREQ(common::kDstIP, "dst_ip");
  EXPECT_STREQ(common::kSrcPort, "src_port");
  EXPECT_STREQ(common::kDstPort, "dst_port");
  EXPECT_STREQ(common::kSrcOriginalIP, "orig_src_ip");
  EXPECT_STREQ(common::kDstOriginalIP, "orig_dst_ip");
  EXPECT_STREQ(common::kNetNSInode, "netnsInode");
  EXPECT_STREQ(common::kInterfaceName, "name");
  EXPECT_STREQ(common::kInodeURL, "inodeURL");
  EXPECT_STREQ(common::kPCIAddress, "pciAddress");
  EXPECT_STREQ(common::kDeviceTokenID, "tokenID");
  EXPECT_STREQ(common::kMTU, "MTU");

  EXPECT_STREQ(kernel::kNetNSURL, "inodeURL");
  EXPECT_STREQ(kernel::kNetNSURLScheme, "file");
  EXPECT_STREQ(kernel::kSupportsVLAN, "supportsVlan");
  EXPECT_STREQ(kernel::kVLAN, "vlan");
  EXPECT_STREQ(kernel::kRouteLocalNet, "routeLocalNet");
  EXPECT_STREQ(kernel::kIPTables4NatTemplate, "IPTables4NatTemplate");
  EXPECT_EQ(kernel::kLinuxIfMaxLength, 15u);

  EXPECT_STREQ(memif::kSocketFilename, "socketfile");
  EXPECT_STREQ(memif::kNetNSURL, "inodeURL");
  EXPECT_STREQ(memif::kSocketFileURL, "inodeURL");
  EXPECT_STREQ(memif::kFileScheme, "file");

  EXPECT_STREQ(vfio::kCgroupDir, "cgroupDir");
  EXPECT_STREQ(vfio::kIommuGroup, "iommuGroup");
  EXPECT_STREQ(vfio::kVfioMajor, "vfioMajor");
  EXPECT_STREQ(vfio::kVfioMinor, "vfioMinor");
  EXPECT_STREQ(vfio::kDeviceMajor, "deviceMajor");
  EXPECT_STREQ(vfio::kDeviceMinor, "deviceMinor");

  EXPECT_STREQ(vxlan::kVNI, "vni");
  EXPECT_STREQ(wireguard::kSrcPublicKey, "src_public_key");
  EXPECT_STREQ(wireguard::kDstPublicKey, "dst_public_key");
  EXPECT_STREQ(ipsec::kSrcPublicKey, "src_public_key");
  EXPECT_STREQ(vlan::kID, "vlan-id");

  EXPECT_STREQ(srv6::kSrcHostIP, "src_host_ip");
  EXPECT_STREQ(srv6::kDstHostIP, "dst_host_ip");
  EXPECT_STREQ(srv6::kSrcBSID, "src_bsid");
  EXPECT_STREQ(srv6::kDstBSID, "dst_bsid");
  EXPECT_STREQ(srv6::kSrcLocalSID, "src_localsid");
  EXPECT_STREQ(srv6::kDstLocalSID, "dst_localsid");
  EXPECT_STREQ(srv6::kSrcHostLocalSID, "src_host_localsid");
  EXPECT_STREQ(srv6::kDstHostLocalSID, "dst_host_localsid");
  EXPECT_STREQ(srv6::kSrcHardwareAddress, "src_hw_addr");
  EXPECT_STREQ(srv6::kDstHardwareAddress, "dst_hw_addr");

  EXPECT_STREQ(payload::kEthernet, "ETHERNET");
  EXPECT_STREQ(payload::kIP, "IP");
  EXPECT_STREQ(sriov::kSriovTokenLabel, "sriovToken");
  EXPECT_STREQ(sriov::kServiceDomainLabel, "serviceDomain");
}

TEST(MechanismsTest, Constructors) {
  connection::Mechanism m = MakeMechanism(kRemote, vxlan::kType, {{vxlan::kSrcIP, "10.0.0.1"}});
  EXPECT_EQ(m.cls(), "REMOTE");
  EXPECT_EQ(m.type(), "VXLAN");
  EXPECT_THAT(m.parameters(), UnorderedElementsAre(Pair("src_ip", "10.0.0.1")));

  m = MakeKernel("file:///proc/42/ns/net");
  EXPECT_EQ(m.cls(), "LOCAL");
  EXPECT_EQ(m.type(), "KERNEL");
  EXPECT_THAT(m.parameters(), UnorderedElementsAre(Pair("inodeURL", "file:///proc/42/ns/net")));
  EXPECT_EQ(GetParameter(MakeKernel(), kernel::kNetNSURL), "file:///proc/thread-self/ns/net");

  m = MakeMemifFilesystem("/run/memif.sock");
  EXPECT_EQ(m.type(), "MEMIF");
  EXPECT_THAT(m.parameters(), UnorderedElementsAre(Pair("inodeURL", "file:///run/memif.sock")));
  EXPECT_EQ(DetectMemifVariant(m), MemifVariant::kFilesystemSocket);

  m = MakeMemifAbstract("memif-1", "/proc/7/ns/net");
  EXPECT_THAT(m.parameters(), UnorderedElementsAre(Pair("socketfile", "memif-1"),
                                                   Pair("inodeURL", "file:///proc/7/ns/net")));
  EXPECT_EQ(DetectMemifVariant(m), MemifVariant::kAbstractSocket);

  m = MakeVfio("/sys/fs/cgroup/devices/pod");
  EXPECT_EQ(m.cls(), "LOCAL");
  EXPECT_EQ(m.type(), "VFIO");
  EXPECT_THAT(m.parameters(),
              UnorderedElementsAre(Pair("cgroupDir", "/sys/fs/cgroup/devices/pod")));
}

TEST(MechanismsTest, ParseBoolAcceptsGoSet) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_EQ(ParseBool(t), std::optional<bool>(true)) << t;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_EQ(ParseBool(f), std::optional<bool>(false)) << f;
  }
  for (const char* bad : {"", "yes", "tRUE", "2", " true", "true ", "on"}) {
    EXPECT_EQ(ParseBool(bad), std::nullopt) << bad;
  }
  connection::Mechanism m =
      MakeMechanism(kLocal, kernel::kType, {{kernel::kSupportsVLAN, "T"}, {"x", "maybe"}});
  EXPECT_TRUE(GetBoolParameter(m, kernel::kSupportsVLAN));
  EXPECT_FALSE(GetBoolParameter(m, "x"));
  EXPECT_FALSE(GetBoolParameter(m, "missing"));
}

TEST(MechanismsTest, NumericAndIpParameters) {
  connection::Mechanism m = MakeMechanism(kRemote, vxlan::kType,
                                          {{vxlan::kSrcPort, "4789"},
                                           {vxlan::kDstPort, "70000"},
                                           {vxlan::kMTU, "-1"},
                                           {vxlan::kVNI, "16777216"},
                                           {srv6::kSrcBSID, "fd00::1"},
                                           {srv6::kDstBSID, "not-an-ip"}});
  EXPECT_EQ(GetUintParameter(m, vxlan::kSrcPort, 65535), 4789u);
  EXPECT_EQ(GetUintParameter(m, vxlan::kDstPort, 65535), 0u);  // too large
  EXPECT_EQ(GetUintParameter(m, vxlan::kDstPort), 70000u);
  EXPECT_EQ(GetUintParameter(m, vxlan::kMTU), 0u);  // unparsable
  EXPECT_EQ(GetUintParameter(m, "missing"), 0u);
  EXPECT_EQ(GetVni(m), 0u);  // beyond 24 bits
  (*m.mutable_parameters())[vxlan::kVNI] = "16777215";
  EXPECT_EQ(GetVni(m), 16777215u);
  EXPECT_EQ(GetIpParameter(m, srv6::kSrcBSID), "fd00::1");
  EXPECT_EQ(GetIpParameter(m, srv6::kDstBSID), "");
  EXPECT_EQ(GetParameter(m, srv6::kDstBSID), "not-an-ip");
}

TEST(MechanismsTest, DefaultKernelInterfaceName) {
  EXPECT_EQ(DefaultKernelInterfaceName("my-service", "abc"), "my-service-abc");
  EXPECT_EQ(DefaultKernelInterfaceName("a-very-long-service", "12345678-aaaa"), "a-very-lon-1234");
  EXPECT_EQ(DefaultKernelInterfaceName("ns", "0123456789abcdef"), "ns-0123456789ab");
  EXPECT_EQ(DefaultKernelInterfaceName("ns", ""), "ns-");
  EXPECT_LE(DefaultKernelInterfaceName("x", std::string(64, 'z')).size(), 15u);
}

connection::Mechanism Vxlan(const Parameters& params) {
  return MakeMechanism(kRemote, vxlan::kType, params);
}

TEST(VxlanTest, VniParity) {
  EXPECT_TRUE(VniIsEven(Vxlan({})));  // no source
  EXPECT_TRUE(VniIsEven(Vxlan({{"src_ip", "bogus"}, {"dst_ip", "1.1.1.1"}})));
  EXPECT_FALSE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"}})));  // no destination
  EXPECT_FALSE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "x"}})));
  EXPECT_TRUE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "10.0.0.2"}})));
  EXPECT_FALSE(VniIsEven(Vxlan({{"src_ip", "10.0.0.2"}, {"dst_ip", "10.0.0.1"}})));
  EXPECT_TRUE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "10.0.0.1"}})));
  // The original addresses win over the translated ones.
  EXPECT_FALSE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"},
                                {"dst_ip", "10.0.0.2"},
                                {"orig_src_ip", "10.0.0.9"},
                                {"orig_dst_ip", "10.0.0.3"}})));
  // 16-byte comparison: an IPv4 address (::ffff:a.b.c.d) sorts above fd00::1? No: 0x00 < 0xfd.
  EXPECT_TRUE(VniIsEven(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "fd00::1"}})));
  EXPECT_FALSE(VniIsEven(Vxlan({{"src_ip", "fd00::1"}, {"dst_ip", "10.0.0.1"}})));
}

TEST(VxlanTest, RandomVniHasTheParityOfTheSide) {
  absl::BitGen gen;
  const connection::Mechanism even = Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "10.0.0.2"}});
  const connection::Mechanism odd = Vxlan({{"src_ip", "10.0.0.2"}, {"dst_ip", "10.0.0.1"}});
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<uint32_t> e = GenerateRandomVni(even, gen);
    absl::StatusOr<uint32_t> o = GenerateRandomVni(odd, gen);
    ASSERT_TRUE(e.ok() && o.ok());
    EXPECT_EQ(*e % 2, 0u);
    EXPECT_EQ(*o % 2, 1u);
    EXPECT_NE(*e, 0u);
    EXPECT_LE(*e, 0xFFFFFFu);
    EXPECT_LE(*o, 0xFFFFFFu);
  }
}

TEST(VxlanTest, RandomVniFormulaAndZeroRedraw) {
  absl::MockingBitGen gen;
  EXPECT_CALL(absl::MockUniform<uint32_t>(), Call(gen))
      .WillOnce(Return(0x00800000u))  // 2r & 0xFFFFFF == 0: redrawn
      .WillOnce(Return(0x12345678u));
  absl::StatusOr<uint32_t> vni =
      GenerateRandomVni(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "10.0.0.2"}}), gen);
  ASSERT_TRUE(vni.ok());
  EXPECT_EQ(*vni, (2u * 0x12345678u) & 0xFFFFFFu);

  absl::MockingBitGen gen2;
  EXPECT_CALL(absl::MockUniform<uint32_t>(), Call(gen2)).WillOnce(Return(0x7FFFFFu));
  vni = GenerateRandomVni(Vxlan({{"src_ip", "10.0.0.3"}, {"dst_ip", "10.0.0.2"}}), gen2);
  ASSERT_TRUE(vni.ok());
  EXPECT_EQ(*vni, (2u * 0x7FFFFFu + 1) & 0xFFFFFFu);
}

TEST(VxlanTest, RandomVniNeedsBothAddresses) {
  absl::BitGen gen;
  absl::StatusOr<uint32_t> vni = GenerateRandomVni(Vxlan({{"dst_ip", "10.0.0.2"}}), gen);
  EXPECT_EQ(vni.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(vni.status().message(),
              HasSubstr("src_ip \"\" (or orig_src_ip \"\") is not an IP address"));
  vni = GenerateRandomVni(Vxlan({{"src_ip", "10.0.0.1"}, {"dst_ip", "nope"}}), gen);
  EXPECT_EQ(vni.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(vni.status().message(),
              HasSubstr("dst_ip \"nope\" (or orig_dst_ip \"\") is not an IP address"));
}

TEST(VlanTest, ParseVlanIdIsUnsigned) {
  EXPECT_EQ(*ParseVlanId("0"), 0);
  EXPECT_EQ(*ParseVlanId("100"), 100);
  EXPECT_EQ(*ParseVlanId("2048"), 2048);  // read back as 0 by the signed v1.1.1 helper
  EXPECT_EQ(*ParseVlanId("4095"), 4095);
  for (const char* bad : {"", "4096", "-1", "+5", " 5", "0x10", "abc", "99999999999999999999999"}) {
    absl::StatusOr<uint16_t> id = ParseVlanId(bad);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(
        id.status().message(),
        HasSubstr(absl::StrCat("vlan-id \"", bad,
                               "\" is not a VLAN id: want an unsigned decimal in 0..4095")));
  }
  EXPECT_THAT(ParseVlanId("5000", kernel::kVLAN).status().message(), HasSubstr("vlan \"5000\""));
  EXPECT_EQ(GetVlanId(MakeMechanism(kRemote, vlan::kType, {{vlan::kID, "3000"}})), 3000);
  EXPECT_EQ(GetVlanId(MakeMechanism(kRemote, vlan::kType, {{vlan::kID, "4096"}})), 0);
  EXPECT_EQ(GetVlanId(MakeMechanism(kRemote, vlan::kType)), 0);
}

}  // namespace
}  // namespace nsm::api::mech

// forwarder configuration: cmd-forwarder-vpp defaults, every variable set, each kind of invalid
// value named with variable and value, and --help listing every variable with its default.
#include "reference/forwarder/config.h"

#include "gtest/gtest.h"

namespace nsm::forwarder {
namespace {

using reference::MapEnvironment;

void ExpectInvalid(const std::map<std::string, std::string>& env, const std::string& variable,
                   const std::string& value) {
  auto c = ParseConfig(MapEnvironment(env));
  ASSERT_FALSE(c.ok()) << variable << "=" << value;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(variable + "=\"" + value + "\""), std::string::npos)
      << c.status();
}

TEST(ForwarderConfig, Defaults) {
  auto c = ParseConfig(MapEnvironment({}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.name, "forwarder");
  EXPECT_EQ(c->listen_on, "unix:///listen.on.socket");
  EXPECT_EQ(c->options.nsmgr_url, "unix:///connect.to.socket");
  EXPECT_EQ(c->options.service_name, "forwarder");
  EXPECT_EQ(c->options.labels, (std::map<std::string, std::string>{{"p2p", "true"}}));
  EXPECT_EQ(c->options.dial_timeout, absl::Milliseconds(750));
  EXPECT_EQ(c->options.max_token_lifetime, absl::Minutes(10));
  EXPECT_TRUE(c->options.fibers);
  EXPECT_EQ(c->options.mechanisms.tunnel_ip, "");
  EXPECT_EQ(c->options.mechanisms.vxlan_port, 4789);
  EXPECT_FALSE(c->options.mechanisms.wireguard.enabled);
  EXPECT_FALSE(c->options.mechanisms.vlan.enabled);
  EXPECT_EQ(c->options.mechanisms.local, (std::vector<std::string>{"KERNEL", "MEMIF"}));
  EXPECT_EQ(c->log_level, log::Level::kInfo);
}

TEST(ForwarderConfig, EverythingSet) {
  auto c = ParseConfig(MapEnvironment({
      {"NSM_NAME", "fwd-a"},
      {"NSM_LISTEN_ON", "tcp://127.0.0.1:0"},
      {"NSM_CONNECT_TO", "tcp://127.0.0.1:5001"},
      {"NSM_NSNAME", "fwd"},
      {"NSM_LABELS", "p2mp:true,zone=a"},
      {"NSM_DIAL_TIMEOUT", "2s"},
      {"NSM_MAX_TOKEN_LIFETIME", "1h"},
      {"NSM_FIBERS", "false"},
      {"NSM_TUNNEL_IP", "192.168.0.10"},
      {"NSM_VXLAN_PORT", "0"},
      {"NSM_WIREGUARD_PUBLIC_KEY", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU="},
      {"NSM_WIREGUARD_PORT", "51999"},
      {"NSM_VLAN_IDS", "100-199"},
      {"NSM_LOCAL_MECHANISMS", "kernel"},
      {"NSM_LOG_LEVEL", "trace"},
      {"NSM_LOG_FORMAT", "json"},
  }));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log_format, log::Format::kJson);
  const Options& o = c->options;
  EXPECT_EQ(o.name, "fwd-a");
  EXPECT_EQ(c->listen_on, "tcp://127.0.0.1:0");
  EXPECT_EQ(o.nsmgr_url, "tcp://127.0.0.1:5001");
  EXPECT_EQ(o.service_name, "fwd");
  EXPECT_EQ(o.labels, (std::map<std::string, std::string>{{"p2mp", "true"}, {"zone", "a"}}))
      << "NSM_LABELS replaces the default";
  EXPECT_EQ(o.dial_timeout, absl::Seconds(2));
  EXPECT_EQ(o.max_token_lifetime, absl::Hours(1));
  EXPECT_FALSE(o.fibers);
  EXPECT_NE(Describe(*c).find("fibers=false"), std::string::npos);
  EXPECT_EQ(o.mechanisms.tunnel_ip, "192.168.0.10");
  EXPECT_EQ(o.mechanisms.vxlan_port, 4789) << "0 means the default, as in cmd-forwarder-vpp";
  EXPECT_TRUE(o.mechanisms.wireguard.enabled);
  EXPECT_EQ(o.mechanisms.wireguard.port, 51999);
  EXPECT_TRUE(o.mechanisms.vlan.enabled);
  EXPECT_EQ(o.mechanisms.vlan.first_id, 100);
  EXPECT_EQ(o.mechanisms.vlan.last_id, 199);
  EXPECT_EQ(o.mechanisms.local, std::vector<std::string>{"KERNEL"});
  EXPECT_EQ(c->log_level, log::Level::kTrace);
  EXPECT_NE(Describe(*c).find("tunnel_ip=192.168.0.10"), std::string::npos);
}

TEST(ForwarderConfig, ServiceNameAlias) {
  auto c = ParseConfig(MapEnvironment({{"NSM_FORWARDER_NETWORK_SERVICE_NAME", "fwd"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.service_name, "fwd");
  auto clash = ParseConfig(
      MapEnvironment({{"NSM_NSNAME", "a"}, {"NSM_FORWARDER_NETWORK_SERVICE_NAME", "b"}}));
  EXPECT_FALSE(clash.ok());
}

TEST(ForwarderConfig, InvalidValues) {
  ExpectInvalid({{"NSM_NAME", ""}}, "NSM_NAME", "");
  ExpectInvalid({{"NSM_LISTEN_ON", "http://x"}}, "NSM_LISTEN_ON", "http://x");
  ExpectInvalid({{"NSM_CONNECT_TO", "tcp://:5001"}}, "NSM_CONNECT_TO", "tcp://:5001");
  ExpectInvalid({{"NSM_NSNAME", ""}}, "NSM_NSNAME", "");
  ExpectInvalid({{"NSM_LABELS", "p2p"}}, "NSM_LABELS", "p2p");
  ExpectInvalid({{"NSM_DIAL_TIMEOUT", "5"}}, "NSM_DIAL_TIMEOUT", "5");
  ExpectInvalid({{"NSM_MAX_TOKEN_LIFETIME", "0s"}}, "NSM_MAX_TOKEN_LIFETIME", "0s");
  ExpectInvalid({{"NSM_FIBERS", "sometimes"}}, "NSM_FIBERS", "sometimes");
  ExpectInvalid({{"NSM_TUNNEL_IP", "10.0.0"}}, "NSM_TUNNEL_IP", "10.0.0");
  ExpectInvalid({{"NSM_VXLAN_PORT", "70000"}}, "NSM_VXLAN_PORT", "70000");
  ExpectInvalid({{"NSM_WIREGUARD_PUBLIC_KEY", "abc"}, {"NSM_TUNNEL_IP", "10.0.0.1"}},
                "NSM_WIREGUARD_PUBLIC_KEY", "abc");
  ExpectInvalid({{"NSM_WIREGUARD_PUBLIC_KEY", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU="}},
                "NSM_WIREGUARD_PUBLIC_KEY", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=");
  ExpectInvalid({{"NSM_WIREGUARD_PORT", "0"}}, "NSM_WIREGUARD_PORT", "0");
  ExpectInvalid({{"NSM_VLAN_IDS", "200-100"}}, "NSM_VLAN_IDS", "200-100");
  ExpectInvalid({{"NSM_VLAN_IDS", "0-10"}}, "NSM_VLAN_IDS", "0-10");
  ExpectInvalid({{"NSM_VLAN_IDS", "a-b"}}, "NSM_VLAN_IDS", "a-b");
  ExpectInvalid({{"NSM_LOCAL_MECHANISMS", "KERNEL,VXLAN"}}, "NSM_LOCAL_MECHANISMS", "KERNEL,VXLAN");
  ExpectInvalid({{"NSM_LOG_LEVEL", "verbose"}}, "NSM_LOG_LEVEL", "verbose");
  ExpectInvalid({{"NSM_LOG_FORMAT", "yaml"}}, "NSM_LOG_FORMAT", "yaml");
}

TEST(ForwarderConfig, HelpListsEveryVariableWithItsDefault) {
  const std::string help = HelpText();
  for (const auto& v : Variables()) {
    EXPECT_NE(help.find(v.name), std::string::npos) << v.name;
    if (!v.default_value.empty()) {
      EXPECT_NE(help.find("default " + v.default_value), std::string::npos) << v.name;
    }
  }
  EXPECT_NE(help.find("NSM_FORWARDER_NETWORK_SERVICE_NAME"), std::string::npos);
  EXPECT_NE(help.find("SIGTERM"), std::string::npos);
}

}  // namespace
}  // namespace nsm::forwarder

// nse configuration: cmd-nse-icmp-responder defaults, everything set, each kind of invalid value
// named with variable and value, and --help listing every variable.
#include "reference/nse/config.h"

#include "gtest/gtest.h"

namespace nsm::nse {
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

TEST(NseConfig, Defaults) {
  auto c = ParseConfig(MapEnvironment({}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.name, "icmp-server");
  EXPECT_EQ(c->listen_on, "");
  EXPECT_EQ(c->options.nsmgr_url, "unix:///var/lib/networkservicemesh/nsm.io.sock");
  EXPECT_EQ(c->options.service_names, std::vector<std::string>{"icmp-responder"});
  EXPECT_TRUE(c->options.labels.empty());
  EXPECT_EQ(c->options.payload, "ETHERNET");
  EXPECT_TRUE(c->options.register_service);
  EXPECT_EQ(c->options.cidr_prefixes, std::vector<std::string>{"169.254.0.0/16"});
  EXPECT_EQ(c->options.mechanisms, (std::vector<std::string>{"KERNEL", "MEMIF", "NOOP"}));
  EXPECT_EQ(c->options.max_token_lifetime, absl::Minutes(10));
}

TEST(NseConfig, EverythingSet) {
  auto c = ParseConfig(MapEnvironment({{"NSM_NAME", "nse-1"},
                                       {"NSM_LISTEN_ON", "tcp://:0"},
                                       {"NSM_CONNECT_TO", "tcp://127.0.0.1:5001"},
                                       {"NSM_SERVICE_NAMES", "a,b@domain"},
                                       {"NSM_LABELS", "app:x,zone=z"},
                                       {"NSM_PAYLOAD", "IP"},
                                       {"NSM_REGISTER_SERVICE", "false"},
                                       {"NSM_CIDR_PREFIX", "10.0.0.0/24,fd00::/64"},
                                       {"NSM_MECHANISMS", "kernel"},
                                       {"NSM_MAX_TOKEN_LIFETIME", "30m"},
                                       {"NSM_LOG_LEVEL", "debug"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.name, "nse-1");
  EXPECT_EQ(c->listen_on, "tcp://:0");
  EXPECT_EQ(c->options.service_names, (std::vector<std::string>{"a", "b@domain"}));
  EXPECT_EQ(c->options.labels, (std::map<std::string, std::string>{{"app", "x"}, {"zone", "z"}}));
  EXPECT_EQ(c->options.payload, "IP");
  EXPECT_FALSE(c->options.register_service);
  EXPECT_EQ(c->options.cidr_prefixes, (std::vector<std::string>{"10.0.0.0/24", "fd00::/64"}));
  EXPECT_EQ(c->options.mechanisms, std::vector<std::string>{"KERNEL"});
  EXPECT_EQ(c->options.max_token_lifetime, absl::Minutes(30));
  EXPECT_EQ(c->log_level, log::Level::kDebug);
}

TEST(NseConfig, InvalidValues) {
  ExpectInvalid({{"NSM_NAME", ""}}, "NSM_NAME", "");
  ExpectInvalid({{"NSM_LOG_FORMAT", "yaml"}}, "NSM_LOG_FORMAT", "yaml");
  ExpectInvalid({{"NSM_LISTEN_ON", "unix://relative"}}, "NSM_LISTEN_ON", "unix://relative");
  ExpectInvalid({{"NSM_CONNECT_TO", ""}}, "NSM_CONNECT_TO", "");
  ExpectInvalid({{"NSM_SERVICE_NAMES", ""}}, "NSM_SERVICE_NAMES", "");
  ExpectInvalid({{"NSM_SERVICE_NAMES", "a,"}}, "NSM_SERVICE_NAMES", "a,");
  ExpectInvalid({{"NSM_LABELS", "a"}}, "NSM_LABELS", "a");
  ExpectInvalid({{"NSM_PAYLOAD", "L2"}}, "NSM_PAYLOAD", "L2");
  ExpectInvalid({{"NSM_REGISTER_SERVICE", "maybe"}}, "NSM_REGISTER_SERVICE", "maybe");
  ExpectInvalid({{"NSM_CIDR_PREFIX", "169.254.0.0"}}, "NSM_CIDR_PREFIX", "169.254.0.0");
  ExpectInvalid({{"NSM_MECHANISMS", "VXLAN"}}, "NSM_MECHANISMS", "VXLAN");
  ExpectInvalid({{"NSM_MAX_TOKEN_LIFETIME", "forever"}}, "NSM_MAX_TOKEN_LIFETIME", "forever");
  ExpectInvalid({{"NSM_IDLE_TIMEOUT", "1"}}, "NSM_IDLE_TIMEOUT", "1");
  ExpectInvalid({{"NSM_LOG_LEVEL", "x"}}, "NSM_LOG_LEVEL", "x");
}

TEST(NseConfig, HelpListsEveryVariable) {
  const std::string help = HelpText();
  for (const auto& v : Variables()) EXPECT_NE(help.find(v.name), std::string::npos) << v.name;
  EXPECT_NE(help.find("default 169.254.0.0/16"), std::string::npos);
  EXPECT_NE(help.find("default ETHERNET"), std::string::npos);
}

}  // namespace
}  // namespace nsm::nse

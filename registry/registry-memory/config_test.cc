// registry-memory configuration: defaults, both prefixes, disagreeing prefixes, every kind of
// invalid value named with variable and value, and the --help text listing every variable.
#include "registry/registry-memory/config.h"

#include <map>

#include "gtest/gtest.h"

namespace nsm::reg::registry_memory {
namespace {

Getenv Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

void ExpectInvalid(const std::map<std::string, std::string>& vars, const std::string& variable,
                   const std::string& value) {
  auto c = ParseConfig(Env(vars));
  ASSERT_FALSE(c.ok()) << variable;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(variable + "=\"" + value + "\""), std::string::npos)
      << c.status();
}

TEST(Config, Defaults) {
  auto c = ParseConfig(Env({}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_on, std::vector<std::string>{"unix:///listen.on.socket"});
  EXPECT_EQ(c->proxy_registry_url, "");
  EXPECT_EQ(c->expire_period, absl::Minutes(1));
  EXPECT_EQ(c->log_level, log::Level::kInfo);
  EXPECT_EQ(c->max_token_lifetime, absl::Minutes(10));
}

TEST(Config, BothPrefixes) {
  auto old_style = ParseConfig(Env({{"REGISTRY_MEMORY_LISTEN_ON", "tcp://:5002"},
                                    {"REGISTRY_MEMORY_EXPIRE_PERIOD", "30s"},
                                    {"REGISTRY_MEMORY_PROXY_REGISTRY_URL", "tcp://10.0.0.9:5005"},
                                    {"REGISTRY_MEMORY_LOG_LEVEL", "debug"}}));
  ASSERT_TRUE(old_style.ok()) << old_style.status();
  EXPECT_EQ(old_style->listen_on, std::vector<std::string>{"tcp://:5002"});
  EXPECT_EQ(old_style->expire_period, absl::Seconds(30));
  EXPECT_EQ(old_style->proxy_registry_url, "tcp://10.0.0.9:5005");
  EXPECT_EQ(old_style->log_level, log::Level::kDebug);

  auto new_style = ParseConfig(Env({{"NSM_LISTEN_ON", "unix:///run/a.sock,tcp://127.0.0.1:5002"},
                                    {"NSM_EXPIRE_PERIOD", "1h30m"}}));
  ASSERT_TRUE(new_style.ok()) << new_style.status();
  EXPECT_EQ(new_style->listen_on,
            (std::vector<std::string>{"unix:///run/a.sock", "tcp://127.0.0.1:5002"}));
  EXPECT_EQ(new_style->expire_period, absl::Minutes(90));

  auto same = ParseConfig(Env({{"NSM_LOG_LEVEL", "warn"}, {"REGISTRY_MEMORY_LOG_LEVEL", "warn"}}));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->log_level, log::Level::kWarn);
}

TEST(Config, DisagreeingPrefixes) {
  auto c = ParseConfig(Env({{"NSM_EXPIRE_PERIOD", "1m"}, {"REGISTRY_MEMORY_EXPIRE_PERIOD", "2m"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("NSM_EXPIRE_PERIOD=\"1m\""), std::string::npos);
  EXPECT_NE(c.status().message().find("REGISTRY_MEMORY_EXPIRE_PERIOD=\"2m\""), std::string::npos);
}

TEST(Config, InvalidDuration) {
  ExpectInvalid({{"NSM_EXPIRE_PERIOD", "abc"}}, "NSM_EXPIRE_PERIOD", "abc");
  ExpectInvalid({{"NSM_EXPIRE_PERIOD", "10"}}, "NSM_EXPIRE_PERIOD", "10");
  ExpectInvalid({{"NSM_EXPIRE_PERIOD", "inf"}}, "NSM_EXPIRE_PERIOD", "inf");
  ExpectInvalid({{"REGISTRY_MEMORY_MAX_TOKEN_LIFETIME", "-1s"}},
                "REGISTRY_MEMORY_MAX_TOKEN_LIFETIME", "-1s");
}

TEST(Config, ExpirePeriodMustBePositive) {
  ExpectInvalid({{"NSM_EXPIRE_PERIOD", "0s"}}, "NSM_EXPIRE_PERIOD", "0s");
  ExpectInvalid({{"NSM_EXPIRE_PERIOD", ""}}, "NSM_EXPIRE_PERIOD", "");
}

TEST(Config, InvalidListenUrls) {
  ExpectInvalid({{"NSM_LISTEN_ON", "http://x:1"}}, "NSM_LISTEN_ON", "http://x:1");
  ExpectInvalid({{"NSM_LISTEN_ON", "tcp://:5002,"}}, "NSM_LISTEN_ON", "tcp://:5002,");
  ExpectInvalid({{"NSM_LISTEN_ON", ""}}, "NSM_LISTEN_ON", "");
  ExpectInvalid({{"NSM_LISTEN_ON", "unix://relative.sock"}}, "NSM_LISTEN_ON",
                "unix://relative.sock");
}

TEST(Config, InvalidProxyUrl) {
  ExpectInvalid({{"NSM_PROXY_REGISTRY_URL", "tcp://:5005"}}, "NSM_PROXY_REGISTRY_URL",
                "tcp://:5005");
  auto empty = ParseConfig(Env({{"NSM_PROXY_REGISTRY_URL", ""}}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->proxy_registry_url, "");
}

TEST(Config, InvalidLogLevel) {
  ExpectInvalid({{"NSM_LOG_LEVEL", "loud"}}, "NSM_LOG_LEVEL", "loud");
}

TEST(Config, LogFormat) {
  EXPECT_EQ(ParseConfig(Env({}))->log_format, log::Format::kText);
  EXPECT_EQ(ParseConfig(Env({{"REGISTRY_MEMORY_LOG_FORMAT", "json"}}))->log_format,
            log::Format::kJson);
  ExpectInvalid({{"NSM_LOG_FORMAT", "xml"}}, "NSM_LOG_FORMAT", "xml");
  EXPECT_NE(HelpText().find("NSM_LOG_FORMAT"), std::string::npos);
}

TEST(Config, InvalidBool) {
  ExpectInvalid({{"NSM_PPROF_ENABLED", "yes"}}, "NSM_PPROF_ENABLED", "yes");
  ExpectInvalid({{"TRACER_ENABLED", "maybe"}}, "TRACER_ENABLED", "maybe");
  EXPECT_TRUE(ParseConfig(Env({{"TRACER_ENABLED", "F"}, {"TELEMETRY", "1"}})).ok());
}

TEST(Config, HelpListsEveryVariableWithItsDefault) {
  const std::string help = HelpText();
  for (const auto& v : Variables()) {
    if (v.prefixed) {
      EXPECT_NE(help.find(std::string("NSM_") + v.name), std::string::npos) << v.name;
      EXPECT_NE(help.find(std::string("REGISTRY_MEMORY_") + v.name), std::string::npos) << v.name;
    } else {
      EXPECT_NE(help.find(v.name), std::string::npos) << v.name;
    }
    EXPECT_NE(help.find(*v.default_value ? v.default_value : "(empty)"), std::string::npos)
        << v.name;
  }
}

}  // namespace
}  // namespace nsm::reg::registry_memory

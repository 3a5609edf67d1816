#include "nsmgr/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::nsmgr {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Config> Parse(std::map<std::string, std::string> env) {
  return ParseConfig(env::FromMap(std::move(env)), "node1");
}

TEST(NsmgrConfigTest, Defaults) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "nsmgr-node1");
  EXPECT_EQ(c->listen_on,
            std::vector<std::string>{"unix:///var/lib/networkservicemesh/nsm.io.sock"});
  EXPECT_EQ(c->registry_url, "tcp://localhost:5001");
  EXPECT_EQ(c->max_token_lifetime, absl::Minutes(10));
  EXPECT_EQ(c->dial_timeout, absl::Milliseconds(750));
  EXPECT_EQ(c->restart_grace, absl::Seconds(20));
  EXPECT_TRUE(c->fibers);
  EXPECT_EQ(c->forwarder_service_name, "forwarder");
  EXPECT_EQ(c->forwarder_policy, "registration-order");
  EXPECT_EQ(c->log_level, log::Level::kInfo);
  EXPECT_EQ(c->log_format, log::Format::kText);
}

TEST(NsmgrConfigTest, LogFormat) {
  auto json = Parse({{"NSM_LOG_FORMAT", "JSON"}});
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->log_format, log::Format::kJson);
  EXPECT_THAT(Describe(*json), HasSubstr("log_format=json"));
  auto bad = Parse({{"NSM_LOG_FORMAT", "logfmt"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "NSM_LOG_FORMAT=\"logfmt\" is invalid: unknown log format \"logfmt\" (want text or "
            "json)");
  EXPECT_THAT(HelpText(), HasSubstr("NSM_LOG_FORMAT"));
  EXPECT_THAT(HelpText(), HasSubstr("SIGUSR1"));
}

TEST(NsmgrConfigTest, Values) {
  auto c = Parse({{"NSM_NAME", "mgr-a"},
                  {"NSM_LISTEN_ON", "unix:///tmp/a.sock,tcp://127.0.0.1:5002"},
                  {"NSM_REGISTRY_URL", ""},
                  {"NSM_DIAL_TIMEOUT", "2s"},
                  {"NSM_RESTART_GRACE", "0"},
                  {"NSM_FIBERS", "false"},
                  {"NSM_MAX_TOKEN_LIFETIME", "1h"},
                  {"NSM_FORWARDER_NETWORK_SERVICE_NAME", "fwd"},
                  {"NSM_FORWARDER_POLICY", "least-connections"},
                  {"NSM_LOG_LEVEL", "debug"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "mgr-a");
  EXPECT_EQ(c->listen_on.size(), 2u);
  EXPECT_EQ(c->registry_url, "");
  EXPECT_EQ(c->dial_timeout, absl::Seconds(2));
  EXPECT_EQ(c->restart_grace, absl::ZeroDuration()) << "0 turns it off";
  EXPECT_FALSE(c->fibers);
  EXPECT_THAT(Describe(*c), HasSubstr("fibers=false"));
  EXPECT_EQ(c->max_token_lifetime, absl::Hours(1));
  EXPECT_EQ(c->forwarder_service_name, "fwd");
  EXPECT_EQ(c->forwarder_policy, "least-connections");
  EXPECT_EQ(c->log_level, log::Level::kDebug);
}

TEST(NsmgrConfigTest, BadValuesNameTheVariable) {
  struct Case {
    const char* var;
    const char* value;
    const char* says;
  } cases[] = {
      {"NSM_NAME", "", "must not be empty"},
      {"NSM_LISTEN_ON", "", "no URL"},
      {"NSM_LISTEN_ON", "http://x:1", "http://x:1"},
      {"NSM_LISTEN_ON", "unix://relative", "unix://relative"},
      {"NSM_REGISTRY_URL", "tcp://:5001", "is invalid"},
      {"NSM_DIAL_TIMEOUT", "fast", "want a duration"},
      {"NSM_DIAL_TIMEOUT", "0s", "longer than 0"},
      {"NSM_RESTART_GRACE", "-5s", "must not be negative"},
      {"NSM_RESTART_GRACE", "long", "want a duration"},
      {"NSM_FIBERS", "sometimes", "true or false"},
      {"NSM_MAX_TOKEN_LIFETIME", "-1m", "longer than 0"},
      {"NSM_FORWARDER_NETWORK_SERVICE_NAME", "", "must not be empty"},
      {"NSM_FORWARDER_POLICY", "random", "registration-order or least-connections"},
      {"NSM_LOG_LEVEL", "loud", "is invalid"},
      {"NSM_PPROF_ENABLED", "maybe", "true or false"},
      {"NSM_METRICS_EXPORT_INTERVAL", "often", "want a duration"},
  };
  for (const auto& c : cases) {
    auto parsed = Parse({{c.var, c.value}});
    ASSERT_FALSE(parsed.ok()) << c.var << "=" << c.value;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(std::string(c.var) + "=\""));
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.says)) << c.var;
  }
}

TEST(NsmgrConfigTest, HelpListsEveryVariableWithItsDefault) {
  const std::string help = HelpText();
  for (const auto& v : Variables()) {
    const std::string name = v.prefixed ? std::string("NSM_") + v.name : v.name;
    EXPECT_THAT(help, HasSubstr("  " + name + "\n")) << name;
  }
  EXPECT_THAT(help, HasSubstr("default unix:///var/lib/networkservicemesh/nsm.io.sock"));
  EXPECT_THAT(help, HasSubstr("default tcp://localhost:5001"));
  EXPECT_THAT(help, HasSubstr("SIGTERM"));
}

TEST(NsmgrConfigTest, PublicUrlIsTheFirstTcpUrl) {
  EXPECT_EQ(*PublicUrl({"unix:///a.sock", "tcp://10.0.0.1:5001"}, "192.168.1.2"),
            "tcp://10.0.0.1:5001");
  EXPECT_EQ(*PublicUrl({"unix:///a.sock", "tcp://:5001"}, "192.168.1.2"), "tcp://192.168.1.2:5001");
  EXPECT_EQ(*PublicUrl({"unix:///a.sock", "unix:///b.sock"}, "192.168.1.2"), "unix:///a.sock");
  auto none = PublicUrl({"tcp://:5001"}, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status().message(), HasSubstr("NSM_LISTEN_ON"));
}

}  // namespace
}  // namespace nsm::nsmgr

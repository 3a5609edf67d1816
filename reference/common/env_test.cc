// EnvReader: defaults only for unset variables, aliases that must agree, every kind of invalid
// value named with variable and value, and the --help table.
#include "reference/common/env.h"

#include "gtest/gtest.h"

namespace nsm::reference {
namespace {

const std::vector<Variable>& Vars() {
  static const auto* vars = new std::vector<Variable>{
      {"NSM_NAME", "string", "nsc", "the name"},
      {"NSM_TIMEOUT", "duration", "15s", "a timeout"},
      {"NSM_URL", "URL", "unix:///var/lib/networkservicemesh/nsm.io.sock", "a URL"},
      {"NSM_LISTEN", "URL", "tcp://:5001", "a listen URL"},
      {"NSM_LIST", "list of string", "a,b", "a list"},
      {"NSM_LABELS", "map", "p2p:true", "labels"},
      {"NSM_FLAG", "bool", "true", "a flag"},
      {"NSM_PORT", "uint16", "4789", "a port"},
      {"NSM_IP", "IP", "", "an address"},
      {"NSM_LOG_LEVEL", "string", "INFO", "level"},
      {"NSM_SVC", "string", "forwarder", "service", {"NSM_OTHER_SVC"}},
  };
  return *vars;
}

std::string Message(const std::map<std::string, std::string>& env,
                    const std::function<void(EnvReader&)>& read) {
  EnvReader r(MapEnvironment(env), Vars());
  read(r);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  return std::string(r.status().message());
}

TEST(EnvReader, Defaults) {
  EnvReader r(MapEnvironment({}), Vars());
  EXPECT_EQ(r.String("NSM_NAME"), "nsc");
  EXPECT_EQ(r.Duration("NSM_TIMEOUT"), absl::Seconds(15));
  EXPECT_EQ(r.Url("NSM_URL", false, false), "unix:///var/lib/networkservicemesh/nsm.io.sock");
  EXPECT_EQ(r.Url("NSM_LISTEN", true, false), "tcp://:5001");
  EXPECT_EQ(r.List("NSM_LIST"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.Labels("NSM_LABELS"), (std::map<std::string, std::string>{{"p2p", "true"}}));
  EXPECT_TRUE(r.Bool("NSM_FLAG"));
  EXPECT_EQ(r.Uint("NSM_PORT", 0, 65535), 4789u);
  EXPECT_EQ(r.Ip("NSM_IP", true), "");
  EXPECT_EQ(r.LogLevel("NSM_LOG_LEVEL"), log::Level::kInfo);
  EXPECT_EQ(r.String("NSM_SVC"), "forwarder");
  EXPECT_TRUE(r.status().ok()) << r.status();
}

TEST(EnvReader, SetValues) {
  EnvReader r(MapEnvironment({{"NSM_NAME", ""},
                              {"NSM_TIMEOUT", "1m30s"},
                              {"NSM_URL", "tcp://10.0.0.1:5001"},
                              {"NSM_LIST", ""},
                              {"NSM_LABELS", "app:icmp,version=v1,url:tcp://x:1"},
                              {"NSM_FLAG", "F"},
                              {"NSM_PORT", "0"},
                              {"NSM_IP", "fe80:0::1"},
                              {"NSM_LOG_LEVEL", "Debug"},
                              {"NSM_OTHER_SVC", "fwd"}}),
              Vars());
  EXPECT_EQ(r.String("NSM_NAME"), "") << "set to empty is the empty value";
  EXPECT_EQ(r.Duration("NSM_TIMEOUT"), absl::Seconds(90));
  EXPECT_EQ(r.Url("NSM_URL", false, false), "tcp://10.0.0.1:5001");
  EXPECT_TRUE(r.List("NSM_LIST").empty());
  EXPECT_EQ(r.Labels("NSM_LABELS"), (std::map<std::string, std::string>{
                                        {"app", "icmp"}, {"version", "v1"}, {"url", "tcp://x:1"}}));
  EXPECT_FALSE(r.Bool("NSM_FLAG"));
  EXPECT_EQ(r.Uint("NSM_PORT", 0, 65535), 0u);
  EXPECT_EQ(r.Ip("NSM_IP", true), "fe80::1");
  EXPECT_EQ(r.LogLevel("NSM_LOG_LEVEL"), log::Level::kDebug);
  EXPECT_EQ(r.String("NSM_SVC"), "fwd") << "an alias alone";
  EXPECT_TRUE(r.status().ok()) << r.status();
}

TEST(EnvReader, AliasesMustAgree) {
  EnvReader same(MapEnvironment({{"NSM_SVC", "a"}, {"NSM_OTHER_SVC", "a"}}), Vars());
  EXPECT_EQ(same.String("NSM_SVC"), "a");
  EXPECT_TRUE(same.status().ok());
  EXPECT_EQ(Message({{"NSM_SVC", "a"}, {"NSM_OTHER_SVC", "b"}},
                    [](EnvReader& r) { r.String("NSM_SVC"); }),
            "NSM_SVC=\"a\" and NSM_OTHER_SVC=\"b\" disagree: set only one of them");
}

TEST(EnvReader, InvalidValuesNameVariableAndValue) {
  struct Case {
    std::string var, value;
    std::function<void(EnvReader&)> read;
  };
  const std::vector<Case> cases = {
      {"NSM_TIMEOUT", "10", [](EnvReader& r) { r.Duration("NSM_TIMEOUT"); }},
      {"NSM_TIMEOUT", "-1s", [](EnvReader& r) { r.Duration("NSM_TIMEOUT"); }},
      {"NSM_TIMEOUT", "inf", [](EnvReader& r) { r.Duration("NSM_TIMEOUT"); }},
      {"NSM_URL", "http://x", [](EnvReader& r) { r.Url("NSM_URL", false, false); }},
      {"NSM_URL", "tcp://:5001", [](EnvReader& r) { r.Url("NSM_URL", false, false); }},
      {"NSM_URL", "", [](EnvReader& r) { r.Url("NSM_URL", false, false); }},
      {"NSM_LIST", "a,,b", [](EnvReader& r) { r.List("NSM_LIST"); }},
      {"NSM_LABELS", "novalue", [](EnvReader& r) { r.Labels("NSM_LABELS"); }},
      {"NSM_LABELS", ":v", [](EnvReader& r) { r.Labels("NSM_LABELS"); }},
      {"NSM_LABELS", "a:1,a:2", [](EnvReader& r) { r.Labels("NSM_LABELS"); }},
      {"NSM_FLAG", "yes", [](EnvReader& r) { r.Bool("NSM_FLAG"); }},
      {"NSM_PORT", "65536", [](EnvReader& r) { r.Uint("NSM_PORT", 0, 65535); }},
      {"NSM_PORT", "-1", [](EnvReader& r) { r.Uint("NSM_PORT", 0, 65535); }},
      {"NSM_PORT", "x", [](EnvReader& r) { r.Uint("NSM_PORT", 0, 65535); }},
      {"NSM_IP", "10.0.0.256", [](EnvReader& r) { r.Ip("NSM_IP", true); }},
      {"NSM_LOG_LEVEL", "loud", [](EnvReader& r) { r.LogLevel("NSM_LOG_LEVEL"); }},
  };
  for (const auto& c : cases) {
    const std::string message = Message({{c.var, c.value}}, c.read);
    EXPECT_EQ(message.rfind(c.var + "=\"" + c.value + "\" is invalid: ", 0), 0u) << message;
  }
}

TEST(EnvReader, FirstErrorWinsAndUndeclaredIsInternal) {
  EnvReader r(MapEnvironment({{"NSM_TIMEOUT", "x"}, {"NSM_FLAG", "y"}}), Vars());
  r.Duration("NSM_TIMEOUT");
  r.Bool("NSM_FLAG");
  EXPECT_NE(r.status().message().find("NSM_TIMEOUT"), std::string::npos);
  EnvReader u(MapEnvironment({}), Vars());
  u.String("NSM_NOPE");
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInternal);
}

TEST(EnvReader, HelpListsEveryVariable) {
  const std::string help = HelpText("intro\n", Vars(), "outro\n");
  EXPECT_EQ(help.rfind("intro\n", 0), 0u);
  for (const auto& v : Vars()) EXPECT_NE(help.find(v.name), std::string::npos) << v.name;
  EXPECT_NE(help.find("NSM_SVC, NSM_OTHER_SVC"), std::string::npos);
  EXPECT_NE(help.find("default 15s"), std::string::npos);
  EXPECT_NE(help.find("default (empty)"), std::string::npos);
  EXPECT_NE(help.find("outro"), std::string::npos);
}

}  // namespace
}  // namespace nsm::reference

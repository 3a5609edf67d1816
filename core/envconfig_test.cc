#include "core/envconfig.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::env {
namespace {

using ::testing::HasSubstr;

const Variable kListen{"LISTEN_ON", "list of URL", "unix:///a.sock", "where"};
const Variable kNode{"NODE_NAME", "string", "", "node", /*prefixed=*/false};

TEST(EnvConfigTest, DefaultOnlyWhenUnset) {
  Reader r(FromMap({}), {"NSM_"});
  auto v = r.Read(kListen);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->variable, "NSM_LISTEN_ON");
  EXPECT_EQ(v->value, "unix:///a.sock");
  EXPECT_FALSE(v->set);
  auto empty = Reader(FromMap({{"NSM_LISTEN_ON", ""}}), {"NSM_"}).Read(kListen);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->value, "");
  EXPECT_TRUE(empty->set);
  auto bare = Reader(FromMap({{"NODE_NAME", "n1"}}), {"NSM_"}).Read(kNode);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->variable, "NODE_NAME");
  EXPECT_EQ(bare->value, "n1");
}

TEST(EnvConfigTest, TwoPrefixesMustAgree) {
  Reader same(FromMap({{"NSM_LISTEN_ON", "x"}, {"OLD_LISTEN_ON", "x"}}), {"NSM_", "OLD_"});
  EXPECT_TRUE(same.Read(kListen).ok());
  Reader old_only(FromMap({{"OLD_LISTEN_ON", "y"}}), {"NSM_", "OLD_"});
  EXPECT_EQ(old_only.Read(kListen)->variable, "OLD_LISTEN_ON");
  Reader differ(FromMap({{"NSM_LISTEN_ON", "x"}, {"OLD_LISTEN_ON", "y"}}), {"NSM_", "OLD_"});
  auto v = differ.Read(kListen);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("disagree"));
}

TEST(EnvConfigTest, Parsers) {
  EXPECT_EQ(*ParseDuration({"D", "300ms", true}), absl::Milliseconds(300));
  EXPECT_EQ(*ParseDuration({"D", "", true}), absl::ZeroDuration());
  auto bad = ParseDuration({"D", "soon", true});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("D=\"soon\" is invalid"));
  EXPECT_FALSE(ParseDuration({"D", "inf", true}).ok());

  EXPECT_TRUE(*ParseBool({"B", "true", true}));
  EXPECT_FALSE(*ParseBool({"B", "0", true}));
  EXPECT_FALSE(ParseBool({"B", "yes", true}).ok());

  auto urls = ParseUrlList({"U", "unix:///a.sock, tcp://127.0.0.1:5001", true}, true);
  ASSERT_TRUE(urls.ok()) << urls.status();
  EXPECT_EQ(urls->size(), 2u);
  EXPECT_FALSE(ParseUrlList({"U", "", true}, true).ok());
  EXPECT_FALSE(ParseUrlList({"U", "unix:///a.sock,,", true}, true).ok());
  auto bad_url = ParseUrlList({"U", "http://x", true}, true);
  EXPECT_THAT(bad_url.status().message(), HasSubstr("http://x"));

  auto labels = ParseLabels({"L", "a:1, b = 2,c=,d:x=y", true});
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->at("a"), "1");
  EXPECT_EQ(labels->at("b"), "2");
  EXPECT_EQ(labels->at("c"), "");
  EXPECT_EQ(labels->at("d"), "x=y");
  EXPECT_TRUE(ParseLabels({"L", "", true})->empty());
  auto bad_label = ParseLabels({"L", "a=1,b", true});
  EXPECT_EQ(bad_label.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_label.status().message(), HasSubstr("\"b\" is not key:value"));
}

TEST(EnvConfigTest, HelpListsEveryName) {
  std::string help = HelpText("intro\n", {kListen, kNode}, {"NSM_", "OLD_"}, "outro\n");
  EXPECT_THAT(help, HasSubstr("NSM_LISTEN_ON, OLD_LISTEN_ON"));
  EXPECT_THAT(help, HasSubstr("default unix:///a.sock"));
  EXPECT_THAT(help, HasSubstr("  NODE_NAME\n"));
  EXPECT_THAT(help, HasSubstr("default (empty)"));
}

}  // namespace
}  // namespace nsm::env

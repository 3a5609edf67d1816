#include "api/labels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/map.h"
#include "registry.pb.h"

namespace nsm::api {
namespace {

using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

google::protobuf::Map<std::string, std::string> ProtoMap(const Labels& labels) {
  return google::protobuf::Map<std::string, std::string>(labels.begin(), labels.end());
}

std::string Render(absl::string_view tmpl, const Labels& vars) {
  absl::StatusOr<std::string> out = RenderLabelTemplate(tmpl, vars);
  EXPECT_TRUE(out.ok()) << tmpl << ": " << out.status();
  return out.value_or("<error>");
}

TEST(RenderLabelTemplateTest, FieldActions) {
  const Labels vars = {{"nodeName", "node-1"}, {"app", "web"}, {"_x9", "u"}, {"empty", ""}};
  EXPECT_EQ(Render("plain text", vars), "plain text");
  EXPECT_EQ(Render("", vars), "");
  EXPECT_EQ(Render("{{.nodeName}}", vars), "node-1");
  EXPECT_EQ(Render("{{ .nodeName }}", vars), "node-1");
  EXPECT_EQ(Render("{{\t.nodeName\n}}", vars), "node-1");
  EXPECT_EQ(Render("{{._x9}}", vars), "u");
  EXPECT_EQ(Render("{{.empty}}", vars), "");
  EXPECT_EQ(Render("pre-{{.app}}-{{.nodeName}}-post", vars), "pre-web-node-1-post");
  EXPECT_EQ(Render("{{.missing}}", vars), "<no value>");
  EXPECT_EQ(Render("x{{.missing}}y", {}), "x<no value>y");
  EXPECT_EQ(Render("a }} b", vars), "a }} b");  // a lone right delimiter is text
  EXPECT_EQ(Render("{{.app}}{{.app}}", vars), "webweb");
}

TEST(RenderLabelTemplateTest, TrimMarkersAndComments) {
  const Labels vars = {{"a", " A "}};
  EXPECT_EQ(Render("x  \n {{- .a}}", vars), "x A ");
  EXPECT_EQ(Render("{{.a -}}  \t y", vars), " A y");
  EXPECT_EQ(Render("x {{- .a -}} y", vars), "x A y");
  // Only the adjacent text is trimmed, never a rendered value.
  EXPECT_EQ(Render("{{.a}} {{- .a}}", vars), " A  A ");
  EXPECT_EQ(Render("x{{/* a comment */}}y", vars), "xy");
  EXPECT_EQ(Render("x {{- /* c */ -}} y", vars), "xy");
}

TEST(RenderLabelTemplateTest, Errors) {
  struct Case {
    const char* tmpl;
    const char* error;
  };
  const Case cases[] = {
      {"{{.a", "template \"{{.a\": unclosed action at offset 4"},
      {"x{{", "template \"x{{\": unclosed action at offset 1"},
      {"{{ ", "template \"{{ \": unclosed action at offset 0"},
      {"{{}}", "template \"{{}}\": missing value in action at offset 2"},
      {"{{.}}", "template \"{{.}}\": unsupported action (only {{.key}} is supported) at offset 2"},
      {"{{.a.b}}", "template \"{{.a.b}}\": unsupported chained field at offset 4"},
      {"{{.1a}}",
       "template \"{{.1a}}\": unsupported action (only {{.key}} is supported) at offset 2"},
      {"{{ index . \"a\" }}",
       "template \"{{ index . \"a\" }}\": unsupported action (only {{.key}} is supported) at "
       "offset 3"},
      {"{{if .a}}x{{end}}",
       "template \"{{if .a}}x{{end}}\": unsupported action (only {{.key}} is supported) at "
       "offset 2"},
      {"{{.a | upper}}",
       "template \"{{.a | upper}}\": unsupported text \"|\" in action at offset 5"},
      {"{{.a-b}}", "template \"{{.a-b}}\": unsupported text \"-\" in action at offset 4"},
      {"{{.a -}", "template \"{{.a -}\": unsupported text \"-\" in action at offset 5"},
      {"{{.a}", "template \"{{.a}\": unsupported text \"}\" in action at offset 4"},
      {"{{-.a}}",
       "template \"{{-.a}}\": unsupported action (only {{.key}} is supported) at "
       "offset 2"},
      {"{{/* open", "template \"{{/* open\": unclosed comment at offset 0"},
      {"{{/* c */ x}}",
       "template \"{{/* c */ x}}\": comment not followed by the closing delimiter at offset 9"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> out = RenderLabelTemplate(c.tmpl, Labels{{"a", "A"}});
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.tmpl;
    EXPECT_EQ(out.status().message(), c.error) << c.tmpl;
  }
}

TEST(RenderLabelTemplateTest, WorksWithEveryMapKind) {
  const Labels std_map = {{"k", "v"}};
  const absl::flat_hash_map<std::string, std::string> flat = {{"k", "v"}};
  const google::protobuf::Map<std::string, std::string> proto = ProtoMap(std_map);
  EXPECT_EQ(*RenderLabelTemplate("{{.k}}", std_map), "v");
  EXPECT_EQ(*RenderLabelTemplate("{{.k}}", flat), "v");
  EXPECT_EQ(*RenderLabelTemplate("{{.k}}", proto), "v");
  EXPECT_EQ(*RenderLabelTemplateWith("{{.k}}{{.z}}",
                                     [](absl::string_view key) -> std::optional<absl::string_view> {
                                       if (key == "k") return "lambda";
                                       return std::nullopt;
                                     }),
            "lambda<no value>");
}

TEST(IsSubsetTest, LiteralSelectors) {
  const Labels have = {{"app", "web"}, {"zone", "a"}, {"p2p", "true"}};
  EXPECT_TRUE(IsSubset(have, Labels{}, Labels{}));
  EXPECT_TRUE(IsSubset(Labels{}, Labels{}, Labels{}));
  EXPECT_TRUE(IsSubset(have, Labels{{"app", "web"}}, Labels{}));
  EXPECT_TRUE(IsSubset(have, have, Labels{}));
  EXPECT_FALSE(IsSubset(have, Labels{{"app", "db"}}, Labels{}));
  EXPECT_FALSE(IsSubset(have, Labels{{"missing", "x"}}, Labels{}));
  // A missing key reads as "": an empty wanted value matches it.
  EXPECT_TRUE(IsSubset(have, Labels{{"missing", ""}}, Labels{}));
  // |have| < |want| is false even if the values would match.
  EXPECT_FALSE(IsSubset(Labels{{"a", "1"}}, Labels{{"a", "1"}, {"b", ""}}, Labels{}));
}

TEST(IsSubsetTest, TemplatedSelectors) {
  const Labels conn = {{"nodeName", "node-1"}, {"app", "web"}};
  const Labels nse_on_node1 = {{"nodeName", "node-1"}, {"kind", "vpn"}};
  const Labels nse_on_node2 = {{"nodeName", "node-2"}, {"kind", "vpn"}};
  const Labels selector = {{"nodeName", "{{.nodeName}}"}, {"kind", "vpn"}};
  EXPECT_TRUE(IsSubset(nse_on_node1, selector, conn));
  EXPECT_FALSE(IsSubset(nse_on_node2, selector, conn));
  // A literal match wins before any template evaluation.
  EXPECT_TRUE(IsSubset(Labels{{"x", "{{.nodeName}}"}}, Labels{{"x", "{{.nodeName}}"}}, conn));
  // Missing variable renders "<no value>" (Go's default for maps).
  EXPECT_TRUE(IsSubset(Labels{{"x", "<no value>"}}, Labels{{"x", "{{.nope}}"}}, conn));
  EXPECT_FALSE(IsSubset(Labels{{"x", ""}}, Labels{{"x", "{{.nope}}"}}, conn));
  // Composite values.
  EXPECT_TRUE(
      IsSubset(Labels{{"x", "web-node-1"}}, Labels{{"x", "{{.app}}-{{ .nodeName }}"}}, conn));
  // Malformed or unsupported templates compare literally.
  EXPECT_TRUE(IsSubset(Labels{{"x", "{{.app"}}, Labels{{"x", "{{.app"}}, conn));
  EXPECT_FALSE(IsSubset(Labels{{"x", "web"}}, Labels{{"x", "{{.app"}}, conn));
  EXPECT_FALSE(IsSubset(Labels{{"x", "web"}}, Labels{{"x", "{{ .app | printf }}"}}, conn));
  // A template rendering "" matches a missing key.
  EXPECT_TRUE(IsSubset(Labels{{"a", "1"}}, Labels{{"b", "{{.empty}}"}}, Labels{{"empty", ""}}));
}

TEST(IsSubsetTest, ProtoMapsAndForwarderMetadata) {
  registry::NetworkServiceEndpoint fwd;
  auto& labels = *(*fwd.mutable_network_service_labels())["forwarder"].mutable_labels();
  labels["p2p"] = "true";
  labels["nodeName"] = "node-1";
  registry::Match match;
  (*match.mutable_metadata()->mutable_labels())["nodeName"] = "{{.nodeName}}";
  (*match.mutable_source_selector())["app"] = "web";

  const google::protobuf::Map<std::string, std::string> conn_labels =
      ProtoMap({{"app", "web"}, {"nodeName", "node-1"}});
  EXPECT_TRUE(IsSubset(conn_labels, match.source_selector(), conn_labels));
  EXPECT_TRUE(IsSubset(labels, match.metadata().labels(), conn_labels));
  EXPECT_FALSE(IsSubset(labels, match.metadata().labels(),
                        ProtoMap({{"app", "web"}, {"nodeName", "node-2"}})));
  // Mixed map kinds.
  const absl::flat_hash_map<std::string, std::string> flat = {{"p2p", "true"}};
  EXPECT_TRUE(IsSubset(labels, flat, Labels{}));
  EXPECT_TRUE(IsSubset(flat, ProtoMap({{"p2p", "true"}}), conn_labels));
}

}  // namespace
}  // namespace nsm::api

// MatchForwarders: no matches, default p2p labels, metadata labels, source selectors, templates,
// fall-through (results accumulate only while empty), expiry, and the explanation when none fits.
#include "forwarder_select/match.h"

#include <map>
#include <optional>

#include "api/path.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::forwarder_select {
namespace {

using ::registry::Match;
using ::registry::NetworkService;
using ::registry::NetworkServiceEndpoint;
using ::testing::ElementsAre;
using StrMap = std::map<std::string, std::string>;

const absl::Time kNow = absl::FromUnixSeconds(1704067200);

NetworkServiceEndpoint Forwarder(const std::string& name, std::optional<StrMap> labels) {
  NetworkServiceEndpoint f;
  f.set_name(name);
  f.set_url("unix:///run/nsm/" + name + ".sock");
  f.add_network_service_names("forwarder");
  if (labels) {
    auto& l = *(*f.mutable_network_service_labels())["forwarder"].mutable_labels();
    for (const auto& [k, v] : *labels) l[k] = v;
  }
  return f;
}

Match MatchOf(StrMap source, std::optional<StrMap> want, bool fallthrough = false) {
  Match m;
  for (const auto& [k, v] : source) (*m.mutable_source_selector())[k] = v;
  if (want) {
    auto& l = *m.mutable_metadata()->mutable_labels();
    for (const auto& [k, v] : *want) l[k] = v;
  }
  m.set_fallthrough(fallthrough);
  return m;
}

NetworkService Service(std::vector<Match> matches) {
  NetworkService ns;
  ns.set_name("svc");
  for (auto& m : matches) *ns.add_matches() = m;
  return ns;
}

Labels LabelsOf(StrMap m) { return Labels(m.begin(), m.end()); }

std::vector<std::string> Names(const MatchResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.forwarders) out.push_back(f.name());
  return out;
}

class MatchForwardersTest : public ::testing::Test {
 protected:
  MatchResult Match(const NetworkService& ns, StrMap labels = {}) {
    return MatchForwarders(LabelsOf(labels), ns, forwarders_, "forwarder", kNow);
  }
  std::vector<NetworkServiceEndpoint> forwarders_ = {
      Forwarder("fwd-p2mp", StrMap{{"p2mp", "true"}}),
      Forwarder("fwd-p2p", StrMap{{"p2p", "true"}}),
      Forwarder("fwd-special", StrMap{{"special", "true"}}),
      Forwarder("fwd-bare", std::nullopt),
  };
};

TEST_F(MatchForwardersTest, ServiceWithoutMatchesTakesEveryLiveForwarder) {
  EXPECT_THAT(Names(Match(Service({}))),
              ElementsAre("fwd-p2mp", "fwd-p2p", "fwd-special", "fwd-bare"));
}

TEST_F(MatchForwardersTest, MetadataLabelsChooseAndDefaultIsP2p) {
  EXPECT_THAT(Names(Match(Service({MatchOf({}, StrMap{{"p2mp", "true"}})}))),
              ElementsAre("fwd-p2mp"));
  EXPECT_THAT(Names(Match(Service({MatchOf({}, std::nullopt)}))), ElementsAre("fwd-p2p"));
  EXPECT_THAT(Names(Match(Service({MatchOf({}, StrMap{})}))), ElementsAre("fwd-p2p"))
      << "metadata present but without labels";
}

TEST_F(MatchForwardersTest, SourceSelectorsAndTemplates) {
  forwarders_.push_back(Forwarder("fwd-node-2", StrMap{{"nodeName", "node-2"}}));
  auto ns = Service({MatchOf({{"app", "vpn"}}, StrMap{{"special", "true"}}),
                     MatchOf({}, StrMap{{"nodeName", "{{.nodeName}}"}})});
  EXPECT_THAT(Names(Match(ns, {{"app", "vpn"}})), ElementsAre("fwd-special"));
  EXPECT_THAT(Names(Match(ns, {{"nodeName", "node-2"}})), ElementsAre("fwd-node-2"));
  EXPECT_TRUE(Match(ns, {{"nodeName", "node-3"}}).forwarders.empty());
}

TEST_F(MatchForwardersTest, FallthroughOnlyWhileNothingWasFound) {
  auto ns = Service({MatchOf({}, StrMap{{"missing", "true"}}, /*fallthrough=*/true),
                     MatchOf({}, StrMap{{"special", "true"}}, /*fallthrough=*/true),
                     MatchOf({}, StrMap{{"p2p", "true"}})});
  EXPECT_THAT(Names(Match(ns)), ElementsAre("fwd-special"));
  auto stop = Service({MatchOf({}, StrMap{{"missing", "true"}}),  // applies: ends the search
                       MatchOf({}, StrMap{{"p2p", "true"}})});
  auto r = Match(stop);
  EXPECT_TRUE(r.forwarders.empty());
  EXPECT_EQ(r.why_none,
            "match #1 wants labels {missing=true}; forwarders: fwd-p2mp {p2mp=true}, fwd-p2p "
            "{p2p=true}, fwd-special {special=true}, fwd-bare (no labels for service forwarder)");
}

TEST_F(MatchForwardersTest, ExplainsFallthroughChainAndMissingMatches) {
  auto ns = Service({MatchOf({}, StrMap{{"a", "1"}}, true), MatchOf({}, StrMap{{"b", "2"}})});
  EXPECT_THAT(Match(ns).why_none,
              ::testing::StartsWith("match #1 wants labels {a=1}, then match #2 wants labels "
                                    "{b=2}; forwarders: "));
  auto none = Service({MatchOf({{"app", "x"}}, std::nullopt)});
  EXPECT_THAT(Match(none, {{"app", "y"}, {"b", "c"}}).why_none,
              ::testing::StartsWith("no match applies to connection labels {app=y, b=c}; "));
  forwarders_.clear();
  EXPECT_EQ(Match(Service({})).why_none, "no forwarder is registered");
}

TEST_F(MatchForwardersTest, ExpiredForwardersAreSkippedAndShown) {
  *forwarders_[1].mutable_expiration_time() = api::ToProtoTimestamp(kNow);  // not after now
  *forwarders_[0].mutable_expiration_time() = api::ToProtoTimestamp(kNow + absl::Seconds(1));
  auto r = Match(Service({MatchOf({}, std::nullopt)}));
  EXPECT_TRUE(r.forwarders.empty());
  EXPECT_THAT(r.why_none, ::testing::HasSubstr("fwd-p2p {p2p=true} (expired)"));
  EXPECT_THAT(Names(Match(Service({}))), ElementsAre("fwd-p2mp", "fwd-special", "fwd-bare"));
}

}  // namespace
}  // namespace nsm::forwarder_select

// Find matching rules of registry.md §2: exact names (substring only as a compatibility option),
// payload, matches, labels, expiration seconds, service-name inclusion, URL substring.
#include "registry/matchutils/match.h"

#include "gtest/gtest.h"

namespace nsm::reg::match {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;

NSE Endpoint() {
  NSE s;
  s.set_name("nse-1");
  s.add_network_service_names("ns-a");
  s.add_network_service_names("ns-b");
  (*(*s.mutable_network_service_labels())["ns-a"].mutable_labels())["app"] = "x";
  (*(*s.mutable_network_service_labels())["ns-a"].mutable_labels())["zone"] = "1";
  s.set_url("tcp://10.0.0.1:5001");
  s.mutable_expiration_time()->set_seconds(100);
  return s;
}

TEST(MatchNS, EmptyQueryMatchesEverything) {
  NS s;
  s.set_name("ns-1");
  s.set_payload("IP");
  EXPECT_TRUE(Matches(NS(), s));
}

TEST(MatchNS, NameIsExactByDefault) {
  NS s;
  s.set_name("ns-10");
  NS q;
  q.set_name("ns-1");
  EXPECT_FALSE(Matches(q, s));
  EXPECT_TRUE(Matches(q, s, Options{.substring_names = true}));
  q.set_name("ns-10");
  EXPECT_TRUE(Matches(q, s));
}

TEST(MatchNS, PayloadAndMatches) {
  NS s;
  s.set_name("ns");
  s.set_payload("ETHERNET");
  auto* m = s.add_matches();
  (*m->mutable_source_selector())["a"] = "b";
  NS q;
  q.set_payload("IP");
  EXPECT_FALSE(Matches(q, s));
  q.set_payload("ETHERNET");
  EXPECT_TRUE(Matches(q, s));
  *q.add_matches() = *m;
  EXPECT_TRUE(Matches(q, s));
  q.mutable_matches(0)->set_fallthrough(true);
  EXPECT_FALSE(Matches(q, s));
  q.mutable_matches(0)->set_fallthrough(false);
  q.add_matches();
  EXPECT_FALSE(Matches(q, s)) << "matches are compared as whole ordered lists";
}

TEST(MatchNSE, EmptyQueryMatchesEverything) { EXPECT_TRUE(Matches(NSE(), Endpoint())); }

TEST(MatchNSE, NameIsExactByDefault) {
  NSE q;
  q.set_name("nse");
  EXPECT_FALSE(Matches(q, Endpoint()));
  EXPECT_TRUE(Matches(q, Endpoint(), Options{.substring_names = true}));
  q.set_name("nse-1");
  EXPECT_TRUE(Matches(q, Endpoint()));
}

TEST(MatchNSE, LabelsAreASubsetPerService) {
  NSE q;
  (*(*q.mutable_network_service_labels())["ns-a"].mutable_labels())["app"] = "x";
  EXPECT_TRUE(Matches(q, Endpoint()));
  (*(*q.mutable_network_service_labels())["ns-a"].mutable_labels())["zone"] = "2";
  EXPECT_FALSE(Matches(q, Endpoint()));
  NSE other;
  (*other.mutable_network_service_labels())["ns-b"];
  EXPECT_FALSE(Matches(other, Endpoint())) << "the stored NSE has no labels for ns-b";
}

TEST(MatchNSE, ExpirationSeconds) {
  NSE q;
  q.mutable_expiration_time()->set_seconds(100);
  q.mutable_expiration_time()->set_nanos(5);
  EXPECT_TRUE(Matches(q, Endpoint()));
  q.mutable_expiration_time()->set_seconds(101);
  EXPECT_FALSE(Matches(q, Endpoint()));
}

TEST(MatchNSE, ServiceNamesAreASubset) {
  NSE q;
  q.add_network_service_names("ns-b");
  EXPECT_TRUE(Matches(q, Endpoint()));
  q.add_network_service_names("ns");
  EXPECT_FALSE(Matches(q, Endpoint())) << "service names are exact strings";
}

TEST(MatchNSE, UrlIsASubstring) {
  NSE q;
  q.set_url("10.0.0.1");
  EXPECT_TRUE(Matches(q, Endpoint()));
  q.set_url("10.0.0.2");
  EXPECT_FALSE(Matches(q, Endpoint()));
}

TEST(MatchNSE, NoRegularExpressions) {
  NSE q;
  q.set_name("nse-.*");
  EXPECT_FALSE(Matches(q, Endpoint()));
  EXPECT_FALSE(Matches(q, Endpoint(), Options{.substring_names = true}));
}

}  // namespace
}  // namespace nsm::reg::match

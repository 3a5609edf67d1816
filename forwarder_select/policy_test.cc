// Policies: registration order as given; least connections orders by held leases, ties in
// registration order, and forgets forwarders whose leases are gone.
#include "forwarder_select/policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::forwarder_select {
namespace {

using ::testing::ElementsAre;

std::vector<::registry::NetworkServiceEndpoint> Forwarders() {
  std::vector<::registry::NetworkServiceEndpoint> out(3);
  out[0].set_name("fwd-a");
  out[1].set_name("fwd-b");
  out[2].set_name("fwd-c");
  return out;
}

std::vector<std::string> Names(const std::vector<::registry::NetworkServiceEndpoint>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.name());
  return out;
}

TEST(RegistrationOrderTest, KeepsTheOrder) {
  RegistrationOrder policy;
  EXPECT_THAT(Names(policy.Order(Forwarders())), ElementsAre("fwd-a", "fwd-b", "fwd-c"));
  EXPECT_EQ(policy.Acquire("fwd-a"), nullptr);
}

TEST(LeastConnectionsTest, FewestLeasesFirstTiesInRegistrationOrder) {
  auto policy = NewLeastConnections();
  auto a1 = policy->Acquire("fwd-a");
  auto a2 = policy->Acquire("fwd-a");
  auto c1 = policy->Acquire("fwd-c");
  EXPECT_THAT(Names(policy->Order(Forwarders())), ElementsAre("fwd-b", "fwd-c", "fwd-a"));
  EXPECT_EQ(policy->connections("fwd-a"), 2u);
  a1.reset();
  a2.reset();
  EXPECT_THAT(Names(policy->Order(Forwarders())), ElementsAre("fwd-a", "fwd-b", "fwd-c"));
  EXPECT_EQ(policy->connections("fwd-a"), 0u);
}

TEST(LeastConnectionsTest, LeasesMayOutliveThePolicy) {
  auto policy = NewLeastConnections();
  auto lease = policy->Acquire("fwd-a");
  policy.reset();
  lease.reset();  // no use after free (ASan)
}

}  // namespace
}  // namespace nsm::forwarder_select

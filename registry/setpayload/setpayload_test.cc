// setpayload: empty payload becomes "IP" (or the configured default); a given payload is kept.
#include "registry/setpayload/setpayload.h"

#include "gtest/gtest.h"

namespace nsm::reg::setpayload {
namespace {

TEST(SetPayload, DefaultsEmptyPayload) {
  auto e = NewNSServer();
  ::registry::NetworkService ns;
  ns.set_name("ns-1");
  auto r = e->Register(Context(), ns, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload(), "IP");
}

TEST(SetPayload, KeepsGivenPayload) {
  auto e = NewNSServer("ETHERNET");
  ::registry::NetworkService ns;
  ns.set_name("ns-1");
  EXPECT_EQ(e->Register(Context(), ns, {})->payload(), "ETHERNET");
  ns.set_payload("IP");
  EXPECT_EQ(e->Register(Context(), ns, {})->payload(), "IP");
}

}  // namespace
}  // namespace nsm::reg::setpayload

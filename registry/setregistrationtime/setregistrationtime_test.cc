// setregistrationtime: the context clock's now when absent; a time sent back is kept.
#include "registry/setregistrationtime/setregistrationtime.h"

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"

namespace nsm::reg::setregistrationtime {
namespace {

TEST(SetRegistrationTime, SetsNowWhenAbsent) {
  auto clock = FakeClock::Create();
  auto e = NewNSEServer();
  ::registry::NetworkServiceEndpoint nse;
  nse.set_name("nse-1");
  auto r = e->Register(Context::Background(clock), nse, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::FromProtoTimestamp(r->initial_registration_time()), clock->Now());
}

TEST(SetRegistrationTime, KeepsTheTimeSentBack) {
  auto clock = FakeClock::Create();
  auto e = NewNSEServer();
  ::registry::NetworkServiceEndpoint nse;
  nse.set_name("nse-1");
  const absl::Time first = clock->Now() - absl::Hours(1);
  *nse.mutable_initial_registration_time() = api::ToProtoTimestamp(first);
  auto r = e->Register(Context::Background(clock), nse, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::FromProtoTimestamp(r->initial_registration_time()), first);
}

}  // namespace
}  // namespace nsm::reg::setregistrationtime

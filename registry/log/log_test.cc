// Tests of the registry log element: a debug line per Register/Find/Unregister with name,
// services, URL, outcome and duration; nothing when debug is off (issue #8 Logs).
#include "registry/log/log.h"

#include <string>
#include <vector>

#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::reg::logging {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using ::testing::HasSubstr;

// Takes 2ms on the fake clock; Register fails when told to.
class Slow : public NSERegistryServer {
 public:
  Slow(std::shared_ptr<FakeClock> clock, absl::Status result)
      : clock_(std::move(clock)), result_(std::move(result)) {}
  absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&) override {
    clock_->Advance(absl::Milliseconds(2));
    if (!result_.ok()) return result_;
    NSE out = nse;
    out.set_url("tcp://10.0.0.1:5001");
    return out;
  }
  absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
    clock_->Advance(absl::Milliseconds(2));
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context&, NSE&, const Next&) override {
    clock_->Advance(absl::Milliseconds(2));
    return result_;
  }

 private:
  std::shared_ptr<FakeClock> clock_;
  absl::Status result_;
};

struct Fixture {
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::vector<std::string> lines;
  log::Logger logger{[this](absl::string_view l) { lines.emplace_back(l); }, clock};
  std::shared_ptr<NSERegistryServerChain> Chain(absl::Status result) {
    logger.SetLevel(log::Level::kDebug);
    return std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
        NewNSEServer({.component = "registry/nse", .logger = &logger, .clock = clock}),
        std::make_shared<Slow>(clock, result)});
  }
};

NSE MakeNSE() {
  NSE nse;
  nse.set_name("nse-1");
  nse.add_network_service_names("icmp");
  nse.add_network_service_names("ping");
  return nse;
}

TEST(RegistryLogTest, RegisterFindUnregister) {
  Fixture f;
  auto chain = f.Chain(absl::OkStatus());
  NSE nse = MakeNSE();
  ASSERT_TRUE(chain->Register(Context(), nse).ok());
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("nse-1");
  q.set_watch(true);
  ASSERT_TRUE(chain->Find(Context(), q, nullptr).ok());
  ASSERT_TRUE(chain->Unregister(Context(), nse).ok());
  ASSERT_EQ(f.lines.size(), 3u);
  EXPECT_THAT(f.lines[0], HasSubstr("[DEBUG] registry/nse: register name=nse-1 services=icmp,ping "
                                    "url=tcp://10.0.0.1:5001 outcome=ok duration=2ms"));
  EXPECT_THAT(f.lines[1], HasSubstr("registry/nse: find name=nse-1 services=\"\" url=\"\" "
                                    "watch=true outcome=ok duration=2ms"));
  EXPECT_THAT(f.lines[2], HasSubstr("registry/nse: unregister name=nse-1"));
}

TEST(RegistryLogTest, FailureAndDebugOff) {
  Fixture f;
  auto chain = f.Chain(absl::InvalidArgumentError("bad url"));
  NSE nse = MakeNSE();
  EXPECT_FALSE(chain->Register(Context(), nse).ok());
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_THAT(f.lines[0], HasSubstr("outcome=INVALID_ARGUMENT error=\"bad url\" duration=2ms"));
  f.logger.SetLevel(log::Level::kInfo);
  EXPECT_FALSE(chain->Register(Context(), nse).ok());
  EXPECT_FALSE(chain->Unregister(Context(), nse).ok());
  EXPECT_EQ(f.lines.size(), 1u);
}

TEST(RegistryLogTest, NetworkServices) {
  Fixture f;
  f.logger.SetLevel(log::Level::kDebug);
  NSRegistryServerChain chain(NSRegistryServerChain::Elements{
      NewNSServer({.component = "registry/ns", .logger = &f.logger, .clock = f.clock})});
  ::registry::NetworkService ns;
  ns.set_name("icmp");
  ASSERT_TRUE(chain.Register(Context(), ns).ok());
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_THAT(f.lines[0], HasSubstr("registry/ns: register name=icmp outcome=ok duration=0\n"));
}

}  // namespace
}  // namespace nsm::reg::logging

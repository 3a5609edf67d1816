// registry metrics element with the FakeClock: registers, finds, unregisters by result, the watch
// streams gauge following the stream's life, and expire's expirations (issue #8).
#include <memory>
#include <string>

#include "api/path.h"
#include "core/admission_testing.h"
#include "core/fake_clock.h"
#include "core/metrics/read.h"
#include "gtest/gtest.h"
#include "registry/expire/expire.h"
#include "registry/memory/memory.h"
#include "registry/metrics/server.h"
#include "registry/metrics/stats.h"
#include "registry/serialize/serialize.h"
#include "registry/validate/validate.h"

namespace nsm::reg::metrics {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using nsm::metrics::Labels;

class RegistryMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    serialize_ = serialize::NewNSEServer();
    chain_ = std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
        NewNSEServer(stats_),
        validate::NewNSEServer(),
        serialize_,
        expire::NewNSEServer(absl::Minutes(1), stats_->ExpirationsHook()),
        memory::NewNSEServer(),
    });
  }
  absl::StatusOr<NSE> Register(const std::string& name) {
    NSE nse;
    nse.set_name(name);
    nse.add_network_service_names("ns-a");
    nse.set_url("tcp://127.0.0.1:5002");
    return chain_->Register(ctx_, nse);
  }
  std::optional<double> Value(const std::string& name, const Labels& labels) {
    return nsm::metrics::ValueOf(*registry_, name, labels);
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::shared_ptr<RegistryStats> stats_ = std::make_shared<RegistryStats>(registry_);
  std::shared_ptr<serialize::NSEServer> serialize_;
  std::shared_ptr<NSERegistryServerChain> chain_;
};

TEST_F(RegistryMetricsTest, NoStatsNoElement) {
  EXPECT_EQ(NewNSServer(nullptr), nullptr);
  EXPECT_EQ(NewNSEServer(nullptr), nullptr);
}

TEST_F(RegistryMetricsTest, RegisterFindUnregisterByResult) {
  ASSERT_TRUE(Register("nse-1").ok());
  ASSERT_FALSE(Register("").ok());  // validate: the name is required
  EXPECT_EQ(Value("nsm_registry_registers_total", {{"registry", "nse"}, {"result", "ok"}}), 1);
  EXPECT_EQ(
      Value("nsm_registry_registers_total", {{"registry", "nse"}, {"result", "INVALID_ARGUMENT"}}),
      1);

  auto found = BufferedFindStream<NSEResponse>::Create(ctx_);
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("nse-1");
  ASSERT_TRUE(chain_->Find(ctx_, q, found).ok());
  EXPECT_EQ(Value("nsm_registry_finds_total",
                  {{"registry", "nse"}, {"watch", "false"}, {"result", "ok"}}),
            1);

  NSE nse;
  nse.set_name("nse-1");
  ASSERT_TRUE(chain_->Unregister(ctx_, nse).ok());
  EXPECT_EQ(Value("nsm_registry_unregisters_total", {{"registry", "nse"}, {"result", "ok"}}), 1);
}

TEST_F(RegistryMetricsTest, WatchStreamsGaugeFollowsTheStream) {
  NSEQuery q;
  q.set_watch(true);
  auto [watch_ctx, cancel] = ctx_.WithCancel();
  auto first = BufferedFindStream<NSEResponse>::Create(watch_ctx);
  auto second = BufferedFindStream<NSEResponse>::Create(ctx_);
  ASSERT_TRUE(chain_->Find(ctx_, q, first).ok());
  ASSERT_TRUE(chain_->Find(ctx_, q, second).ok());
  EXPECT_EQ(Value("nsm_registry_watch_streams", {{"registry", "nse"}}), 2);
  EXPECT_EQ(
      Value("nsm_registry_finds_total", {{"registry", "nse"}, {"watch", "true"}, {"result", "ok"}}),
      2);
  cancel();  // the receiver went away
  EXPECT_EQ(Value("nsm_registry_watch_streams", {{"registry", "nse"}}), 1);
  second->Finish(absl::UnavailableError("shutting down"));  // the server ended it
  EXPECT_EQ(Value("nsm_registry_watch_streams", {{"registry", "nse"}}), 0);
}

TEST_F(RegistryMetricsTest, ExpirationsAreCounted) {
  ASSERT_TRUE(Register("nse-1").ok());
  clock_->Advance(absl::Minutes(1));
  serialize_->executor()->RunSync("nse-1", [] {});  // the expiry work queued for the name
  EXPECT_EQ(Value("nsm_registry_expirations_total", {{"registry", "nse"}, {"result", "ok"}}), 1);
  // Expiry unregisters below this element: not a caller's Unregister.
  EXPECT_EQ(Value("nsm_registry_unregisters_total", {{"registry", "nse"}, {"result", "ok"}}),
            std::nullopt);
}

// The admission hooks of a registry service (registry/transport/service.h): calls waiting and
// calls answered without running, by kind and reason.
TEST_F(RegistryMetricsTest, AdmissionHooksCountQueuedAndShedCalls) {
  AdmissionOptions options{.max_queued = 1};
  stats_->HookAdmission("nse", options);
  auto shed = [&](const char* kind, const char* reason) {
    return Value("nsm_registry_shed_total",
                 {{"registry", "nse"}, {"kind", kind}, {"reason", reason}});
  };
  EXPECT_TRUE(DriveOverload(
      options,
      [&] {
        EXPECT_EQ(Value("nsm_registry_queued_calls", {{"registry", "nse"}}), 1);
      },
      [&](const absl::Status& s) {
        EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
        EXPECT_EQ(shed("new", "refused"), 1);
        EXPECT_EQ(shed("renewal", "refused"), 0);
      }));
  EXPECT_EQ(shed("unregister", "expired"), 1);
  EXPECT_EQ(Value("nsm_registry_queued_calls", {{"registry", "nse"}}), 0);
}

}  // namespace
}  // namespace nsm::reg::metrics

// The registry-memory chains in process with the FakeClock: what each element adds, bad input
// answered without changing stored state, inter-domain names without a proxy, unknown services.
#include "registry/chains/memory.h"

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"

namespace nsm::reg::chains {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using NSQuery = ::registry::NetworkServiceQuery;
using NSResponse = ::registry::NetworkServiceResponse;

NSE Endpoint(const std::string& name, const std::string& service = "ns-1") {
  NSE nse;
  nse.set_name(name);
  nse.set_url("tcp://10.0.0.1:5001");
  nse.add_network_service_names(service);
  return nse;
}

class MemoryChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    watch_ = BufferedFindStream<NSEResponse>::Create(ctx_);
    NSEQuery q;
    q.set_watch(true);
    ASSERT_TRUE(r_.nse->Find(ctx_, q, watch_).ok());
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  MemoryRegistry r_ = NewMemoryRegistry(MemoryRegistryOptions{.expire_period = absl::Minutes(1)});
  std::shared_ptr<BufferedFindStream<NSEResponse>> watch_;
};

TEST_F(MemoryChainTest, EndpointGetsRegistrationTimeAndCappedExpiration) {
  NSE nse = Endpoint("nse-1");
  auto r = r_.nse->Register(ctx_, nse);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(api::FromProtoTimestamp(r->initial_registration_time()), clock_->Now());
  EXPECT_EQ(api::FromProtoTimestamp(r->expiration_time()), clock_->Now() + absl::Minutes(1));
  auto stored = r_.nse_store->Get("nse-1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->expiration_time().seconds(), r->expiration_time().seconds());
}

TEST_F(MemoryChainTest, ServiceGetsDefaultPayload) {
  NS ns;
  ns.set_name("ns-1");
  auto r = r_.ns->Register(ctx_, ns);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload(), "IP");
}

TEST_F(MemoryChainTest, BadReRegistrationChangesNothing) {
  NSE good = Endpoint("nse-1");
  ASSERT_TRUE(r_.nse->Register(ctx_, good).ok());
  const NSE stored = *r_.nse_store->Get("nse-1");
  ASSERT_EQ(watch_->Drain().size(), 1u);

  NSE bad_url = Endpoint("nse-1");
  bad_url.set_url("nonsense");
  EXPECT_EQ(r_.nse->Register(ctx_, bad_url).status().code(), absl::StatusCode::kInvalidArgument);
  NSE past = Endpoint("nse-1");
  *past.mutable_expiration_time() = api::ToProtoTimestamp(clock_->Now() - absl::Seconds(5));
  EXPECT_EQ(r_.nse->Register(ctx_, past).status().code(), absl::StatusCode::kInvalidArgument);
  NSE bad_service = Endpoint("nse-1", "a b");
  EXPECT_EQ(r_.nse->Register(ctx_, bad_service).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(r_.nse_store->Get("nse-1")->SerializeAsString(), stored.SerializeAsString());
  EXPECT_TRUE(watch_->Drain().empty()) << "watchers saw no change";
  EXPECT_EQ(r_.nse_expire->size(), 1u);
}

TEST_F(MemoryChainTest, UnregisterOfUnknownNameSucceedsQuietly) {
  NSE nse;
  nse.set_name("ghost");
  EXPECT_TRUE(r_.nse->Unregister(ctx_, nse).ok());
  NS ns;
  ns.set_name("ghost");
  EXPECT_TRUE(r_.ns->Unregister(ctx_, ns).ok());
  EXPECT_TRUE(watch_->Drain().empty());
}

TEST_F(MemoryChainTest, EndpointOfAnUnknownServiceIsAccepted) {
  // As in NSM: the registry does not check that the network services exist (nor creates them);
  // discovery looks the service up separately.
  NSE nse = Endpoint("nse-1", "never-registered");
  ASSERT_TRUE(r_.nse->Register(ctx_, nse).ok());
  NSQuery q;
  q.mutable_network_service()->set_name("never-registered");
  auto s = BufferedFindStream<NSResponse>::Create(ctx_);
  ASSERT_TRUE(r_.ns->Find(ctx_, q, s).ok());
  EXPECT_TRUE(s->Drain().empty());
}

TEST_F(MemoryChainTest, InterdomainWithoutProxyFailsAndStoresNothing) {
  NSE nse = Endpoint("nse-1@other.domain");
  auto r = r_.nse->Register(ctx_, nse);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("nse-1@other.domain"), std::string::npos);
  EXPECT_EQ(r_.nse_store->size(), 0u);
  EXPECT_EQ(r_.nse_expire->size(), 0u);
  EXPECT_TRUE(watch_->Drain().empty());
  NS ns;
  ns.set_name("ns@other.domain");
  EXPECT_EQ(r_.ns->Register(ctx_, ns).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r_.ns_store->size(), 0u);
}

TEST_F(MemoryChainTest, ExpiryTellsWatchersAndReRegistrationExtends) {
  NSE nse = Endpoint("nse-1");
  ASSERT_TRUE(r_.nse->Register(ctx_, nse).ok());
  clock_->Advance(absl::Seconds(40));
  NSE again = Endpoint("nse-1");
  ASSERT_TRUE(r_.nse->Register(ctx_, again).ok());
  clock_->Advance(absl::Seconds(40));
  auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("nse-1");
  ASSERT_TRUE(r_.nse->Find(ctx_, q, s).ok());
  EXPECT_EQ(s->Drain().size(), 1u) << "80 s after the first registration it is still there";
  clock_->Advance(absl::Seconds(20));
  r_.nse_serialize->executor()->RunSync("nse-1", [] {});  // the expiry queued on the name ran
  auto events = watch_->Drain();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[2].deleted());
  EXPECT_EQ(r_.nse_store->size(), 0u);
}

}  // namespace
}  // namespace nsm::reg::chains

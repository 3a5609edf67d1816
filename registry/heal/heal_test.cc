// heal over real gRPC on a unix socket with the FakeClock timing the backoff: a registry restart
// is noticed through the monitor stream, registrations come back, callers' watches are re-opened,
// Unregister and the end of the chain context stop healing.
#include "registry/heal/heal.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/memory/memory.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"
#include "registry/transport/server.h"

namespace nsm::reg::heal {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

constexpr absl::Duration kWait = absl::Seconds(30);  // bound for network effects

class HealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-regheal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    url_ = "unix://" + dir_ + "/registry.sock";
    StartRegistry();
    auto [ctx, cancel] = Context::Background(clock_).WithCancel();
    chain_ctx_ = ctx;
    cancel_chain_ = cancel;
    heal_ = NewNSEClient(chain_ctx_);
    auto channel = channels_->Get(url_);
    chain_ = std::make_shared<NSERegistryClientChain>(NSERegistryClientChain::Elements{
        heal_, std::make_shared<transport::NSERegistryGrpcClient>(
                   *channel, url_, transport::ClientOptions{.dial_timeout = absl::Seconds(2)})});
    heal_->SetHealChain(chain_);
  }
  void TearDown() override {
    cancel_chain_();
    chain_.reset();
    heal_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new registry process: an empty store on the same socket.
  void StartRegistry() {
    server_.reset();
    store_ = memory::NewNSEServer();
    transport::ServerOptions options;
    options.listen_on = {url_};
    options.credentials = MakeInsecureCredentials();
    auto server = transport::RegistryGrpcServer::Start(memory::NewNSServer(), store_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void StopRegistry() { server_->Shutdown(absl::ZeroDuration()); }

  // Until `done` holds (bounded): moves the fake clock to the next timer when that is a heal
  // backoff (at most 5 s, +10 % jitter). Longer timers are left alone: advancing through a restore
  // attempt's 15 s deadline would cancel the attempt under way, and the expiries are minutes.
  template <class F>
  bool DriveUntil(F done) {
    const absl::Time end = absl::Now() + kWait;
    while (!done()) {
      if (absl::Now() > end) return false;
      const absl::Time now = clock_->Now();
      if (auto next = clock_->NextDeadline(); next && *next - now <= absl::Milliseconds(5500)) {
        clock_->Advance(std::max(*next - now, absl::ZeroDuration()));
      } else {
        absl::SleepFor(absl::Milliseconds(2));  // real gRPC work under way
      }
    }
    return true;
  }

  NSE Endpoint(const std::string& name) {
    NSE nse;
    nse.set_name(name);
    nse.set_url("tcp://10.0.0.1:5001");
    return nse;
  }

  std::string dir_, url_;
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context chain_ctx_;
  Context::CancelFunc cancel_chain_;
  std::shared_ptr<memory::NSEServer> store_;
  std::unique_ptr<transport::RegistryGrpcServer> server_;
  std::shared_ptr<transport::ChannelPool> channels_ =
      std::make_shared<transport::ChannelPool>(MakeInsecureCredentials());
  std::shared_ptr<NSEClient> heal_;
  std::shared_ptr<NSERegistryClientChain> chain_;
};

TEST_F(HealTest, RegistrationsComeBackAfterARegistryRestart) {
  NSE a = Endpoint("nse-a"), b = Endpoint("nse-b");
  ASSERT_TRUE(chain_->Register(chain_ctx_, a).ok());
  ASSERT_TRUE(chain_->Register(chain_ctx_, b).ok());
  EXPECT_TRUE(heal_->monitoring());
  EXPECT_EQ(store_->size(), 2u);
  // The server adds the watcher on its own pool, maybe after the Registers were answered.
  EXPECT_TRUE(Eventually([&] { return store_->watchers() == 1u; }))
      << "one monitor stream for all registrations";

  StopRegistry();
  ASSERT_TRUE(clock_->AwaitPendingTimers(1, kWait)) << "the loss is noticed";
  StartRegistry();
  EXPECT_EQ(store_->size(), 0u);
  ASSERT_TRUE(DriveUntil([&] { return store_->size() == 2; }));
  EXPECT_TRUE(store_->Get("nse-a").has_value());
  EXPECT_TRUE(DriveUntil([&] { return heal_->monitoring(); }));
}

TEST_F(HealTest, UnregisteredItemsAreNotRestored) {
  NSE a = Endpoint("nse-a"), b = Endpoint("nse-b");
  ASSERT_TRUE(chain_->Register(chain_ctx_, a).ok());
  ASSERT_TRUE(chain_->Register(chain_ctx_, b).ok());
  ASSERT_TRUE(chain_->Unregister(chain_ctx_, a).ok());
  EXPECT_EQ(heal_->Registrations().size(), 1u);
  StopRegistry();
  ASSERT_TRUE(clock_->AwaitPendingTimers(1, kWait));
  StartRegistry();
  ASSERT_TRUE(DriveUntil([&] { return store_->size() == 1; }));
  EXPECT_TRUE(store_->Get("nse-b").has_value());
  EXPECT_FALSE(store_->Get("nse-a").has_value());
}

TEST_F(HealTest, WatchesAreReopened) {
  auto watch = BufferedFindStream<NSEResponse>::Create(Context());
  NSEQuery q;
  q.set_watch(true);
  ASSERT_TRUE(chain_->Find(chain_ctx_, q, watch).ok());
  ASSERT_TRUE(DriveUntil([&] { return store_->watchers() == 1; }));
  StopRegistry();
  ASSERT_TRUE(clock_->AwaitPendingTimers(1, kWait));
  StartRegistry();
  ASSERT_TRUE(DriveUntil([&] { return store_->watchers() >= 1; })) << "the watch is back";
  NSE c = Endpoint("nse-c");
  ASSERT_TRUE(store_->Register(Context(), c, {}).ok());
  auto got = watch->Recv(kWait);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->network_service_endpoint().name(), "nse-c");
  EXPECT_FALSE(watch->finished());
  EXPECT_EQ(watch->reopened(), 1) << "the caller learns that deletions may have been missed";
  watch->Cancel();
}

TEST_F(HealTest, EndOfTheChainContextStopsHealing) {
  NSE a = Endpoint("nse-a");
  ASSERT_TRUE(chain_->Register(chain_ctx_, a).ok());
  cancel_chain_();
  StopRegistry();
  StartRegistry();
  EXPECT_FALSE(clock_->AwaitPendingTimers(1, absl::Milliseconds(300)));
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(HealTest, RegisterFailsWhenTheRegistryIsDown) {
  StopRegistry();
  NSE a = Endpoint("nse-a");
  EXPECT_EQ(chain_->Register(chain_ctx_, a).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(heal_->Registrations().empty()) << "a failed first registration is forgotten";
}

}  // namespace
}  // namespace nsm::reg::heal

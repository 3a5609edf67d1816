// The registry client chains against registry-memory over gRPC on a unix socket, one FakeClock
// for both: registrations stay alive through refresh, come back after a registry restart with
// their first registration time, and Close() unregisters the endpoints (services stay).
#include "registry/chains/client.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "registry/chains/memory.h"
#include "registry/transport/server.h"

namespace nsm::reg::chains {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;

constexpr absl::Duration kWait = absl::Seconds(30);  // bound for network effects

class ClientChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-regcli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    url_ = "unix://" + dir_ + "/registry.sock";
    StartRegistry();
    auto clients = RegistryClients::Create(
        Context::Background(clock_),
        ClientChainOptions{.registry_url = url_, .credentials = MakeInsecureCredentials()});
    ASSERT_TRUE(clients.ok()) << clients.status();
    clients_ = std::move(*clients);
  }
  void TearDown() override {
    clients_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartRegistry() {
    server_.reset();
    registry_ = NewMemoryRegistry({});
    transport::ServerOptions options;
    options.listen_on = {url_};
    options.credentials = MakeInsecureCredentials();
    options.service.clock = clock_;
    auto server = transport::RegistryGrpcServer::Start(registry_.ns, registry_.nse, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

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
    nse.add_network_service_names("ns-1");
    return nse;
  }

  std::string dir_, url_;
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  MemoryRegistry registry_;
  std::unique_ptr<transport::RegistryGrpcServer> server_;
  std::unique_ptr<RegistryClients> clients_;
};

TEST_F(ClientChainTest, RefreshKeepsTheRegistrationAlive) {
  NSE nse = Endpoint("nse-1");
  auto r = clients_->nse().Register(clients_->chain_context(), nse);
  ASSERT_TRUE(r.ok()) << r.status();
  const absl::Time first = clock_->Now();
  absl::Time expiration = api::FromProtoTimestamp(r->expiration_time());
  // Settled: no call in flight (their deadline timers are gone) and the next refresh is armed.
  auto settle = [&] {
    absl::Time end = absl::Now() + kWait;
    for (;;) {
      auto next = clock_->NextDeadline();
      if (next && *next - clock_->Now() > absl::Seconds(30)) return true;
      if (absl::Now() > end) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
  };
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(settle());
    // The refresh (at ~2/3 of the minute) comes before the registry's expiry: fire just it.
    const absl::Duration step = *clock_->NextDeadline() - clock_->Now();
    EXPECT_LT(clock_->Now() + step, expiration);
    clock_->Advance(step);
    ASSERT_TRUE(settle());
    auto stored = registry_.nse_store->Get("nse-1");
    ASSERT_TRUE(stored.has_value());
    expiration = api::FromProtoTimestamp(stored->expiration_time());
    EXPECT_LT(absl::AbsDuration(expiration - (clock_->Now() + absl::Minutes(1))),
              absl::Nanoseconds(1))
        << "refresh " << i;
    EXPECT_EQ(api::FromProtoTimestamp(stored->initial_registration_time()), first);
  }
  EXPECT_GT(clock_->Now() - first, absl::Minutes(3)) << "alive well past the one-minute cap";
}

TEST_F(ClientChainTest, RegistrationsComeBackAfterARestart) {
  NSE nse = Endpoint("nse-1");
  ASSERT_TRUE(clients_->nse().Register(clients_->chain_context(), nse).ok());
  NS ns;
  ns.set_name("ns-1");
  ASSERT_TRUE(clients_->ns().Register(clients_->chain_context(), ns).ok());
  server_->Shutdown(absl::ZeroDuration());
  StartRegistry();
  ASSERT_TRUE(DriveUntil(
      [&] { return registry_.nse_store->size() == 1 && registry_.ns_store->size() == 1; }));
  EXPECT_EQ(registry_.ns_store->Get("ns-1")->payload(), "IP");
}

// Endpoints go; the service stays, since other endpoints may provide it.
TEST_F(ClientChainTest, CloseUnregistersEndpointsAndKeepsServices) {
  NSE a = Endpoint("nse-a"), b = Endpoint("nse-b");
  ASSERT_TRUE(clients_->nse().Register(clients_->chain_context(), a).ok());
  ASSERT_TRUE(clients_->nse().Register(clients_->chain_context(), b).ok());
  NS ns;
  ns.set_name("ns-1");
  ASSERT_TRUE(clients_->ns().Register(clients_->chain_context(), ns).ok());
  EXPECT_EQ(registry_.nse_store->size(), 2u);
  ASSERT_TRUE(clients_->Close(Context()).ok());
  EXPECT_EQ(registry_.nse_store->size(), 0u);
  EXPECT_EQ(registry_.ns_store->size(), 1u);
  EXPECT_EQ(clients_->refresher().size(), 0u);
}

}  // namespace
}  // namespace nsm::reg::chains

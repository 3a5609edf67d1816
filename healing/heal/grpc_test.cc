// heal over real gRPC on unix sockets: an NSC client chain (client::NewClient with the refresh and
// heal slots filled, dial, connect) in front of an endpoint chain served with the gRPC transport
// and MonitorConnection. The server is stopped and restarted: heal keeps retrying the same path
// while it is unreachable and restores the connection when it is back. A DOWN published by the
// next hop heals too, and Close leaves no stream behind.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/nsm_url.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/grpc_transport.h"
#include "core/token.h"
#include "gtest/gtest.h"
#include "healing/heal/client.h"
#include "healing/refresh/client.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/monitor/grpc_service.h"
#include "networkservice/monitor/server.h"
#include "networkservice/monitor/store.h"

namespace nsm::healing::heal {
namespace {

// An NSE process: the endpoint chain with a monitor server, served over gRPC on a unix socket.
class Nse {
 public:
  Nse(const std::string& path, std::shared_ptr<FakeClock> clock, std::shared_ptr<ThreadPool> pool) {
    auto ep =
        endpoint::NewServer(NewInsecureTokenGenerator("nse", absl::Minutes(10), clock),
                            {.name = "nse", .monitor = monitor::NewServer(store), .pool = pool});
    EXPECT_TRUE(ep.ok()) << ep.status();
    endpoint = *ep;
    ns_ = std::make_unique<NetworkServiceGrpcServer>(endpoint, pool, clock);
    monitor = std::make_unique<monitor::GrpcService>(store);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(ns_.get());
    builder.RegisterService(monitor.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
  }
  ~Nse() { Kill(); }
  // The process dies: calls and streams are cut, nothing is said.
  void Kill() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    store->Shutdown();
  }

  std::shared_ptr<monitor::ConnectionStore> store = monitor::ConnectionStore::Create();
  std::shared_ptr<endpoint::Endpoint> endpoint;
  std::unique_ptr<monitor::GrpcService> monitor;

 private:
  std::unique_ptr<NetworkServiceGrpcServer> ns_;
  std::unique_ptr<grpc::Server> server_;
};

class HealGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-heal-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/nse.sock";
    nse_ = std::make_unique<Nse>(path_, clock, pool);

    refresh = refresh::NewClient({.attempt_timeout = absl::Seconds(15)});
    heal = NewClient({.retry = {.jitter = 0},
                      .attempt_timeout = absl::Seconds(15),
                      .observer = {.healed = [this](const Connection&, int attempts) {
                        absl::MutexLock lock(&mu_);
                        healed_.push_back(attempts);
                      }}});
    connect::ChannelOptions channel_options;
    channel_options.initial_reconnect_backoff = absl::Milliseconds(20);
    channel_options.max_reconnect_backoff = absl::Milliseconds(100);
    auto channels =
        connect::ChannelPool::Create(grpc::InsecureChannelCredentials(), channel_options);
    auto nsc = client::NewClient(
        NewInsecureTokenGenerator("nsc", absl::Minutes(10), clock),
        {.name = "nsc",
         .refresh = refresh,
         .client_url = clienturl::NewClient(*api::ParseNsmUrl("unix://" + path_)),
         .heal = heal,
         .dial = connect::NewDial(channels, {.dial_timeout = absl::Milliseconds(300)}),
         .connect = connect::NewClient(),
         .pool = pool});
    ASSERT_TRUE(nsc.ok()) << nsc.status();
    nsc_ = *nsc;
  }
  void TearDown() override {
    nsc_.reset();
    nse_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::StatusOr<Connection> Request() {
    NetworkServiceRequest r;
    r.mutable_connection()->set_network_service("svc");
    return nsc_->Request(Context::Background(clock), r);
  }
  // Waits until heal's retry timer is the next one due, `d` from now (an attempt in flight has a
  // timer of its own, 15 s away).
  bool AwaitRetry(absl::Duration d) {
    return Eventually([&] {
      auto next = clock->NextDeadline();
      return next && *next - clock->Now() == d;
    });
  }
  size_t healed() {
    absl::MutexLock lock(&mu_);
    return healed_.size();
  }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<ThreadPool> pool = std::make_shared<ThreadPool>(8);
  std::shared_ptr<refresh::Client> refresh;
  std::shared_ptr<Client> heal;
  std::string dir_, path_;
  std::unique_ptr<Nse> nse_;
  std::shared_ptr<client::Client> nsc_;
  absl::Mutex mu_;
  std::vector<int> healed_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HealGrpcTest, RestoresTheConnectionWhenTheNextHopRestarts) {
  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 2);
  const std::string nse_id = conn->path().path_segments(1).id();
  ASSERT_TRUE(Eventually([&] { return nse_->monitor->open_streams() == 1; }));
  EXPECT_EQ(heal->open_watches(), 1u);
  EXPECT_EQ(clock->PendingTimers(), 2u);  // the NSC's refresh and the NSE's timeout

  // The NSE process dies: the stream breaks, heal tries the same path at once and, while the
  // next hop cannot be reached, keeps trying the same path with backoff.
  nse_.reset();
  ASSERT_TRUE(AwaitRetry(absl::Milliseconds(200)));
  EXPECT_EQ(heal->stats().attempts.load(), 1u);
  clock->Advance(absl::Milliseconds(200));
  ASSERT_TRUE(AwaitRetry(absl::Milliseconds(400)));
  EXPECT_EQ(heal->stats().attempts.load(), 2u);
  EXPECT_EQ(healed(), 0u);

  // It comes back with no state; the next attempt re-creates the connection on the same path.
  nse_ = std::make_unique<Nse>(path_, clock, pool);
  ASSERT_TRUE(Eventually(
      [&] {
        if (healed() > 0) return true;
        if (auto next = clock->NextDeadline(); next && *next - clock->Now() < absl::Minutes(1)) {
          clock->Advance(*next - clock->Now());
        }
        return false;
      },
      absl::Seconds(30)));
  EXPECT_EQ(heal->stats().started.load(), 1u);
  EXPECT_EQ(nse_->endpoint->connections(), 1u);
  auto at_nse = nse_->store->Get(nse_id);
  ASSERT_TRUE(at_nse.has_value()) << "the NSE re-used its segment id";
  EXPECT_EQ(at_nse->path().path_segments(0).id(), conn->id());
  ASSERT_TRUE(Eventually([&] { return nse_->monitor->open_streams() == 1; }));
  EXPECT_EQ(heal->open_watches(), 1u);
  EXPECT_EQ(nsc_->connections(), 1u);

  // A later DOWN from the restarted NSE heals again, on the same path.
  at_nse->set_state(::connection::State::DOWN);
  ASSERT_TRUE(nse_->store->Update(*at_nse).ok());
  ASSERT_TRUE(Eventually([&] { return healed() == 2; }));
  EXPECT_EQ(nse_->endpoint->connections(), 1u);

  // Close: nothing of heal or refresh is left, on either side.
  ASSERT_TRUE(nsc_->Close(Context::Background(clock), *conn).ok());
  EXPECT_EQ(nse_->endpoint->connections(), 0u);
  EXPECT_EQ(nsc_->connections(), 0u);
  ASSERT_TRUE(Eventually([&] { return heal->open_watches() == 0; }));
  ASSERT_TRUE(Eventually([&] { return nse_->monitor->open_streams() == 0; }));
  EXPECT_EQ(heal->connections(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

TEST_F(HealGrpcTest, ManyConnectionsOneStreamEachAndNoneAfterClose) {
  std::vector<Connection> conns;
  for (int i = 0; i < 50; ++i) {
    auto c = Request();
    ASSERT_TRUE(c.ok()) << c.status();
    conns.push_back(*c);
  }
  ASSERT_TRUE(Eventually([&] { return nse_->monitor->open_streams() == 50; }));
  EXPECT_EQ(heal->open_watches(), 50u);
  for (auto& c : conns) ASSERT_TRUE(nsc_->Close(Context::Background(clock), c).ok());
  ASSERT_TRUE(Eventually([&] { return nse_->monitor->open_streams() == 0; }));
  ASSERT_TRUE(Eventually([&] { return heal->open_watches() == 0; }));
  EXPECT_EQ(heal->stats().started.load(), 0u);  // our own Closes never look like failures
  EXPECT_EQ(clock->PendingTimers(), 0u);
}

}  // namespace
}  // namespace nsm::healing::heal

// metrics element: requests, refreshes and closes by result and service, latency histograms, the
// active gauge by service/endpoint/forwarder, the label cap, and begin's timeout Close (issue #8).
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "api/path.h"
#include "core/admission_testing.h"
#include "core/fake_clock.h"
#include "core/metrics/read.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/metrics/server.h"
#include "networkservice/metrics/stats.h"

namespace nsm::metrics {
namespace {

constexpr absl::Duration kLifetime = absl::Minutes(15);

// Stands for the rest of the hop: answers with an endpoint name and the next hop "forwarder-a"
// added to the path ([nsc, nsmgr] when called without one).
class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                     const ServerNext&) override {
    if (!fail.ok()) return fail;
    Connection c = request.connection();
    c.set_network_service_endpoint_name(endpoint);
    if (c.path().path_segments_size() == 0) {  // called directly: [nsc, nsmgr]
      for (const char* n : {"nsc", "nsmgr"}) c.mutable_path()->add_path_segments()->set_name(n);
      c.mutable_path()->set_index(1);
    }
    c.mutable_path()->add_path_segments()->set_name("forwarder-a");
    return c;
  }
  absl::Status Close(const Context&, Connection&, const ServerNext&) override {
    if (closed != nullptr) closed->Notify();
    return fail_close;
  }
  std::string endpoint = "nse-1";
  absl::Status fail;
  absl::Status fail_close;
  absl::Notification* closed = nullptr;
};

class MetricsServerTest : public ::testing::Test {
 protected:
  void Build(Options options = {}, size_t max_label_values = kDefaultMaxLabelValues) {
    stats = std::make_shared<NetworkServiceStats>(registry, max_label_values);
    server = NewServer(stats, options);
    chain = std::make_shared<ServerChain>(ServerChain::Elements{server, tail});
  }
  NetworkServiceRequest Req(const std::string& id = "conn-1", const std::string& ns = "ns-a") {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    r.mutable_connection()->set_network_service(ns);
    return r;
  }
  std::optional<double> Value(const std::string& name, const Labels& labels = {}) {
    return ValueOf(*registry, name, labels);
  }
  std::optional<double> Active(const std::string& ns, const std::string& nse,
                               const std::string& fwd) {
    return Value("nsm_networkservice_active_connections",
                 {{"network_service", ns}, {"endpoint", nse}, {"forwarder", fwd}});
  }

  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<NetworkServiceStats> stats;
  std::shared_ptr<Tail> tail = std::make_shared<Tail>();
  std::shared_ptr<Server> server;
  std::shared_ptr<ServerChain> chain;
};

TEST_F(MetricsServerTest, NoStatsNoElement) { EXPECT_EQ(NewServer(nullptr), nullptr); }

TEST_F(MetricsServerTest, RequestRefreshAndCloseAreCountedAndTimed) {
  Build({.forwarder = ForwarderLabel::kNextHop});
  auto req = Req();
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(
      Value("nsm_networkservice_requests_total", {{"network_service", "ns-a"}, {"result", "ok"}}),
      1);
  EXPECT_EQ(Active("ns-a", "nse-1", "forwarder-a"), 1);
  EXPECT_EQ(Value("nsm_networkservice_request_duration_seconds_count", {{"kind", "request"}}), 1);

  auto refresh = Req();
  ASSERT_TRUE(chain->Request(Context(), refresh).ok());
  EXPECT_EQ(
      Value("nsm_networkservice_refreshes_total", {{"network_service", "ns-a"}, {"result", "ok"}}),
      1);
  EXPECT_EQ(
      Value("nsm_networkservice_requests_total", {{"network_service", "ns-a"}, {"result", "ok"}}),
      1);
  EXPECT_EQ(Value("nsm_networkservice_request_duration_seconds_count", {{"kind", "refresh"}}), 1);
  EXPECT_EQ(Active("ns-a", "nse-1", "forwarder-a"), 1);
  EXPECT_EQ(server->size(), 1u);

  Connection c = *conn;
  ASSERT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_EQ(
      Value("nsm_networkservice_closes_total", {{"network_service", "ns-a"}, {"result", "ok"}}), 1);
  EXPECT_EQ(Value("nsm_networkservice_close_duration_seconds_count"), 1);
  EXPECT_EQ(Active("ns-a", "nse-1", "forwarder-a"), 0);
  EXPECT_EQ(server->size(), 0u);
  // A new Request for the same id after Close is a request again.
  auto again = Req();
  ASSERT_TRUE(chain->Request(Context(), again).ok());
  EXPECT_EQ(
      Value("nsm_networkservice_requests_total", {{"network_service", "ns-a"}, {"result", "ok"}}),
      2);
}

TEST_F(MetricsServerTest, FailuresAreCountedByCodeName) {
  Build();
  tail->fail = absl::NotFoundError("network service ns-a is not found");
  auto req = Req();
  ASSERT_FALSE(chain->Request(Context(), req).ok());
  EXPECT_EQ(Value("nsm_networkservice_requests_total",
                  {{"network_service", "ns-a"}, {"result", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(server->size(), 0u);
  EXPECT_EQ(Active("ns-a", "nse-1", ""), std::nullopt);

  tail->fail = absl::OkStatus();
  auto ok = Req();
  ASSERT_TRUE(chain->Request(Context(), ok).ok());
  // A failed refresh keeps the connection counted.
  tail->fail = absl::UnavailableError("forwarder gone");
  auto refresh = Req();
  ASSERT_FALSE(chain->Request(Context(), refresh).ok());
  EXPECT_EQ(Value("nsm_networkservice_refreshes_total",
                  {{"network_service", "ns-a"}, {"result", "UNAVAILABLE"}}),
            1);
  EXPECT_EQ(Active("ns-a", "nse-1", ""), 1);
  // A failed Close still ends the connection here (Close is best effort).
  tail->fail_close = absl::DeadlineExceededError("close timed out");
  Connection c = ok.connection();
  EXPECT_FALSE(chain->Close(Context(), c).ok());
  EXPECT_EQ(Value("nsm_networkservice_closes_total",
                  {{"network_service", "ns-a"}, {"result", "DEADLINE_EXCEEDED"}}),
            1);
  EXPECT_EQ(Active("ns-a", "nse-1", ""), 0);
}

TEST_F(MetricsServerTest, RefreshToAnotherEndpointMovesTheConnection) {
  Build({.forwarder = ForwarderLabel::kThisHop});
  auto req = Req();
  ASSERT_TRUE(chain->Request(Context(), req).ok());
  EXPECT_EQ(Active("ns-a", "nse-1", "nsmgr"), 1);
  tail->endpoint = "nse-2";
  auto refresh = Req();
  ASSERT_TRUE(chain->Request(Context(), refresh).ok());
  EXPECT_EQ(Active("ns-a", "nse-1", "nsmgr"), 0);
  EXPECT_EQ(Active("ns-a", "nse-2", "nsmgr"), 1);
}

TEST_F(MetricsServerTest, LabelValuesAreCapped) {
  Build({}, /*max_label_values=*/2);
  for (const char* ns : {"ns-a", "ns-b", "ns-c", "ns-d"}) {
    auto req = Req(std::string("id-") + ns, ns);
    ASSERT_TRUE(chain->Request(Context(), req).ok());
  }
  EXPECT_EQ(
      Value("nsm_networkservice_requests_total", {{"network_service", "ns-b"}, {"result", "ok"}}),
      1);
  EXPECT_EQ(
      Value("nsm_networkservice_requests_total", {{"network_service", "other"}, {"result", "ok"}}),
      2);
  EXPECT_EQ(Active("other", "nse-1", ""), 2);
}

TEST_F(MetricsServerTest, MonitorStreamsHookMovesTheGauge) {
  Build();
  auto hook = stats->MonitorStreamsHook();
  hook(1);
  hook(1);
  hook(-1);
  EXPECT_EQ(Value("nsm_monitor_streams"), 1);
}

// Through a real admission: one worker held, a call waits, a new Request is refused, the waiting
// call's caller gives up.
TEST_F(MetricsServerTest, AdmissionHooksCountQueuedAndShedCalls) {
  Build();
  AdmissionOptions options{.max_queued = 1};
  stats->HookAdmission(options);
  EXPECT_TRUE(DriveOverload(
      options, [&] { EXPECT_EQ(Value("nsm_networkservice_queued_calls"), 1); },
      [&](const absl::Status& s) {
        EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
        EXPECT_EQ(
            Value("nsm_networkservice_shed_total", {{"kind", "request"}, {"reason", "refused"}}),
            1);
      }));
  EXPECT_EQ(Value("nsm_networkservice_shed_total", {{"kind", "close"}, {"reason", "expired"}}), 1);
  EXPECT_EQ(Value("nsm_networkservice_queued_calls"), 0);
}

// In the endpoint chain, right after begin: the timeout's Close (a begin event on the FakeClock)
// passes the element, so the active gauge goes back to zero without a Close from the caller. (An
// end hop's trimpath drops the tail's segment, so the forwarder label is this hop's here.)
TEST_F(MetricsServerTest, ExpiryCloseThroughBeginIsCounted) {
  stats = std::make_shared<NetworkServiceStats>(registry);
  auto clock = FakeClock::Create();
  absl::Notification closed;
  tail->closed = &closed;
  auto ep =
      endpoint::NewServer(NewInsecureTokenGenerator("nsmgr", kLifetime, clock),
                          {.name = "nsmgr",
                           .metrics = NewServer(stats, {.forwarder = ForwarderLabel::kThisHop}),
                           .additional = {tail}});
  ASSERT_TRUE(ep.ok()) << ep.status();
  NetworkServiceRequest req = Req("nsc-id");
  auto* s = req.mutable_connection()->mutable_path()->add_path_segments();
  s->set_name("nsc");
  s->set_id("nsc-id");
  *s->mutable_expires() = api::ToProtoTimestamp(clock->Now() + kLifetime);
  auto conn = (*ep)->Request(Context::Background(clock), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(Active("ns-a", "nse-1", "nsmgr"), 1);

  clock->Advance(kLifetime);
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Barrier: a Close of the same connection waits for the running event, then finds it gone.
  Connection c = *conn;
  EXPECT_TRUE((*ep)->Close(Context::Background(clock), c).ok());
  EXPECT_EQ(
      Value("nsm_networkservice_closes_total", {{"network_service", "ns-a"}, {"result", "ok"}}), 1);
  EXPECT_EQ(Active("ns-a", "nse-1", "nsmgr"), 0);
}

}  // namespace
}  // namespace nsm::metrics

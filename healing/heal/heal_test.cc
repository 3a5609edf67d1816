// heal (in-process next hop watched through its store): DOWN and DELETE start a heal, the same path
// is tried first, then the forwarder and then the endpoint are reselected, a live data path keeps
// the same path, a named endpoint is kept, the heal deadline closes and reports, Close and the
// chain's end stop all heal work, REFRESH_REQUESTED re-Requests, and refresh failures hand over
// to heal without stopping the watch.
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "healing/heal/client.h"
#include "healing/refresh/client.h"
#include "networkservice/begin/client.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/monitor/store.h"

namespace nsm::healing::heal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A stand-in for nsmgr + forwarders + endpoints: keeps the forwarder and endpoint named in the
// path (sticky), otherwise picks the first live one; publishes its view of each connection in a
// monitor store as a real hop's monitor server would.
class NextHop : public NetworkServiceClient {
 public:
  struct Seen {
    bool close;
    Connection conn;
  };

  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                     const ClientNext&, const CallOptions&) override {
    absl::MutexLock lock(&mu);
    seen.push_back({false, request.connection()});
    if (fail_all) return absl::UnavailableError("nsmgr: internal trouble");
    Connection c = request.connection();
    auto* path = c.mutable_path();
    std::string fwd = path->path_segments_size() > 2 ? path->path_segments(2).name() : "";
    if (fwd.empty()) {
      if (forwarders.empty()) return absl::UnavailableError("no forwarders");
      fwd = *forwarders.begin();
    }
    if (!forwarders.contains(fwd)) return absl::UnavailableError(absl::StrCat(fwd, " is gone"));
    std::string nse = c.network_service_endpoint_name();
    if (nse.empty()) {
      if (endpoints.empty()) return absl::UnavailableError("no endpoints");
      nse = *endpoints.begin();
    }
    if (!endpoints.contains(nse)) {
      absl::Status gone = absl::UnavailableError(absl::StrCat(nse, " is gone"));
      // What the nsmgr answers when its forwarder could not dial the endpoint (nsm-cpp peers).
      return name_unreachable ? MarkReportedUnreachable(gone, nse) : gone;
    }
    const std::string id = c.id();
    while (path->path_segments_size() > 1) path->mutable_path_segments()->RemoveLast();
    for (const std::string& name : {std::string("nsmgr"), fwd, nse}) {
      auto* s = path->add_path_segments();
      s->set_name(name);
      s->set_id(absl::StrCat(name, "-", id));
    }
    c.set_network_service_endpoint_name(nse);
    c.mutable_mechanism()->set_type("KERNEL");
    Connection view = c;  // the nsmgr's own view: its segment and id
    view.mutable_path()->set_index(1);
    view.set_id(path->path_segments(1).id());
    if (!std::exchange(forget_next, false)) (void)store->Update(view);
    return c;
  }

  absl::Status Close(const Context&, Connection& conn, const ClientNext&,
                     const CallOptions&) override {
    absl::MutexLock lock(&mu);
    seen.push_back({true, conn});
    if (conn.path().path_segments_size() > 1) {
      Connection view = conn;
      view.set_id(conn.path().path_segments(1).id());
      (void)store->Delete(view);
    }
    return absl::OkStatus();
  }

  // The nsmgr reports the connection DOWN (what it does when its downstream breaks).
  void PublishState(const std::string& nsc_id, ::connection::State state) {
    auto conn = store->Get("nsmgr-" + nsc_id);
    ASSERT_TRUE(conn.has_value());
    conn->set_state(state);
    ASSERT_TRUE(store->Update(*conn).ok());
  }
  // The nsmgr closes the connection on its own (timeout, endpoint gone...).
  void Drop(const std::string& nsc_id) {
    auto conn = store->Get("nsmgr-" + nsc_id);
    ASSERT_TRUE(conn.has_value());
    ASSERT_TRUE(store->Delete(*conn).ok());
  }

  size_t requests() {
    absl::MutexLock lock(&mu);
    size_t n = 0;
    for (const auto& s : seen) n += s.close ? 0 : 1;
    return n;
  }
  size_t closes() {
    absl::MutexLock lock(&mu);
    size_t n = 0;
    for (const auto& s : seen) n += s.close ? 1 : 0;
    return n;
  }
  std::vector<Seen> log() {
    absl::MutexLock lock(&mu);
    return seen;
  }
  Connection last_request() {
    absl::MutexLock lock(&mu);
    for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
      if (!it->close) return it->conn;
    }
    return {};
  }
  void Kill(const std::string& name) {
    absl::MutexLock lock(&mu);
    forwarders.erase(name);
    endpoints.erase(name);
  }
  void set_fail_all(bool f) {
    absl::MutexLock lock(&mu);
    fail_all = f;
  }
  void set_name_unreachable(bool n) {
    absl::MutexLock lock(&mu);
    name_unreachable = n;
  }
  // The next answer is not kept: the hop restarts right after it.
  void set_forget_next() {
    absl::MutexLock lock(&mu);
    forget_next = true;
  }

  std::shared_ptr<monitor::ConnectionStore> store = monitor::ConnectionStore::Create();
  absl::Mutex mu;
  std::set<std::string> forwarders ABSL_GUARDED_BY(mu) = {"forwarder-1", "forwarder-2"};
  std::set<std::string> endpoints ABSL_GUARDED_BY(mu) = {"nse-1", "nse-2"};
  bool fail_all ABSL_GUARDED_BY(mu) = false;
  bool name_unreachable ABSL_GUARDED_BY(mu) = false;
  bool forget_next ABSL_GUARDED_BY(mu) = false;
  std::vector<Seen> seen ABSL_GUARDED_BY(mu);
};

// Records what the observer hears.
struct Reports {
  absl::Mutex mu;
  std::vector<std::string> started ABSL_GUARDED_BY(mu);
  std::vector<int> healed ABSL_GUARDED_BY(mu);
  std::vector<absl::Status> failed ABSL_GUARDED_BY(mu);
  std::vector<absl::StatusCode> attempt_failed ABSL_GUARDED_BY(mu);

  Observer observer() {
    return {.started =
                [this](const Connection&, const absl::Status& cause) {
                  absl::MutexLock lock(&mu);
                  started.push_back(std::string(cause.message()));
                },
            .healed =
                [this](const Connection&, int attempts) {
                  absl::MutexLock lock(&mu);
                  healed.push_back(attempts);
                },
            .failed =
                [this](const Connection&, const absl::Status& why) {
                  absl::MutexLock lock(&mu);
                  failed.push_back(why);
                },
            .attempt_failed =
                [this](const Connection&, const absl::Status& status) {
                  absl::MutexLock lock(&mu);
                  attempt_failed.push_back(status.code());
                }};
  }
  size_t healed_count() {
    absl::MutexLock lock(&mu);
    return healed.size();
  }
  size_t failed_count() {
    absl::MutexLock lock(&mu);
    return failed.size();
  }
};

class HealTest : public ::testing::Test {
 protected:
  void Build(Options options, std::shared_ptr<NetworkServiceClient> refresh = nullptr) {
    options.watcher = NewStoreWatcher(next->store);
    options.observer = reports.observer();
    options.attempt_timeout = absl::InfiniteDuration();
    options.retry.jitter = 0;
    heal = NewClient(std::move(options));
    begin = begin::NewClient(pool);
    ClientChain::Elements elements = {begin, metadata::NewClient()};
    if (refresh) elements.push_back(refresh);
    elements.push_back(heal);
    elements.push_back(next);
    chain = MakeClientChain(std::move(elements));
  }
  absl::StatusOr<Connection> Request(const std::string& id, const std::string& nse = "") {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    r.mutable_connection()->set_network_service("svc");
    r.mutable_connection()->set_network_service_endpoint_name(nse);
    auto* seg = r.mutable_connection()->mutable_path()->add_path_segments();
    seg->set_name("nsc");
    seg->set_id(id);
    *seg->mutable_expires() = api::ToProtoTimestamp(clock->Now() + absl::Hours(1));
    return chain->Request(Context::Background(clock), r);
  }
  absl::Status Close(const std::string& id) {
    Connection c;
    c.set_id(id);
    return chain->Close(Context::Background(clock), c);
  }
  // Waits for the n-th Request at the next hop and, when `retry_armed`, for the retry timer.
  bool AwaitRequests(size_t n, bool retry_armed = true) {
    if (!Eventually([&] { return next->requests() >= n; })) return false;
    return !retry_armed || clock->AwaitPendingTimers(1, absl::Seconds(20));
  }
  absl::Duration UntilNextTimer() { return *clock->NextDeadline() - clock->Now(); }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::shared_ptr<ThreadPool> pool = std::make_shared<ThreadPool>(4);
  std::shared_ptr<NextHop> next = std::make_shared<NextHop>();
  Reports reports;
  std::shared_ptr<Client> heal;
  std::shared_ptr<begin::Client> begin;
  std::shared_ptr<ClientChain> chain;
};

TEST(NextModeTest, Ladder) {
  using L = Liveness;
  EXPECT_EQ(NextMode(Mode::kSamePath, true, L::kUnknown, false), Mode::kReselectForwarder);
  EXPECT_EQ(NextMode(Mode::kReselectForwarder, true, L::kDead, false), Mode::kReselectEndpoint);
  EXPECT_EQ(NextMode(Mode::kReselectEndpoint, true, L::kUnknown, false), Mode::kReselectEndpoint);
  EXPECT_EQ(NextMode(Mode::kReselectForwarder, true, L::kUnknown, true), Mode::kReselectForwarder);
  EXPECT_EQ(NextMode(Mode::kReselectEndpoint, true, L::kAlive, false), Mode::kSamePath);
  EXPECT_EQ(NextMode(Mode::kSamePath, false, L::kUnknown, false), Mode::kSamePath);
  EXPECT_EQ(NextMode(Mode::kReselectForwarder, false, L::kDead, false), Mode::kReselectForwarder);
  // The endpoint named unreachable: straight to reselect endpoint, unless it is kept or the data
  // path is alive, or nothing can be reselected.
  EXPECT_EQ(NextMode(Mode::kSamePath, true, L::kUnknown, false, true), Mode::kReselectEndpoint);
  EXPECT_EQ(NextMode(Mode::kSamePath, true, L::kUnknown, true, true), Mode::kReselectForwarder);
  EXPECT_EQ(NextMode(Mode::kSamePath, true, L::kAlive, false, true), Mode::kSamePath);
  EXPECT_EQ(NextMode(Mode::kSamePath, false, L::kUnknown, false, true), Mode::kSamePath);
}

TEST_F(HealTest, DownHealsOnTheSamePathAtOnce) {
  Build({});
  ASSERT_TRUE(Request("c1").ok());
  EXPECT_EQ(heal->open_watches(), 1u);
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(next->requests(), 2u);
  EXPECT_EQ(next->closes(), 0u);  // the same path: nothing torn down
  Connection sent = next->last_request();
  EXPECT_EQ(sent.path().path_segments_size(), 4);
  EXPECT_EQ(sent.path().path_segments(2).name(), "forwarder-1");
  EXPECT_EQ(sent.network_service_endpoint_name(), "nse-1");
  EXPECT_EQ(sent.mechanism().type(), "KERNEL");
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.healed, ElementsAre(1));
    EXPECT_THAT(reports.started, ElementsAre(HasSubstr("DOWN")));
  }
  EXPECT_EQ(heal->stats().started.load(), 1u);
  EXPECT_EQ(heal->open_watches(), 1u);  // the same watch, rebased
  EXPECT_EQ(clock->PendingTimers(), 0u);

  // Healed: a later DOWN starts another episode.
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 2; }));
  EXPECT_EQ(next->requests(), 3u);
}

TEST_F(HealTest, DeleteByTheNextHopHeals) {
  Build({});
  ASSERT_TRUE(Request("c1").ok());
  next->Drop("c1");
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(next->requests(), 2u);
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.started, ElementsAre(HasSubstr("closed")));
  }
  EXPECT_TRUE(next->store->Get("nsmgr-c1").has_value());  // re-created at the next hop
}

// The next hop restarted between its answer and the start of the watch: the stream's initial state
// does not have the connection, and heal sends it again at once instead of leaving it unwatched.
TEST_F(HealTest, AWatchThatFindsNoConnectionAtTheNextHopHeals) {
  Build({});
  next->set_forget_next();
  ASSERT_TRUE(Request("c1").ok());
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(next->requests(), 2u);
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.started, ElementsAre(HasSubstr("does not hold the connection")));
  }
  EXPECT_TRUE(next->store->Get("nsmgr-c1").has_value());
  EXPECT_EQ(heal->open_watches(), 1u);
}

TEST_F(HealTest, SamePathThenReselectsTheForwarderThenTheEndpoint) {
  Build({});
  ASSERT_TRUE(Request("c1").ok());

  // The forwarder dies: same path fails, then at once (one step down the ladder, no backoff) the
  // forwarder is reselected, the endpoint kept. No timer was needed.
  next->Kill("forwarder-1");
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(clock->PendingTimers(), 0u);
  std::vector<NextHop::Seen> log = next->log();
  ASSERT_EQ(log.size(), 4u);  // request, failed same path, Close of the old path, reselect
  EXPECT_TRUE(log[2].close);
  EXPECT_EQ(log[2].conn.path().path_segments(2).name(), "forwarder-1");
  const Connection& reselect = log[3].conn;
  EXPECT_EQ(reselect.path().path_segments_size(), 2);  // nsc and nsmgr only
  EXPECT_EQ(reselect.path().path_segments(1).id(), "nsmgr-c1");
  EXPECT_EQ(reselect.network_service_endpoint_name(), "nse-1");
  EXPECT_FALSE(reselect.has_mechanism());
  EXPECT_EQ(reselect.state(), ::connection::State::RESELECT_REQUESTED);
  auto stored = next->store->Get("nsmgr-c1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->path().path_segments(2).name(), "forwarder-2");

  // The endpoint dies: same path fails, the forwarder reselect fails (the endpoint is still
  // named), then the endpoint is reselected: three attempts back to back, no timer.
  next->Kill("nse-1");
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 2; }));
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(next->requests(), 6u);  // 1 + 2 (first episode) + 3 (this one)
  EXPECT_EQ(next->last_request().network_service_endpoint_name(), "");
  EXPECT_EQ(next->closes(), 2u);  // one Close of the old path per episode, not one per attempt
  stored = next->store->Get("nsmgr-c1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->network_service_endpoint_name(), "nse-2");
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.healed, ElementsAre(2, 3));
    // Every failed attempt was reported (1 in the first episode, 2 in the second).
    EXPECT_EQ(reports.attempt_failed.size(), 3u);
  }
  // The connection begin keeps is a plain UP one: a refresh does not ask to reselect again.
  ASSERT_TRUE(Request("c1").ok());
  EXPECT_EQ(next->last_request().state(), ::connection::State::UP);
  EXPECT_EQ(next->last_request().path().path_segments_size(), 4);
}

// An error that names the endpoint unreachable skips the forwarder reselect: two attempts, the
// second without the endpoint's name.
TEST_F(HealTest, AnEndpointNamedUnreachableIsReselectedAtOnce) {
  Build({});
  next->set_name_unreachable(true);
  ASSERT_TRUE(Request("c1").ok());
  next->Kill("nse-1");
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(clock->PendingTimers(), 0u);
  std::vector<NextHop::Seen> log = next->log();
  ASSERT_EQ(log.size(), 4u);  // request, failed same path, Close of the old path, reselect
  EXPECT_EQ(log[1].conn.network_service_endpoint_name(), "nse-1");
  EXPECT_TRUE(log[2].close);
  EXPECT_EQ(log[3].conn.network_service_endpoint_name(), "");
  EXPECT_EQ(log[3].conn.path().path_segments_size(), 2);
  auto stored = next->store->Get("nsmgr-c1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->network_service_endpoint_name(), "nse-2");
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.healed, ElementsAre(2));
  }
}

// A data path reported alive, then not, then alive again moves the ladder down and back up: only
// the step down is immediate, the step back up waits the backoff (no tight loop).
TEST_F(HealTest, FlippingLivenessNeverLoopsWithoutBackoff) {
  std::atomic<int> checks{0};
  Build({.data_path = CheckerFromFunction([&](const Context&, const Connection&) {
           return checks++ % 2 == 0 ? Liveness::kAlive : Liveness::kUnknown;
         })});
  ASSERT_TRUE(Request("c1").ok());
  next->set_fail_all(true);
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(AwaitRequests(2));  // same path failed; alive: same path again after the backoff
  EXPECT_EQ(next->requests(), 2u);
  clock->Advance(absl::Milliseconds(200));
  // Same path failed, unknown: reselect forwarder at once; failed, alive: back up, after 400 ms.
  ASSERT_TRUE(AwaitRequests(4));
  EXPECT_EQ(next->requests(), 4u);
  EXPECT_EQ(UntilNextTimer(), absl::Milliseconds(400));
  next->set_fail_all(false);
  ASSERT_TRUE(Close("c1").ok());
}

TEST_F(HealTest, LiveDataPathKeepsRetryingTheSamePath) {
  std::atomic<int> checks{0};
  Build({.data_path = CheckerFromFunction([&](const Context&, const Connection& conn) {
           EXPECT_EQ(conn.id(), "c1");
           checks++;
           return Liveness::kAlive;
         })});
  ASSERT_TRUE(Request("c1").ok());
  next->set_fail_all(true);
  next->PublishState("c1", ::connection::State::DOWN);
  absl::Duration expected = absl::Milliseconds(200);
  for (size_t n = 2; n <= 5; ++n) {
    ASSERT_TRUE(AwaitRequests(n));
    EXPECT_EQ(UntilNextTimer(), expected);
    if (n == 5) next->set_fail_all(false);  // the fifth attempt will succeed
    clock->Advance(expected);
    expected *= 2;
  }
  ASSERT_TRUE(Eventually([&] { return reports.healed_count() == 1; }));
  EXPECT_EQ(next->closes(), 0u);  // never torn down
  std::vector<NextHop::Seen> log = next->log();
  ASSERT_EQ(log.size(), 6u);
  for (size_t i = 1; i < log.size(); ++i) {  // every attempt after the caller's first Request
    const NextHop::Seen& seen = log[i];
    EXPECT_EQ(seen.conn.path().path_segments_size(), 4);
    EXPECT_EQ(seen.conn.network_service_endpoint_name(), "nse-1");
  }
  EXPECT_EQ(checks.load(), 4);
}

TEST_F(HealTest, EndpointNamedByTheCallerIsKept) {
  Build({});
  ASSERT_TRUE(Request("c1", "nse-1").ok());
  next->Kill("nse-1");
  next->PublishState("c1", ::connection::State::DOWN);
  absl::Duration delay = absl::Milliseconds(200);
  for (size_t n = 2; n <= 4; ++n) {
    ASSERT_TRUE(AwaitRequests(n));
    clock->Advance(delay);
    delay *= 2;
  }
  ASSERT_TRUE(AwaitRequests(5));
  for (const auto& seen : next->log()) {
    EXPECT_EQ(seen.conn.network_service_endpoint_name(), "nse-1");
  }
  EXPECT_EQ(reports.healed_count(), 0u);
  ASSERT_TRUE(Close("c1").ok());
}

TEST_F(HealTest, DeadlineClosesAndReports) {
  Build({.heal_timeout = absl::Seconds(1)});
  ASSERT_TRUE(Request("c1").ok());
  next->set_fail_all(true);
  next->PublishState("c1", ::connection::State::DOWN);
  // Same path, reselect forwarder and reselect endpoint back to back, then the backoff.
  ASSERT_TRUE(AwaitRequests(4, false));
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));  // deadline and retry
  clock->Advance(absl::Milliseconds(200));
  ASSERT_TRUE(AwaitRequests(5, false));
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));
  clock->Advance(absl::Milliseconds(400));
  ASSERT_TRUE(AwaitRequests(6, false));
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));
  clock->Advance(absl::Milliseconds(400));  // t = 1 s: the deadline
  ASSERT_TRUE(Eventually([&] { return reports.failed_count() == 1; }));
  ASSERT_TRUE(Eventually([&] { return begin->size() == 0; }));  // closed through the chain
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_EQ(reports.failed[0].code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_THAT(reports.failed[0].message(), HasSubstr("5 attempts"));
    EXPECT_THAT(reports.failed[0].message(), HasSubstr("nsmgr: internal trouble"));
  }
  EXPECT_EQ(heal->stats().failed.load(), 1u);
  EXPECT_GE(next->closes(), 2u);  // the reselect's Close and the final Close
  EXPECT_EQ(heal->connections(), 0u);
  EXPECT_EQ(heal->open_watches(), 0u);
  EXPECT_EQ(clock->PendingTimers(), 0u);
  const size_t requests = next->requests();
  clock->Advance(absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(next->requests(), requests);
}

TEST_F(HealTest, CloseStopsAllHealWork) {
  Build({.heal_timeout = absl::Minutes(1)});
  ASSERT_TRUE(Request("c1").ok());
  ASSERT_TRUE(Request("c2").ok());
  EXPECT_EQ(heal->open_watches(), 2u);
  EXPECT_EQ(heal->connections(), 2u);
  next->set_fail_all(true);
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(AwaitRequests(3, false));
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));  // c1: deadline and retry

  ASSERT_TRUE(Close("c1").ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(heal->open_watches(), 1u);  // c2's
  EXPECT_EQ(heal->connections(), 1u);
  ASSERT_TRUE(Close("c2").ok());
  EXPECT_EQ(heal->open_watches(), 0u);
  EXPECT_EQ(heal->connections(), 0u);
  EXPECT_EQ(next->store->subscribers(), 0u);

  const size_t requests = next->requests();
  clock->Advance(absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(next->requests(), requests);
  EXPECT_EQ(reports.failed_count(), 0u);
}

TEST_F(HealTest, ChainEndStopsHealButKeepsTheConnection) {
  auto [chain_ctx, end_chain] = Context().WithCancel();
  Build({.heal_timeout = absl::Minutes(1), .chain_ctx = chain_ctx});
  ASSERT_TRUE(Request("c1").ok());
  next->set_fail_all(true);
  next->PublishState("c1", ::connection::State::DOWN);
  ASSERT_TRUE(AwaitRequests(4, false));  // the three ladder steps at once
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(20)));
  end_chain();
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(heal->open_watches(), 0u);
  clock->Advance(absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(next->requests(), 4u);
  EXPECT_EQ(begin->size(), 1u);  // not closed: the chain's end is not a Close
}

TEST_F(HealTest, RefreshRequestedReRequestsOnce) {
  Build({});
  ASSERT_TRUE(Request("c1").ok());
  next->PublishState("c1", ::connection::State::REFRESH_REQUESTED);
  ASSERT_TRUE(AwaitRequests(2, false));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(next->requests(), 2u);
  EXPECT_EQ(heal->stats().started.load(), 0u);
  EXPECT_EQ(next->closes(), 0u);
}

TEST_F(HealTest, RefreshFailuresEscalateWithoutStoppingTheWatch) {
  auto refresh = refresh::NewClient({.jitter = 0,
                                     .retry = {.jitter = 0},
                                     .heal_after_failures = 3,
                                     .attempt_timeout = absl::InfiniteDuration()});
  Build({.heal_timeout = absl::InfiniteDuration()}, refresh);
  ASSERT_TRUE(Request("c1").ok());  // refresh at 0.2 x 1 h = 12 min
  ASSERT_EQ(clock->PendingTimers(), 1u);
  next->set_fail_all(true);
  clock->Advance(absl::Minutes(12));
  ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == 1; }));
  EXPECT_EQ(heal->open_watches(), 1u);  // monitoring goes on
  ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
  clock->Advance(absl::Milliseconds(200));
  ASSERT_TRUE(Eventually([&] { return refresh->stats().failed.load() == 2; }));
  EXPECT_EQ(heal->open_watches(), 1u);
  EXPECT_EQ(heal->stats().started.load(), 0u);
  ASSERT_TRUE(clock->AwaitPendingTimers(1, absl::Seconds(20)));
  clock->Advance(absl::Milliseconds(400));
  ASSERT_TRUE(Eventually([&] { return heal->stats().started.load() == 1; }));
  {
    absl::MutexLock lock(&reports.mu);
    EXPECT_THAT(reports.started, ElementsAre(HasSubstr("internal trouble")));
  }
  // Heal's first attempt (same path) and refresh's retries go on; once the next hop is back, the
  // next Request of either ends the episode and refresh returns to its normal period.
  ASSERT_TRUE(Eventually([&] { return heal->stats().attempts.load() >= 1; }));
  next->set_fail_all(false);
  ASSERT_TRUE(Eventually([&] { return clock->PendingTimers() >= 1; }));
  for (int i = 0; i < 20 && reports.healed_count() == 0; ++i) {
    clock->Advance(absl::Seconds(1));
    Eventually([&] { return reports.healed_count() == 1; }, absl::Milliseconds(200));
  }
  EXPECT_EQ(reports.healed_count(), 1u);
  // The observer hears of the heal before the watch of the healed connection is in place.
  EXPECT_TRUE(Eventually([&] { return heal->open_watches() == 1u; }));
  ASSERT_TRUE(Close("c1").ok());
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_EQ(heal->open_watches(), 0u);
}

TEST_F(HealTest, NeedsBeginAndMetadata) {
  auto alone = MakeClientChain({NewClient(), next});
  NetworkServiceRequest r;
  r.mutable_connection()->set_id("c1");
  EXPECT_EQ(alone->Request(Context(), r).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace nsm::healing::heal

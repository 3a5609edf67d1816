// begin: per-connection serialization and order, Close with the last returned connection, event
// factory replays, client-side merge and reselect, re-dispatch after a concurrent Close.
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/begin/client.h"
#include "networkservice/begin/server.h"

namespace nsm::begin {
namespace {

using ::testing::ElementsAre;

// The rest of the chain: records calls per connection id, detects overlapping calls of one id,
// can fail, and marks returned connections with a mechanism.
class Recorder : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    const std::string id = request.connection().id();
    Enter(id);
    {
      absl::MutexLock lock(&mu_);
      log_[id].push_back("R" + request.connection().network_service_endpoint_name());
      requests_.push_back(request);
      factory_ = FromContext(ctx);
      clock_ = &ctx.clock();
    }
    std::this_thread::yield();
    Leave(id);
    if (fail) return absl::UnavailableError("endpoint unavailable");
    auto conn = next.Request(ctx, request);
    if (conn.ok()) conn->mutable_mechanism()->set_type("KERNEL");
    return conn;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    Enter(conn.id());
    {
      absl::MutexLock lock(&mu_);
      log_[conn.id()].push_back("C");
      closed_.push_back(conn);
    }
    if (close_gate) close_gate->WaitForNotification();
    Leave(conn.id());
    return next.Close(ctx, conn);
  }

  std::vector<std::string> log(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return log_[id];
  }
  std::vector<Connection> closed() {
    absl::MutexLock lock(&mu_);
    return closed_;
  }
  std::vector<NetworkServiceRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::shared_ptr<EventFactory> factory() {
    absl::MutexLock lock(&mu_);
    return factory_;
  }
  Clock* clock() {
    absl::MutexLock lock(&mu_);
    return clock_;
  }
  bool overlapped() const { return overlap_; }

  std::atomic<bool> fail{false};
  absl::Notification* close_gate = nullptr;

 private:
  void Enter(const std::string& id) {
    absl::MutexLock lock(&mu_);
    if (++active_[id] > 1) overlap_ = true;
  }
  void Leave(const std::string& id) {
    absl::MutexLock lock(&mu_);
    --active_[id];
  }
  absl::Mutex mu_;
  std::map<std::string, int> active_;
  std::map<std::string, std::vector<std::string>> log_;
  std::vector<Connection> closed_;
  std::vector<NetworkServiceRequest> requests_;
  std::shared_ptr<EventFactory> factory_;
  Clock* clock_ = nullptr;
  std::atomic<bool> overlap_{false};
};

NetworkServiceRequest Req(const std::string& id) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  r.mutable_connection()->set_network_service("ns");
  return r;
}

struct ServerFixture {
  std::shared_ptr<Server> begin = NewServer();
  std::shared_ptr<Recorder> rec = std::make_shared<Recorder>();
  ServerChain chain{{begin, rec}};
};

TEST(BeginServerTest, EmptyIdIsRejected) {
  ServerFixture f;
  auto req = Req("");
  auto r = f.chain.Request(Context(), req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("connection.id"));
  EXPECT_EQ(f.begin->size(), 0u);
}

TEST(BeginServerTest, ThirtyTwoConcurrentRequestsOnEightIdsNeverOverlapPerId) {
  ServerFixture f;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&, t] {
      auto req = Req("conn-" + std::to_string(t % 8));
      if (f.chain.Request(Context(), req).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 32);
  EXPECT_FALSE(f.rec->overlapped());
  EXPECT_EQ(f.begin->size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(f.rec->log("conn-" + std::to_string(i)).size(), 4u);
}

TEST(BeginServerTest, ThirtyTwoEventsOnEightIdsRunInArrivalOrderPerId) {
  ServerFixture f;
  std::vector<std::shared_ptr<EventFactory>> factories;
  for (int i = 0; i < 8; ++i) {
    auto req = Req("conn-" + std::to_string(i));
    ASSERT_TRUE(f.chain.Request(Context(), req).ok());
    factories.push_back(f.rec->factory());
  }
  // 8 ids x (Request, Request, Request, Close), submitted round-robin across ids.
  std::vector<std::shared_ptr<Completion>> done;
  for (int round = 0; round < 4; ++round) {
    for (auto& factory : factories) {
      done.push_back(round < 3 ? factory->Request() : factory->Close());
    }
  }
  for (auto& d : done) ASSERT_TRUE(d->WaitFor(absl::Seconds(30)));
  EXPECT_FALSE(f.rec->overlapped());
  for (int i = 0; i < 8; ++i) {
    EXPECT_THAT(f.rec->log("conn-" + std::to_string(i)), ElementsAre("R", "R", "R", "R", "C"));
  }
  EXPECT_EQ(f.begin->size(), 0u);
}

TEST(BeginServerTest, CloseUsesTheLastReturnedConnection) {
  ServerFixture f;
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  Connection stale;
  stale.set_id("c1");
  stale.set_network_service("something-else");
  ASSERT_TRUE(f.chain.Close(Context(), stale).ok());
  ASSERT_EQ(f.rec->closed().size(), 1u);
  EXPECT_EQ(f.rec->closed()[0].network_service(), "ns");
  EXPECT_EQ(f.rec->closed()[0].mechanism().type(), "KERNEL");
  EXPECT_EQ(f.begin->size(), 0u);
}

// A server parses its request onto an arena; begin stores it with the returned connection and
// leaves the caller's connection in place, the same object (not copied out and back).
TEST(BeginServerTest, ARequestOnAnArenaIsStoredWithTheResultAndKeepsItsConnection) {
  ServerFixture f;
  google::protobuf::Arena arena;
  auto& req = *google::protobuf::Arena::CreateMessage<NetworkServiceRequest>(&arena);
  req = Req("c1");
  req.mutable_connection()->mutable_path()->add_path_segments()->set_name("nsc");
  const auto* path = &req.connection().path();
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  EXPECT_EQ(&req.connection().path(), path);
  EXPECT_FALSE(req.connection().has_mechanism()) << "the caller's, not the result";
  EXPECT_EQ(req.connection().network_service(), "ns");

  ASSERT_TRUE(f.rec->factory()->Request()->Wait().ok());
  ASSERT_EQ(f.rec->requests().size(), 2u);
  EXPECT_EQ(f.rec->requests()[1].connection().mechanism().type(), "KERNEL");  // stored: the result
  auto& close = *google::protobuf::Arena::CreateMessage<Connection>(&arena);
  close.set_id("c1");
  ASSERT_TRUE(f.chain.Close(Context(), close).ok());
  ASSERT_EQ(f.rec->closed().size(), 1u);
  EXPECT_EQ(f.rec->closed()[0].mechanism().type(), "KERNEL");
  EXPECT_EQ(f.begin->size(), 0u);
}

TEST(BeginServerTest, CloseOfUnknownConnectionDoesNothing) {
  ServerFixture f;
  Connection conn;
  conn.set_id("unknown");
  EXPECT_TRUE(f.chain.Close(Context(), conn).ok());
  EXPECT_TRUE(f.rec->closed().empty());
}

// A passthrough hop after a restart: the caller's connection goes on (with an event factory, so a
// nested begin passes it through), nothing is kept; a known connection closes as usual.
TEST(BeginServerTest, CloseOfUnknownConnectionGoesOnWhenAsked) {
  auto begin = NewServer(DefaultThreadPool(), {.close_unknown = true});
  auto rec = std::make_shared<Recorder>();
  ServerChain chain({begin, rec});
  Connection conn;
  conn.set_id("unknown");
  conn.set_network_service("from-the-caller");
  EXPECT_TRUE(chain.Close(Context(), conn).ok());
  ASSERT_EQ(rec->closed().size(), 1u);
  EXPECT_EQ(rec->closed()[0].network_service(), "from-the-caller");
  EXPECT_EQ(begin->size(), 0u);

  auto req = Req("c1");
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  Connection stale;
  stale.set_id("c1");
  stale.set_network_service("something-else");
  ASSERT_TRUE(chain.Close(Context(), stale).ok());
  ASSERT_EQ(rec->closed().size(), 2u);
  EXPECT_EQ(rec->closed()[1].network_service(), "ns") << "the last returned connection";
  EXPECT_EQ(begin->size(), 0u);
}

TEST(BeginServerTest, FailedFirstRequestIsForgotten) {
  ServerFixture f;
  f.rec->fail = true;
  auto req = Req("c1");
  EXPECT_FALSE(f.chain.Request(Context(), req).ok());
  EXPECT_EQ(f.begin->size(), 0u);
  Connection conn = req.connection();
  EXPECT_TRUE(f.chain.Close(Context(), conn).ok());
  EXPECT_TRUE(f.rec->closed().empty());
}

TEST(BeginServerTest, FailedRefreshKeepsTheConnection) {
  ServerFixture f;
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  f.rec->fail = true;
  EXPECT_FALSE(f.chain.Request(Context(), req).ok());
  EXPECT_EQ(f.begin->size(), 1u);
  Connection conn = req.connection();
  EXPECT_TRUE(f.chain.Close(Context(), conn).ok());
  EXPECT_EQ(f.rec->closed().size(), 1u);
}

TEST(BeginServerTest, EventRequestReplaysTheLastRequestWithTheChainClock) {
  auto clock = FakeClock::Create();
  ServerFixture f;
  auto [ctx, cancel] = Context::Background(clock).WithTimeout(absl::Seconds(30));
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(ctx, req).ok());
  auto factory = f.rec->factory();
  ASSERT_NE(factory, nullptr);
  cancel();  // the original request context ends; events do not depend on it
  ASSERT_TRUE(factory->Request()->Wait().ok());
  auto requests = f.rec->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].connection().id(), "c1");
  EXPECT_EQ(requests[1].connection().mechanism().type(), "KERNEL");  // the returned connection
  EXPECT_EQ(f.rec->clock(), clock.get());
  EXPECT_EQ(f.begin->size(), 1u);
}

// Records the time left of each Request; the first one takes 25 s of (fake) time.
class SlowFirstRequest : public NetworkServiceServer {
 public:
  explicit SlowFirstRequest(std::shared_ptr<FakeClock> clock) : clock_(std::move(clock)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    remaining.push_back(ctx.remaining().value_or(absl::InfiniteDuration()));
    if (remaining.size() == 1) clock_->Advance(absl::Seconds(25));
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
  std::vector<absl::Duration> remaining;

 private:
  std::shared_ptr<FakeClock> clock_;
};

TEST(BeginServerTest, EventsGetTheTimeTheFirstRequestStartedWith) {
  auto clock = FakeClock::Create();
  auto begin = NewServer();
  auto rec = std::make_shared<Recorder>();
  auto slow = std::make_shared<SlowFirstRequest>(clock);
  ServerChain chain{{begin, rec, slow}};
  auto [ctx, cancel] = Context::Background(clock).WithTimeout(absl::Seconds(30));
  auto req = Req("c1");
  ASSERT_TRUE(chain.Request(ctx, req).ok());
  ASSERT_TRUE(rec->factory()->Request()->Wait().ok());
  ASSERT_EQ(slow->remaining.size(), 2u);
  EXPECT_EQ(slow->remaining[0], absl::Seconds(30));
  EXPECT_EQ(slow->remaining[1], absl::Seconds(30)) << "not the 5 s left when it returned";
}

TEST(BeginServerTest, EventCloseClosesAndLaterEventsDoNothing) {
  ServerFixture f;
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  auto factory = f.rec->factory();
  ASSERT_TRUE(factory->Close()->Wait().ok());
  EXPECT_EQ(f.rec->closed().size(), 1u);
  EXPECT_EQ(f.begin->size(), 0u);
  ASSERT_TRUE(factory->Request()->Wait().ok());
  ASSERT_TRUE(factory->Close()->Wait().ok());
  EXPECT_THAT(f.rec->log("c1"), ElementsAre("R", "C"));
}

TEST(BeginServerTest, EventWithCancelledContextIsSkipped) {
  ServerFixture f;
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  auto [owner, cancel] = Context().WithCancel();
  cancel();
  ASSERT_TRUE(f.rec->factory()->Close(EventOptions{.cancel_ctx = owner})->Wait().ok());
  EXPECT_TRUE(f.rec->closed().empty());
  EXPECT_EQ(f.begin->size(), 1u);
}

TEST(BeginServerTest, EventDecorateAddsValuesToTheEventContext) {
  static const TypedKey<std::string> kTag{"test.tag"};
  struct TagReader : NetworkServiceServer {
    absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                       const ServerNext& next) override {
      auto tag = ctx.Value(kTag);
      tags.push_back(tag ? *tag : "");
      return next.Request(ctx, request);
    }
    absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
      auto tag = ctx.Value(kTag);
      tags.push_back(tag ? "close:" + *tag : "close:");
      return next.Close(ctx, conn);
    }
    std::vector<std::string> tags;
  };
  auto reader = std::make_shared<TagReader>();
  auto rec = std::make_shared<Recorder>();
  ServerChain chain{{NewServer(), reader, rec}};
  auto req = Req("c1");
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  auto tagged = [](const std::string& v) {
    EventOptions o;
    o.decorate = [v](const Context& c) {
      return c.WithValue(kTag, std::make_shared<std::string>(v));
    };
    return o;
  };
  ASSERT_TRUE(rec->factory()->Request(tagged("refresh"))->Wait().ok());
  ASSERT_TRUE(rec->factory()->Request()->Wait().ok());
  ASSERT_TRUE(rec->factory()->Close(tagged("expired"))->Wait().ok());
  EXPECT_THAT(reader->tags, ElementsAre("", "refresh", "", "close:expired"));
}

TEST(BeginServerTest, RequestWaitingBehindACloseStartsAFreshConnection) {
  ServerFixture f;
  auto req = Req("c1");
  ASSERT_TRUE(f.chain.Request(Context(), req).ok());
  absl::Notification gate;
  f.rec->close_gate = &gate;
  std::thread closer([&] {
    Connection conn = req.connection();
    EXPECT_TRUE(f.chain.Close(Context(), conn).ok());
  });
  // Give the closer time to hold the connection's turn; the outcome is the same either way.
  while (f.rec->closed().empty()) std::this_thread::yield();
  std::atomic<bool> requested{false};
  std::thread requester([&] {
    auto again = Req("c1");
    requested = f.chain.Request(Context(), again).ok();
  });
  absl::SleepFor(absl::Milliseconds(20));
  gate.Notify();
  closer.join();
  requester.join();
  EXPECT_TRUE(requested);
  EXPECT_THAT(f.rec->log("c1"), ElementsAre("R", "C", "R"));
  EXPECT_EQ(f.begin->size(), 1u);
}

TEST(BeginServerTest, NestedBeginPassesThrough) {
  auto outer = NewServer();
  auto inner = NewClient();
  auto rec = std::make_shared<Recorder>();
  ServerChain chain({outer, ClientToServer(inner), rec});
  auto req = Req("c1");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(outer->size(), 1u);
  EXPECT_EQ(inner->size(), 0u);
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(outer->size(), 0u);
}

// The stored next of a live connection must not keep the chain (and so begin) alive; events of a
// connection whose chain is gone answer Unavailable instead of touching freed elements.
TEST(BeginServerTest, ChainWithLiveConnectionsIsFreedAndLaterEventsFail) {
  std::weak_ptr<Server> weak_begin;
  std::shared_ptr<EventFactory> factory;
  {
    auto begin = NewServer();
    weak_begin = begin;
    auto rec = std::make_shared<Recorder>();
    auto chain = MakeServerChain({begin, rec});
    auto req = Req("c1");
    ASSERT_TRUE(chain->Request(Context(), req).ok());
    factory = rec->factory();
  }
  EXPECT_TRUE(weak_begin.expired());
  EXPECT_EQ(factory->Request()->Wait().code(), absl::StatusCode::kUnavailable);
}

TEST(BeginClientTest, RefreshStartsFromTheStoredConnection) {
  auto begin = NewClient();
  auto rec = std::make_shared<Recorder>();
  ClientChain chain({begin, ServerToClient(rec)});
  auto req = Req("c1");
  (*req.mutable_connection()->mutable_context()->mutable_extra_context())["keep"] = "1";
  (*req.mutable_connection()->mutable_context()->mutable_extra_context())["change"] = "old";
  (*req.mutable_connection()->mutable_context()->mutable_extra_context())["drop"] = "x";
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok());

  // The caller re-sends an edited copy: a new endpoint name and extra_context edits are taken;
  // other fields come from the stored connection.
  auto again = Req("c1");
  again.mutable_connection()->set_network_service("ignored");
  again.mutable_connection()->set_network_service_endpoint_name("nse-2");
  auto* extra = again.mutable_connection()->mutable_context()->mutable_extra_context();
  (*extra)["keep"] = "1";
  (*extra)["change"] = "new";
  ASSERT_TRUE(chain.Request(Context(), again).ok());
  const Connection seen = rec->requests().back().connection();
  EXPECT_EQ(seen.network_service(), "ns");
  EXPECT_EQ(seen.mechanism().type(), "KERNEL");
  EXPECT_EQ(seen.network_service_endpoint_name(), "nse-2");
  EXPECT_EQ(seen.context().extra_context().at("keep"), "1");
  EXPECT_EQ(seen.context().extra_context().at("change"), "new");
  EXPECT_EQ(seen.context().extra_context().count("drop"), 0u);
}

TEST(BeginClientTest, ARefreshWithoutMechanismPreferencesKeepsTheEarlierOnes) {
  auto begin = NewClient();
  auto rec = std::make_shared<Recorder>();
  ClientChain chain({begin, ServerToClient(rec)});
  auto req = Req("c1");
  req.add_mechanism_preferences()->set_type("KERNEL");
  req.add_mechanism_preferences()->set_type("MEMIF");
  ASSERT_TRUE(chain.Request(Context(), req).ok());

  NetworkServiceRequest refresh;
  refresh.mutable_connection()->set_id("c1");
  ASSERT_TRUE(chain.Request(Context(), refresh).ok());
  ASSERT_EQ(rec->requests().back().mechanism_preferences_size(), 2);
  EXPECT_EQ(rec->requests().back().mechanism_preferences(1).type(), "MEMIF");

  // Preferences given with a refresh replace the earlier ones.
  NetworkServiceRequest other;
  other.mutable_connection()->set_id("c1");
  other.add_mechanism_preferences()->set_type("VFIO");
  ASSERT_TRUE(chain.Request(Context(), other).ok());
  ASSERT_EQ(rec->requests().back().mechanism_preferences_size(), 1);
  EXPECT_EQ(rec->requests().back().mechanism_preferences(0).type(), "VFIO");
}

// After a heal changed the connection behind the caller's back, the caller's copy is stale: only
// what the caller edited relative to what it got back counts (sandbox.md §7 "heal endpoint": a
// refresh with the old connection refreshes the healed one).
TEST(BeginClientTest, RefreshWithAStaleConnectionAfterAnEventKeepsTheEventsResult) {
  auto begin = NewClient();
  auto rec = std::make_shared<Recorder>();
  ClientChain chain({begin, ServerToClient(rec)});
  auto req = Req("c1");
  req.mutable_connection()->set_network_service_endpoint_name("nse-1");
  (*req.mutable_connection()->mutable_context()->mutable_extra_context())["k"] = "v";
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  // A heal reselects: the stored connection has no endpoint name now.
  ASSERT_TRUE(rec->factory()->Request(EventOptions{.reselect = true})->Wait().ok());

  NetworkServiceRequest stale;
  *stale.mutable_connection() = *conn;
  ASSERT_TRUE(chain.Request(Context(), stale).ok());
  // An explicit edit still wins.
  NetworkServiceRequest edited;
  *edited.mutable_connection() = *conn;
  edited.mutable_connection()->set_network_service_endpoint_name("nse-3");
  (*edited.mutable_connection()->mutable_context()->mutable_extra_context())["k"] = "w";
  ASSERT_TRUE(chain.Request(Context(), edited).ok());
  EXPECT_THAT(rec->log("c1"), ElementsAre("Rnse-1", "C", "R", "R", "Rnse-3"));
  EXPECT_EQ(rec->requests().back().connection().context().extra_context().at("k"), "w");
}

TEST(BeginClientTest, MergeTakesTheCallersEditsRelativeToWhatItGotBack) {
  Connection returned, stored, requested;
  returned.set_network_service_endpoint_name("nse-1");
  (*returned.mutable_context()->mutable_extra_context())["a"] = "1";
  (*returned.mutable_context()->mutable_extra_context())["b"] = "2";
  stored = returned;
  stored.set_network_service_endpoint_name("nse-2");  // healed
  (*stored.mutable_context()->mutable_extra_context())["c"] = "3";
  requested = returned;
  requested.mutable_context()->mutable_extra_context()->erase("b");
  Connection merged = MergeConnection(returned, requested, stored);
  EXPECT_EQ(merged.network_service_endpoint_name(), "nse-2");
  EXPECT_EQ(merged.context().extra_context().at("a"), "1");
  EXPECT_EQ(merged.context().extra_context().count("b"), 0u);
  EXPECT_EQ(merged.context().extra_context().at("c"), "3");
}

TEST(BeginClientTest, ReselectClosesThenRequestsWithoutMechanismAndEndpoint) {
  auto begin = NewClient();
  auto rec = std::make_shared<Recorder>();
  ClientChain chain({begin, ServerToClient(rec)});
  auto req = Req("c1");
  req.mutable_connection()->set_network_service_endpoint_name("nse-1");
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  ASSERT_TRUE(rec->factory()->Request(EventOptions{.reselect = true})->Wait().ok());
  EXPECT_THAT(rec->log("c1"), ElementsAre("Rnse-1", "C", "R"));
  const Connection seen = rec->requests().back().connection();
  EXPECT_FALSE(seen.has_mechanism());
  EXPECT_EQ(seen.network_service_endpoint_name(), "");
  EXPECT_EQ(begin->size(), 1u);
}

TEST(BeginClientTest, CloseOfUnknownOrFailedConnectionIsANoOp) {
  auto begin = NewClient();
  auto rec = std::make_shared<Recorder>();
  rec->fail = true;
  ClientChain chain({begin, ServerToClient(rec)});
  auto req = Req("c1");
  EXPECT_FALSE(chain.Request(Context(), req).ok());
  Connection conn = req.connection();
  EXPECT_TRUE(chain.Close(Context(), conn).ok());
  EXPECT_TRUE(rec->closed().empty());
  EXPECT_EQ(begin->size(), 0u);
}

}  // namespace
}  // namespace nsm::begin

// The gRPC transport over a real unix socket: results, errors with codes, deadlines, peer and
// request metadata, and cancellation reaching the chain.
#include "core/grpc_transport.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/gate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nsmcpp_status.pb.h"

namespace nsm {
namespace {

// Echoes what it saw of the call into the returned connection's labels.
class Inspect : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    if (request.connection().network_service() == "fail") {
      return absl::NotFoundError("network service fail is not found");
    }
    if (request.connection().network_service() == "block") {
      blocking = true;
      absl::Notification cancelled;
      auto reg = ctx.cancel_state()->OnCancel([&] { cancelled.Notify(); });
      saw_cancel = cancelled.WaitForNotificationWithTimeout(absl::Seconds(30));
      return ctx.Err();
    }
    auto conn = next.Request(ctx, request);
    auto& labels = *conn->mutable_labels();
    labels["peer"] = ctx.peer().address;
    auto it = ctx.incoming_metadata().find("x-test");
    labels["x-test"] = it == ctx.incoming_metadata().end() ? "" : it->second;
    labels["has-deadline"] = ctx.deadline() ? "yes" : "no";
    labels["on-arena"] = request.GetArena() != nullptr ? "yes" : "no";
    return conn;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    closed_id = conn.id();
    closed_on_arena = conn.GetArena() != nullptr;
    return next.Close(ctx, conn);
  }
  std::atomic<bool> blocking{false};
  std::atomic<bool> saw_cancel{false};
  std::string closed_id;
  bool closed_on_arena = false;
};

// `service` served on a unix socket in a temp dir, and a client of it; stopped and removed when
// it goes.
class Served {
 public:
  explicit Served(grpc::Service* service) {
    char tmpl[] = "/tmp/nsm-grpc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string target = "unix:" + dir_ + "/ns.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort(target, grpc::InsecureServerCredentials());
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    client_ = std::make_shared<NetworkServiceGrpcClient>(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }
  ~Served() {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  bool ok() const { return server_ != nullptr; }
  const std::shared_ptr<NetworkServiceGrpcClient>& client() const { return client_; }

 private:
  std::string dir_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<NetworkServiceGrpcClient> client_;
};

// Serves `service_`, which the fixture's constructor sets, for each test; `client_` calls it.
class ServedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    served_ = std::make_unique<Served>(service_.get());
    ASSERT_TRUE(served_->ok());
    client_ = served_->client();
  }

  std::unique_ptr<NetworkServiceGrpcServer> service_;
  std::unique_ptr<Served> served_;
  std::shared_ptr<NetworkServiceGrpcClient> client_;
};

class GrpcTransportTest : public ServedTest {
 protected:
  GrpcTransportTest() { service_ = std::make_unique<NetworkServiceGrpcServer>(inspect_); }

  NetworkServiceRequest Req(const std::string& service) {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id("c1");
    r.mutable_connection()->set_network_service(service);
    return r;
  }

  std::shared_ptr<Inspect> inspect_ = std::make_shared<Inspect>();
};

TEST_F(GrpcTransportTest, RequestAndCloseRoundTrip) {
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("svc");
  CallOptions opts;
  opts.apply.push_back([](grpc::ClientContext& cc) { cc.AddMetadata("x-test", "hello"); });
  ClientChain chain({client_});
  auto conn = chain.Request(ctx, req, opts);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->id(), "c1");
  EXPECT_EQ(conn->network_service(), "svc");
  EXPECT_EQ(conn->labels().at("x-test"), "hello");
  EXPECT_EQ(conn->labels().at("has-deadline"), "yes");
  EXPECT_NE(conn->labels().at("peer"), "");
  // The server parses each call's request onto an arena (ArenaRequestAllocator).
  EXPECT_EQ(conn->labels().at("on-arena"), "yes");
  ASSERT_TRUE(chain.Close(ctx, *conn).ok());
  EXPECT_EQ(inspect_->closed_id, "c1");
  EXPECT_TRUE(inspect_->closed_on_arena);
}

TEST_F(GrpcTransportTest, ErrorsKeepTheirCodeAndMessage) {
  auto req = Req("fail");
  ClientChain chain({client_});
  auto conn = chain.Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(), "network service fail is not found");
}

TEST_F(GrpcTransportTest, ClientDeadlineCancelsTheServerChain) {
  auto [ctx, cancel] = Context().WithTimeout(absl::Milliseconds(200));
  auto req = Req("block");
  ClientChain chain({client_});
  auto conn = chain.Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kDeadlineExceeded);
  // The server chain saw its context end instead of running on.
  for (int i = 0; i < 3000 && !inspect_->saw_cancel; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(inspect_->saw_cancel);
}

TEST_F(GrpcTransportTest, CancellingTheClientContextCancelsTheCall) {
  auto [ctx, cancel] = Context().WithCancel();  // no deadline: only the cancel can end the call
  auto req = Req("block");
  ClientChain chain({client_});
  absl::StatusOr<Connection> conn;
  std::thread caller([&, ctx = ctx] { conn = chain.Request(ctx, req); });
  // Cancelled while the server chain runs: the call ends with Cancelled, and so does the
  // server's context.
  EXPECT_TRUE(Eventually([&] { return inspect_->blocking.load(); }));
  cancel();
  caller.join();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kCancelled) << conn.status();
  EXPECT_TRUE(Eventually([&] { return inspect_->saw_cancel.load(); }));
}

// Records the calls it runs; Requests for "hold" wait at the gate first.
class Record : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    Add("request " + request.connection().id());
    if (request.connection().network_service() == "hold") {
      if (absl::Status s = gate.Pass(ctx); !s.ok()) return s;
    }
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    Add("close " + conn.id());
    return next.Close(ctx, conn);
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  Gate gate;

 private:
  void Add(std::string call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

// One worker, room for one waiting new Request, and priorities from two waiting calls on
// (DESIGN.md §7: shed new work first).
class OverloadTest : public ServedTest {
 protected:
  OverloadTest() {
    service_ = std::make_unique<NetworkServiceGrpcServer>(
        record_, std::make_shared<ThreadPool>(1), clock_,
        AdmissionOptions{.max_queued = 1, .prioritize_from = 2, .name = "nsmgr-1"});
  }
  void TearDown() override {
    record_->gate.Open();
    for (auto& t : threads_) t.join();
    served_.reset();
  }

  absl::Status Request(const std::string& id, const std::string& service = "svc",
                       absl::Duration timeout = absl::Seconds(30)) {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    r.mutable_connection()->set_network_service(service);
    auto [ctx, cancel] = Context().WithTimeout(timeout);
    return client_->Request(ctx, r, ClientNext(), {}).status();
  }
  void InBackground(std::function<void()> call) { threads_.emplace_back(std::move(call)); }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  std::shared_ptr<Record> record_ = std::make_shared<Record>();
  std::vector<std::thread> threads_;
};

TEST_F(OverloadTest, ANewRequestIsRefusedAtOnceAndACloseOvertakesWaitingRequests) {
  absl::Status held, waiting, closed;
  InBackground([&] { held = Request("held", "hold"); });
  ASSERT_TRUE(Eventually([&] { return record_->gate.waiting() == 1; }));
  InBackground([&] { waiting = Request("waiting"); });
  ASSERT_TRUE(Eventually([&] { return service_->admission().queued() == 1; }));

  const absl::Status refused = Request("refused");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()),
              ::testing::StartsWith("nsmgr-1: overloaded: 1 calls wait for a worker; new "
                                    "Requests are refused"));
  InBackground([&] {
    Connection conn;
    conn.set_id("closing");
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(30));
    closed = client_->Close(ctx, conn, ClientNext(), {});
  });
  ASSERT_TRUE(Eventually([&] { return service_->admission().queued() == 2; }));

  record_->gate.Open();
  for (auto& t : threads_) t.join();
  threads_.clear();
  EXPECT_TRUE(held.ok()) << held;
  EXPECT_TRUE(waiting.ok()) << waiting;
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_THAT(record_->calls(),
              ::testing::ElementsAre("request held", "close closing", "request waiting"));
  EXPECT_EQ(service_->admission().stats().refused_requests.load(), 1u);
}

TEST_F(OverloadTest, ARequestWhoseDeadlinePassedWhileWaitingIsAnsweredWithoutRunning) {
  absl::Status expired;
  InBackground([&] { (void)Request("held", "hold", absl::Seconds(60)); });
  ASSERT_TRUE(Eventually([&] { return record_->gate.waiting() == 1; }));
  InBackground([&] { expired = Request("late"); });
  ASSERT_TRUE(Eventually([&] { return service_->admission().queued() == 1; }));
  clock_->Advance(absl::Seconds(31));  // the server's context of "late" ends, not of "held"
  record_->gate.Open();
  for (auto& t : threads_) t.join();
  threads_.clear();
  EXPECT_EQ(expired.code(), absl::StatusCode::kDeadlineExceeded) << expired;
  EXPECT_THAT(record_->calls(), ::testing::ElementsAre("request held"));
  EXPECT_EQ(service_->admission().stats().expired.load(), 1u);
}

TEST(GrpcStatusTest, CodesMapBothWays) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code), code == 0 ? "" : "m");
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(s)), s);
  }
}

// A named "unreachable" mark crosses as a google.rpc.Status-shaped detail and comes back as the
// name of a hop further down, never as a mark of the receiver's own next hop.
TEST(GrpcStatusTest, AnUnreachableHopIsNamedInTheDetails) {
  absl::Status s = MarkNextHopUnreachable(absl::UnavailableError("failed to dial nse"), "nse-1");
  grpc::Status wire = ToGrpcStatus(s);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(wire.error_message(), "failed to dial nse");
  ::nsmcpp::RpcStatus details;
  ASSERT_TRUE(details.ParseFromString(wire.error_details()));
  EXPECT_EQ(details.code(), 14);
  EXPECT_EQ(details.message(), "failed to dial nse");
  ASSERT_EQ(details.details_size(), 1);
  EXPECT_EQ(details.details(0).type_url(), "type.googleapis.com/nsmcpp.HopUnreachable");

  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(back.message(), "failed to dial nse");
  EXPECT_EQ(UnreachableHop(back), "nse-1");
  EXPECT_FALSE(IsNextHopUnreachable(back));
  // Passed on by the receiver (an nsmgr answering its client), the name goes on.
  EXPECT_EQ(UnreachableHop(FromGrpcStatus(ToGrpcStatus(Annotated(back, "forwarder")))), "nse-1");
}

TEST(GrpcStatusTest, NoDetailsWithoutANameOrForALongMessage) {
  EXPECT_EQ(ToGrpcStatus(MarkNextHopUnreachable(absl::UnavailableError("x"))).error_details(), "");
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_details(), "");
  const std::string long_message(4096, 'm');
  EXPECT_EQ(ToGrpcStatus(MarkNextHopUnreachable(absl::UnavailableError(long_message), "nse-1"))
                .error_details(),
            "");
}

// Details a peer sent that are not ours, or not parseable, are ignored.
TEST(GrpcStatusTest, ForeignOrBrokenDetailsAreIgnored) {
  ::nsmcpp::RpcStatus other;
  other.set_code(14);
  other.set_message("m");
  ::nsmcpp::RpcStatus inner;  // any message of another type
  other.add_details()->PackFrom(inner);
  absl::Status s =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "m", other.SerializeAsString()));
  EXPECT_EQ(s, absl::UnavailableError("m"));
  EXPECT_EQ(UnreachableHop(s), "");
  s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "m", "\xff\xff not a proto"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "m");
  EXPECT_EQ(UnreachableHop(s), "");
}

}  // namespace
}  // namespace nsm

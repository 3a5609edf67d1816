// connect and dial over real gRPC on unix sockets: one shared channel per target, dial timeout
// apart from the request deadline with precise errors, Close that always continues and cleans up, a
// next hop that changes, connect server rollback and error combination, bad input.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/clienturl/server.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/connect/server.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::connect {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The far end: records what arrives and answers with the connection.
class Recorder : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    absl::MutexLock lock(&mu_);
    requests.push_back(request.connection().id());
    if (!request_error.ok()) return request_error;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    absl::MutexLock lock(&mu_);
    closes.push_back(conn.id());
    if (!close_error.ok()) return close_error;
    return next.Close(ctx, conn);
  }
  std::vector<std::string> Requests() {
    absl::MutexLock lock(&mu_);
    return requests;
  }
  std::vector<std::string> Closes() {
    absl::MutexLock lock(&mu_);
    return closes;
  }
  absl::Mutex mu_;
  std::vector<std::string> requests;
  std::vector<std::string> closes;
  absl::Status close_error;
  absl::Status request_error;
};

// A NetworkService gRPC server on a unix socket.
class Remote {
 public:
  explicit Remote(const std::string& path) : url_(*api::ParseNsmUrl("unix://" + path)) {
    service_ = std::make_unique<NetworkServiceGrpcServer>(recorder);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
  }
  ~Remote() { Stop(); }
  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }
  const api::NsmUrl& url() const { return url_; }
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();

 private:
  api::NsmUrl url_;
  std::unique_ptr<NetworkServiceGrpcServer> service_;
  std::unique_ptr<grpc::Server> server_;
};

// Records the dialled connection that reaches it.
class SeeConn : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    seen.push_back(ClientConnFromContext(ctx).get());
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    seen.push_back(ClientConnFromContext(ctx).get());
    return next.Close(ctx, conn, opts);
  }
  std::vector<const ClientConn*> seen;
};

// Fails every Request and Close on the server side after connect.
class FailAfter : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest&,
                                     const ServerNext&) override {
    return absl::InternalError("sendfd failed");
  }
  absl::Status Close(const Context&, Connection&, const ServerNext&) override {
    return absl::InternalError("sendfd close failed");
  }
};

class ConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-connect-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // server [metadata, (clienturl url), connect(client [metadata, dial, see, connect])] + tail
  std::shared_ptr<ServerChain> Chain(std::optional<api::NsmUrl> url, absl::Duration dial_timeout,
                                     std::shared_ptr<NetworkServiceServer> after = nullptr) {
    ClientChain::Elements client = {client_md_, NewDial(pool_, {.dial_timeout = dial_timeout}),
                                    see_, NewClient()};
    ServerChain::Elements server = {server_md_};
    if (url) server.push_back(std::make_shared<clienturl::Server>(*url));
    server.push_back(NewServer(MakeClientChain(client)));
    if (after) server.push_back(after);
    return MakeServerChain(server);
  }
  static NetworkServiceRequest Req(const std::string& id) {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id(id);
    r.mutable_connection()->set_network_service("svc");
    return r;
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // A Request through a remote hop (served over gRPC on `socket`) that answers `error`: the
  // status the caller gets.
  absl::Status RequestThroughFailingRemote(const std::string& socket, absl::Status error) {
    Remote remote(Path(socket));
    remote.recorder->request_error = std::move(error);
    auto chain = Chain(remote.url(), absl::Seconds(5));
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    auto req = Req("c1");
    auto conn = chain->Request(ctx, req);
    EXPECT_FALSE(conn.ok());
    return conn.status();
  }

  std::string dir_;
  std::shared_ptr<ChannelPool> pool_ = ChannelPool::Create(grpc::InsecureChannelCredentials());
  std::shared_ptr<metadata::Server> server_md_ = metadata::NewServer();
  std::shared_ptr<metadata::Client> client_md_ = metadata::NewClient();
  std::shared_ptr<SeeConn> see_ = std::make_shared<SeeConn>();
};

TEST_F(ConnectTest, TwoConnectionsToTheSameUrlShareOneChannel) {
  Remote remote(Path("nse.sock"));
  auto chain = Chain(remote.url(), absl::Seconds(5));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto r1 = Req("c1");
  auto r2 = Req("c2");
  auto c1 = chain->Request(ctx, r1);
  auto c2 = chain->Request(ctx, r2);
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_TRUE(c2.ok()) << c2.status();
  EXPECT_EQ(remote.recorder->Requests(), (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(pool_->size(), 1u);
  ASSERT_EQ(see_->seen.size(), 2u);
  EXPECT_EQ(see_->seen[0], see_->seen[1]);

  // A refresh reuses the channel kept in the connection's metadata.
  auto again = Req("c1");
  ASSERT_TRUE(chain->Request(ctx, again).ok());
  EXPECT_EQ(see_->seen[2], see_->seen[0]);

  ASSERT_TRUE(chain->Close(ctx, *c1).ok());
  EXPECT_EQ(pool_->in_use(), 1u);  // c2 still uses it
  ASSERT_TRUE(chain->Close(ctx, *c2).ok());
  EXPECT_EQ(pool_->in_use(), 0u);  // released
  EXPECT_EQ(pool_->size(), 1u);    // and lingering for the next connection

  // The next connection to the hop finds the channel open.
  auto r3 = Req("c3");
  auto c3 = chain->Request(ctx, r3);
  ASSERT_TRUE(c3.ok()) << c3.status();
  EXPECT_EQ(see_->seen.back(), see_->seen[0]);
  EXPECT_EQ(pool_->size(), 1u);
  ASSERT_TRUE(chain->Close(ctx, *c3).ok());
  EXPECT_EQ(remote.recorder->Closes(), (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ(server_md_->size(), 0u);
}

TEST_F(ConnectTest, RefusedConnectionFailsWithoutWaitingTheDialTimeout) {
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::Seconds(30));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  for (int i = 0; i < 2; ++i) {  // a fresh channel, then one in gRPC's reconnect backoff
    auto req = Req("c1");
    const absl::Time start = absl::Now();
    auto conn = chain->Request(ctx, req);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(IsNextHopUnreachable(conn.status())) << "selection may demote this hop";
    EXPECT_THAT(std::string(conn.status().message()),
                StartsWith("failed to dial " + url.ToString() +
                           " (target unix:" + Path("missing.sock") + "): "));
    EXPECT_THAT(std::string(conn.status().message()),
                ::testing::AnyOf(HasSubstr("connection failed after"),
                                 HasSubstr("the last connection attempt failed and another did "
                                           "not succeed within 50ms")));
    EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "not the 30 s dial timeout";
  }
}

// Many calls at once towards a hop that just died (the heal of many connections): gRPC keeps the
// failed channel in TRANSIENT_FAILURE while it retries, so waiters that arrive then see no state
// change; each still fails quickly instead of waiting the dial timeout.
TEST_F(ConnectTest, ConcurrentDialsToADeadHopAllFailQuickly) {
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::Seconds(30));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto first = Req("c0");
  ASSERT_FALSE(chain->Request(ctx, first).ok());  // the channel has failed once
  std::vector<absl::Status> results(8);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto req = Req("c" + std::to_string(i + 1));
      results[i] = chain->Request(ctx, req).status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_EQ(r.code(), absl::StatusCode::kUnavailable) << r;
    EXPECT_THAT(std::string(r.message()), Not(HasSubstr("dial timeout"))) << r;
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "not the 30 s dial timeout";
}

TEST_F(ConnectTest, RestartedPeerIsDialledAtOnce) {
  auto remote = std::make_unique<Remote>(Path("nse.sock"));
  auto url = remote->url();
  auto chain = Chain(url, absl::Seconds(5));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto req = Req("c1");
  ASSERT_TRUE(chain->Request(ctx, req).ok());
  remote.reset();
  std::filesystem::remove(Path("nse.sock"));
  auto again = Req("c2");
  EXPECT_FALSE(chain->Request(ctx, again).ok());  // the channel is now in reconnect backoff
  remote = std::make_unique<Remote>(Path("nse.sock"));
  auto third = Req("c3");
  const absl::Time start = absl::Now();
  auto conn = chain->Request(ctx, third);
  EXPECT_TRUE(conn.ok()) << conn.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A unix socket that listens but never accepts: a connection attempt to it hangs (no handshake).
class HangingListener {
 public:
  explicit HangingListener(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
  }
  ~HangingListener() { close(fd_); }

 private:
  int fd_ = -1;
};

// A failed channel gives no sign that gRPC's next attempt failed too; a probe on a channel of its
// own does: refused, connected (the peer is back), or no answer from a peer that hangs.
TEST_F(ConnectTest, ProbeTellsRefusedFromConnectedFromNoAnswer) {
  auto conn = pool_->Acquire(*api::ParseNsmUrl("unix://" + Path("nse.sock")));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  EXPECT_EQ((*conn)->Probe(deadline), ClientConn::ProbeResult::kFailed) << "nobody listens";
  {
    Remote remote(Path("nse.sock"));
    EXPECT_EQ((*conn)->Probe(deadline), ClientConn::ProbeResult::kConnected);
  }
  std::filesystem::remove(Path("nse.sock"));
  HangingListener hanging(Path("nse.sock"));
  EXPECT_EQ((*conn)->Probe(absl::Now() + absl::Milliseconds(100)),
            ClientConn::ProbeResult::kUnknown);
  EXPECT_EQ(pool_->size(), 1u) << "probes do not take a place in the pool";
}

// A hop that stays dead (the heal of many connections after a forwarder died): a Request or a
// Close through its failed channel is answered by a fresh connection's refusal, not by the end
// of a grace period.
TEST_F(ConnectTest, FailedChannelToADeadHopIsAnsweredByAFreshConnection) {
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::Seconds(30));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto others = pool_->Acquire(url);  // the connections still held through the hop keep it open
  ASSERT_TRUE(others.ok()) << others.status();
  auto first = Req("c0");
  ASSERT_FALSE(chain->Request(ctx, first).ok());  // the channel has failed once
  auto again = Req("c1");
  auto conn = chain->Request(ctx, again);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(conn.status().message()),
              HasSubstr("the channel had failed and a fresh connection failed after"));
  Connection closing = first.connection();
  absl::Status closed = chain->Close(ctx, closing);
  EXPECT_THAT(std::string(closed.message()),
              HasSubstr("the channel had failed and a fresh connection failed after"));
  EXPECT_EQ(server_md_->size(), 0u) << "the Close still released this hop's state";
}

TEST_F(ConnectTest, UnreachableUrlFailsWithinTheDialTimeout) {
  HangingListener hanging(Path("missing.sock"));
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::Milliseconds(300));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto req = Req("c1");
  const absl::Time start = absl::Now();
  auto conn = chain->Request(ctx, req);
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(
      std::string(conn.status().message()),
      StartsWith("failed to dial " + url.ToString() + " (target unix:" + Path("missing.sock") +
                 "): not connected within the dial timeout of 300ms"));
  EXPECT_TRUE(IsNextHopUnreachable(conn.status()));
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Seconds(10));  // the dial timeout, not the 60 s request deadline
  EXPECT_EQ(server_md_->size(), 0u);
  EXPECT_EQ(pool_->size(), 0u);  // a channel still connecting does not linger
}

TEST_F(ConnectTest, RequestDeadlineEndsTheDialFirst) {
  HangingListener hanging(Path("missing.sock"));
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::Seconds(60));
  auto [ctx, cancel] = Context().WithTimeout(absl::Milliseconds(200));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(IsNextHopUnreachable(conn.status())) << "the caller's deadline, not the hop";
  EXPECT_THAT(std::string(conn.status().message()), StartsWith("dialing " + url.ToString() + ": "));
}

TEST_F(ConnectTest, WithoutDialTimeoutTheCallFailsFast) {
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = Chain(url, absl::ZeroDuration());
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool_->size(), 0u);  // a failed channel does not linger
}

TEST_F(ConnectTest, CloseWithUnreachableUrlStillReturnsAndCleansUp) {
  auto remote = std::make_unique<Remote>(Path("nse.sock"));
  auto url = remote->url();
  auto chain = Chain(url, absl::Milliseconds(300));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(60));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  remote.reset();  // the next hop dies
  std::filesystem::remove(Path("nse.sock"));

  const absl::Time start = absl::Now();
  absl::Status s = chain->Close(ctx, *conn);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr(url.ToString()));
  EXPECT_EQ(server_md_->size(), 0u);
  EXPECT_EQ(pool_->in_use(), 0u);
  // Close continued either way: without a connection when the channel already knew the hop was
  // gone, with one when the call itself found the broken socket.
  EXPECT_EQ(see_->seen.size(), 2u);
}

TEST_F(ConnectTest, ChangedUrlClosesTheConnectionAtTheOldHop) {
  Remote a(Path("a.sock"));
  Remote b(Path("b.sock"));
  auto chain = MakeClientChain(
      {client_md_, NewDial(pool_, {.dial_timeout = absl::Seconds(5)}), see_, NewClient()});
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("c1");
  auto conn = chain->Request(clienturl::WithClientUrl(ctx, a.url()), req);
  ASSERT_TRUE(conn.ok()) << conn.status();

  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *conn;
  conn = chain->Request(clienturl::WithClientUrl(ctx, b.url()), refresh);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(a.recorder->Requests(), std::vector<std::string>{"c1"});
  EXPECT_EQ(a.recorder->Closes(), std::vector<std::string>{"c1"});
  EXPECT_EQ(b.recorder->Requests(), std::vector<std::string>{"c1"});
  EXPECT_EQ(pool_->in_use(), 1u);  // a's channel was released

  // Close goes where the connection is now, whatever URL the context carries.
  ASSERT_TRUE(chain->Close(clienturl::WithClientUrl(ctx, a.url()), *conn).ok());
  EXPECT_EQ(b.recorder->Closes(), std::vector<std::string>{"c1"});
  EXPECT_EQ(a.recorder->Closes(), std::vector<std::string>{"c1"});
  EXPECT_EQ(pool_->in_use(), 0u);
}

TEST_F(ConnectTest, ServerSideFailureClosesTheClientSide) {
  Remote remote(Path("nse.sock"));
  auto chain = Chain(remote.url(), absl::Seconds(5), std::make_shared<FailAfter>());
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(conn.status().message(), "sendfd failed");
  EXPECT_EQ(remote.recorder->Closes(), std::vector<std::string>{"c1"});
  EXPECT_EQ(server_md_->size(), 0u);
  EXPECT_EQ(pool_->in_use(), 0u);
}

TEST_F(ConnectTest, CloseRunsBothSidesAndCombinesErrors) {
  Remote remote(Path("nse.sock"));
  remote.recorder->close_error = absl::NotFoundError("no such connection c1");
  auto chain = Chain(remote.url(), absl::Seconds(5));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_TRUE(conn.ok());
  // Only the client side fails: its error.
  absl::Status s = chain->Close(ctx, *conn);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no such connection c1");

  // Both fail: the server error with the client error appended.
  ServerChain both(
      {NewServer(MakeClientChain({NewDial(pool_), NewClient()})), std::make_shared<FailAfter>()});
  Connection c = *conn;
  s = both.Close(clienturl::WithClientUrl(ctx, remote.url()), c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(),
            "sendfd close failed; closing the next hop also failed: NOT_FOUND: no such "
            "connection c1");
}

TEST_F(ConnectTest, AnUnavailableTheNextHopAnsweredIsNotMarkedUnreachable) {
  absl::Status s =
      RequestThroughFailingRemote("nse.sock", absl::UnavailableError("its own next hop is gone"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("its own next hop is gone"));
  EXPECT_FALSE(IsNextHopUnreachable(s));
}

// Puts a URL and the name of the hop there in the context, as forwarder_select and discover do.
class NamedUrl : public NetworkServiceServer {
 public:
  NamedUrl(api::NsmUrl url, std::string name) : url_(std::move(url)), name_(std::move(name)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(clienturl::WithClientUrl(ctx, url_, name_), request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(clienturl::WithClientUrl(ctx, url_, name_), conn);
  }

 private:
  api::NsmUrl url_;
  std::string name_;
};

TEST_F(ConnectTest, DialNamesTheHopItCouldNotReach) {
  auto url = *api::ParseNsmUrl("unix://" + Path("missing.sock"));
  auto chain = MakeServerChain(
      {server_md_, std::make_shared<NamedUrl>(url, "forwarder-1"),
       NewServer(MakeClientChain(
           {client_md_, NewDial(pool_, {.dial_timeout = absl::Seconds(5)}), see_, NewClient()}))});
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("c1");
  auto conn = chain->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_TRUE(IsNextHopUnreachable(conn.status()));
  EXPECT_EQ(UnreachableHop(conn.status()), "forwarder-1");
  // Without a name (clienturl's fixed URL) the mark names nothing.
  auto unnamed = Chain(url, absl::Seconds(5));
  req = Req("c2");
  conn = unnamed->Request(ctx, req);
  ASSERT_FALSE(conn.ok());
  EXPECT_TRUE(IsNextHopUnreachable(conn.status()));
  EXPECT_EQ(UnreachableHop(conn.status()), "");
}

// A hop that could not dial its own next hop says which one, in the gRPC status details: the
// caller learns the name (UnreachableHop) but not a mark of its own next hop.
TEST_F(ConnectTest, TheNameOfAHopFurtherDownCrossesGrpc) {
  absl::Status s = RequestThroughFailingRemote(
      "fwd.sock",
      MarkNextHopUnreachable(
          absl::UnavailableError("failed to dial unix:///nse.sock: connection refused"), "nse-1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "connect: next hop unix://" + Path("fwd.sock") +
                             ": failed to dial unix:///nse.sock: connection refused");
  EXPECT_FALSE(IsNextHopUnreachable(s)) << "the remote hop was reached";
  EXPECT_EQ(UnreachableHop(s), "nse-1");
}

TEST_F(ConnectTest, NoUrlMeansNoNextHop) {
  auto chain = Chain(std::nullopt, absl::Seconds(1));
  auto req = Req("c1");
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(conn.status().message(),
            "connect: no next hop: no client URL in the context (clienturl, discover/roundrobin "
            "or discoverforwarder must choose one)");
  EXPECT_EQ(server_md_->size(), 0u);
}

TEST_F(ConnectTest, InodeUrlCannotBeDialled) {
  auto chain = Chain(*api::ParseNsmUrl("inode://3/12345"), absl::Seconds(1));
  auto req = Req("c1");
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conn.status().message()),
              StartsWith("dial: cannot dial inode://3/12345: "));
}

TEST_F(ConnectTest, PoolWithoutCredentialsRefusesToDial) {
  auto pool = ChannelPool::Create(nullptr);
  auto conn = pool->Acquire(*api::ParseNsmUrl("tcp://127.0.0.1:5001"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(conn.status().message(),
            "cannot dial tcp://127.0.0.1:5001: no channel credentials configured");
}

TEST_F(ConnectTest, PoolSharesPerTarget) {
  auto a1 = pool_->Acquire(*api::ParseNsmUrl("unix:///x/a.sock"));
  auto a2 = pool_->Acquire(*api::ParseNsmUrl("unix:///x/a.sock"));
  auto b = pool_->Acquire(*api::ParseNsmUrl("tcp://127.0.0.1:5001"));
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());
  EXPECT_EQ(a1->get(), a2->get());
  EXPECT_NE(a1->get(), b->get());
  EXPECT_EQ((*a1)->target(), "unix:/x/a.sock");
  EXPECT_EQ(pool_->size(), 2u);
  a1->reset();
  EXPECT_EQ(pool_->in_use(), 2u);
  a2->reset();
  EXPECT_EQ(pool_->in_use(), 1u);
  auto a3 = pool_->Acquire(*api::ParseNsmUrl("unix:///x/a.sock"));
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(pool_->in_use(), 2u);
}

class LingerTest : public ConnectTest {
 protected:
  std::shared_ptr<ChannelPool> Pool(absl::Duration linger) {
    ChannelOptions options;
    options.idle_linger = linger;
    options.clock = clock_;
    return ChannelPool::Create(grpc::InsecureChannelCredentials(), options);
  }
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
};

TEST_F(LingerTest, AnUnusedChannelStaysForTheLingerThenCloses) {
  auto pool = Pool(absl::Seconds(60));
  const auto url = *api::ParseNsmUrl("unix:///x/a.sock");
  auto first = pool->Acquire(url);
  ASSERT_TRUE(first.ok());
  const ClientConn* conn = first->get();
  first->reset();
  EXPECT_EQ(pool->size(), 1u);
  EXPECT_EQ(pool->in_use(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 1u);

  // Taken again within the linger: the same channel, and the linger starts over when it is let go.
  clock_->Advance(absl::Seconds(59));
  auto again = pool->Acquire(url);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), conn);
  EXPECT_EQ(pool->in_use(), 1u);
  again->reset();
  clock_->Advance(absl::Seconds(59));
  EXPECT_EQ(pool->size(), 1u);
  clock_->Advance(absl::Seconds(1));
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(LingerTest, EachTargetLingersFromItsOwnRelease) {
  auto pool = Pool(absl::Seconds(10));
  auto a = pool->Acquire(*api::ParseNsmUrl("unix:///x/a.sock"));
  auto b = pool->Acquire(*api::ParseNsmUrl("unix:///x/b.sock"));
  ASSERT_TRUE(a.ok() && b.ok());
  a->reset();
  clock_->Advance(absl::Seconds(4));
  b->reset();
  clock_->Advance(absl::Seconds(6));
  EXPECT_EQ(pool->size(), 1u);  // a closed, b has 4 s left
  clock_->Advance(absl::Seconds(4));
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(LingerTest, ZeroLingerClosesWithTheLastHolder) {
  auto pool = Pool(absl::ZeroDuration());
  auto a = pool->Acquire(*api::ParseNsmUrl("unix:///x/a.sock"));
  ASSERT_TRUE(a.ok());
  a->reset();
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

// Waits (bounded) until `conn`'s channel has tried to connect and failed.
bool FailsToConnect(const ClientConn& conn) {
  auto state = conn.channel()->GetState(/*try_to_connect=*/true);
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
  while (state != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    if (!conn.channel()->WaitForStateChange(state, deadline)) return false;
    state = conn.channel()->GetState(/*try_to_connect=*/true);
  }
  return true;
}

TEST_F(LingerTest, AFailedChannelDoesNotLinger) {
  auto pool = Pool(absl::Seconds(60));
  auto a = pool->Acquire(*api::ParseNsmUrl("unix://" + Path("missing.sock")));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(FailsToConnect(**a));
  a->reset();
  EXPECT_EQ(pool->size(), 0u);
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(LingerTest, ALingeringChannelThatFailedIsReplaced) {
  auto pool = Pool(absl::Seconds(60));
  auto remote = std::make_unique<Remote>(Path("nse.sock"));
  const auto url = remote->url();
  auto a = pool->Acquire(url);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->channel()->WaitForConnected(std::chrono::system_clock::now() +
                                                std::chrono::seconds(20)));
  const ClientConn* first = a->get();
  a->reset();
  ASSERT_EQ(pool->size(), 1u);

  remote.reset();  // the hop goes away while its channel lingers
  std::filesystem::remove(Path("nse.sock"));
  auto lingering = pool->Acquire(url);  // still healthy-looking (IDLE) until a connect fails
  ASSERT_TRUE(lingering.ok());
  ASSERT_TRUE(FailsToConnect(**lingering));
  const ClientConn* failed = lingering->get();
  EXPECT_EQ(failed, first);
  lingering->reset();  // failed: closed at once
  EXPECT_EQ(pool->size(), 0u);
  auto fresh = pool->Acquire(url);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(pool->size(), 1u);
}

}  // namespace
}  // namespace nsm::connect

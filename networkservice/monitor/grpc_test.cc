// MonitorConnections over real gRPC on unix sockets: initial state, update on refresh, delete on
// close, selector filtering, 200 streams without a thread each, a slow subscriber finished with
// RESOURCE_EXHAUSTED, and a two-hop setup where the monitor client maps the next hop's events over
// one shared stream per channel, confirms bad news, and reports DOWN when the next hop goes away.
#include <dirent.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api/path.h"
#include "core/eventually.h"
#include "core/fake_clock.h"
#include "core/grpc_transport.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/clienturl/server.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/connect/server.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/monitor/client.h"
#include "networkservice/monitor/grpc_service.h"
#include "networkservice/monitor/server.h"

namespace nsm::monitor {
namespace {

using ::connection::ConnectionEventType;
using ::connection::MonitorConnection;

size_t ThreadCount() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

// A test-only updatepath: own segment per hop, the connection id is the hop's segment id, the
// caller's view is restored on return (api.md §7.1).
class PathHop : public NetworkServiceServer {
 public:
  explicit PathHop(std::string name) : name_(std::move(name)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    Connection* conn = request.mutable_connection();
    const uint32_t caller_index = conn->path().index();
    const std::string caller_id = conn->id();
    Enter(conn);
    auto result = next.Request(ctx, request);
    if (!result.ok()) return result;
    result->mutable_path()->set_index(caller_index);
    result->set_id(caller_id.empty() ? result->path().path_segments(0).id() : caller_id);
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    Enter(&conn);
    return next.Close(ctx, conn);
  }

 private:
  void Enter(Connection* conn) {
    auto* path = conn->mutable_path();
    if (path->path_segments().empty()) {
      auto* s = path->add_path_segments();
      s->set_name(name_);
      s->set_id(conn->id().empty() ? NewId() : conn->id());
      path->set_index(0);
    } else if (path->path_segments(static_cast<int>(path->index())).name() != name_) {
      path->set_index(path->index() + 1);
      if (static_cast<int>(path->index()) < path->path_segments_size()) {
        auto* s = path->mutable_path_segments(static_cast<int>(path->index()));
        if (s->name() != name_) {
          s->set_name(name_);
          s->set_id(NewId());
        }
      } else {
        auto* s = path->add_path_segments();
        s->set_name(name_);
        s->set_id(NewId());
      }
    }
    conn->set_id(path->path_segments(static_cast<int>(path->index())).id());
  }
  std::string NewId() { return absl::StrCat(name_, "-", ++counter_); }
  std::string name_;
  std::atomic<int> counter_{0};
};

// The end of a hop: may fail, may add context.
class Endpoint : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    if (fail) return absl::UnavailableError("endpoint refuses");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
  std::atomic<bool> fail{false};
};

// Runs `after` (when set) on each successful Request's result, in the hop's view, before the
// hop's monitor server publishes it.
class AfterRequest : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    auto result = next.Request(ctx, request);
    if (result.ok() && after) after(*result);
    return result;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
  std::function<void(const Connection&)> after;
};

// Answers a refused stream.
class Refused : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Refused(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// An event cut short: its one entry says 9 bytes follow, one does.
const std::string kCutShort("\x08\x01\x12\x09\x0a", 5);
// A well-formed INITIAL_STATE_TRANSFER whose connection "b-1" has a network_service that is not
// UTF-8: only a full parse finds it wrong.
const std::string kNotUtf8(
    "\x12\x0a\x0a\x03"
    "b-1"
    "\x12\x03\x12\x01\xff",
    12);

// A stream whose first event is `event`, held open until cancelled.
class Garbled : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Garbled(const std::string& event) {
    grpc::Slice slice(event);
    out_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&out_);
  }
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer out_;
};

// A peer that authorizes monitoring per connection: selectors without a segment id are refused.
// With `refuse_shared`; otherwise it serves every selector, and while `hold_per_connection` is set
// it holds streams with a segment id (confirmations) back until `release` is notified (5 s at
// most).
class PerConnectionOnly : public MonitorConnection::WithRawCallbackMethod_MonitorConnections<
                              MonitorConnection::Service> {
 public:
  explicit PerConnectionOnly(GrpcService& inner) : inner_(inner) {}
  grpc::ServerWriteReactor<grpc::ByteBuffer>* MonitorConnections(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override {
    MonitorScopeSelector selector;
    grpc::ByteBuffer copy = *request;
    // A call without its request comes without a buffer; that, and a selector that does not
    // parse, are the inner service's to refuse.
    if (copy.Valid()) {
      (void)grpc::GenericDeserialize<grpc::ProtoBufferReader, MonitorScopeSelector>(&copy,
                                                                                    &selector);
    }
    for (const auto& seg : selector.path_segments()) {
      if (seg.id().empty() && garble_shared) return new Garbled(kCutShort);
      if (!seg.id().empty() && garble_per_connection) return new Garbled(kNotUtf8);
      if (seg.id().empty() && refuse_shared) {
        refused.fetch_add(1);
        return new Refused(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no id"));
      }
      if (!seg.id().empty() && hold_per_connection) {
        release.WaitForNotificationWithTimeout(absl::Seconds(5));
      }
    }
    return inner_.MonitorConnections(context, request);
  }
  bool refuse_shared = true;
  std::atomic<bool> garble_shared{false};
  std::atomic<bool> garble_per_connection{false};
  std::atomic<bool> hold_per_connection{false};
  absl::Notification release;
  std::atomic<int> refused{0};

 private:
  GrpcService& inner_;
};

// A hop served over gRPC: [updatepath(name), metadata, monitor, endpoint].
class Hop {
 public:
  Hop(const std::string& name, const std::string& path, bool serve_monitor = true,
      ServiceOptions options = {}, bool per_connection_only = false)
      : url(*api::ParseNsmUrl("unix://" + path)) {
    chain = MakeServerChain(
        {std::make_shared<PathHop>(name), hook, metadata::NewServer(), NewServer(store), endpoint});
    ns_service_ = std::make_unique<NetworkServiceGrpcServer>(chain);
    monitor_service = std::make_unique<GrpcService>(store, options);
    per_connection = std::make_unique<PerConnectionOnly>(*monitor_service);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(ns_service_.get());
    per_connection->refuse_shared = per_connection_only;
    if (serve_monitor) builder.RegisterService(per_connection.get());
    server_ = builder.BuildAndStart();
  }
  ~Hop() { Kill(); }
  // The process dies: streams are cut, nothing is said.
  void Kill() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }

  api::NsmUrl url;
  std::shared_ptr<ConnectionStore> store = ConnectionStore::Create();
  std::shared_ptr<Endpoint> endpoint = std::make_shared<Endpoint>();
  std::shared_ptr<AfterRequest> hook = std::make_shared<AfterRequest>();
  std::shared_ptr<ServerChain> chain;
  std::unique_ptr<GrpcService> monitor_service;
  std::unique_ptr<PerConnectionOnly> per_connection;

 private:
  std::unique_ptr<NetworkServiceGrpcServer> ns_service_;
  std::unique_ptr<grpc::Server> server_;
};

// A monitor stream read by a callback reactor (no thread of its own), recording what arrives.
class TestReader : public grpc::ClientReadReactor<ConnectionEvent> {
 public:
  TestReader(MonitorConnection::Stub* stub, MonitorScopeSelector selector)
      : selector_(std::move(selector)) {
    stub->async()->MonitorConnections(&context_, &selector_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      absl::MutexLock lock(&mu_);
      events_.push_back(event_);
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& s) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    status_ = s;
  }
  void Cancel() { context_.TryCancel(); }
  size_t events() {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }
  ConnectionEvent event(size_t i) {
    absl::MutexLock lock(&mu_);
    return events_.at(i);
  }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  grpc::ClientContext context_;
  MonitorScopeSelector selector_;
  ConnectionEvent event_;
  absl::Mutex mu_;
  std::vector<ConnectionEvent> events_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

MonitorScopeSelector Selector(const std::string& name, const std::string& id) {
  MonitorScopeSelector s;
  auto* seg = s.add_path_segments();
  seg->set_name(name);
  seg->set_id(id);
  return s;
}

NetworkServiceRequest Req(const std::string& client, const std::string& id) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  r.mutable_connection()->set_network_service("svc");
  auto* seg = r.mutable_connection()->mutable_path()->add_path_segments();
  seg->set_name(client);
  seg->set_id(id);
  return r;
}

class MonitorGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-monitor-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::unique_ptr<MonitorConnection::Stub> Stub(const Hop& hop,
                                                const grpc::ChannelArguments& args = {}) {
    return MonitorConnection::NewStub(grpc::CreateCustomChannel(
        *hop.url.GrpcDialTarget(), grpc::InsecureChannelCredentials(), args));
  }
  // Calls a hop's NetworkService over gRPC, as its previous hop would.
  absl::StatusOr<Connection> Call(const Hop& hop, NetworkServiceRequest req) {
    NetworkServiceGrpcClient client(
        grpc::CreateChannel(*hop.url.GrpcDialTarget(), grpc::InsecureChannelCredentials()));
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    return client.Request(ctx, req, ClientNext(), {});
  }
  absl::Status CallClose(const Hop& hop, Connection conn) {
    NetworkServiceGrpcClient client(
        grpc::CreateChannel(*hop.url.GrpcDialTarget(), grpc::InsecureChannelCredentials()));
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    return client.Close(ctx, conn, ClientNext(), {});
  }

  std::string dir_;
};

TEST_F(MonitorGrpcTest, InitialStateThenUpdateOnRefreshThenDeleteOnClose) {
  Hop hop("nse", Path("nse.sock"));
  auto conn = Call(hop, Req("nsc", "c-1"));
  ASSERT_TRUE(conn.ok()) << conn.status();

  auto stub = Stub(hop);
  TestReader reader(stub.get(), Selector("nsc", "c-1"));
  ASSERT_TRUE(Eventually([&] { return reader.events() >= 1; }));
  ConnectionEvent initial = reader.event(0);
  EXPECT_EQ(initial.type(), ConnectionEventType::INITIAL_STATE_TRANSFER);
  ASSERT_EQ(initial.connections_size(), 1);
  const Connection& at_hop = initial.connections().at("nse-1");
  EXPECT_EQ(at_hop.path().index(), 1u);  // the hop's own view
  EXPECT_EQ(at_hop.path().path_segments(0).id(), "c-1");

  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *conn;
  (*refresh.mutable_connection()->mutable_labels())["refreshed"] = "1";
  ASSERT_TRUE(Call(hop, refresh).ok());
  ASSERT_TRUE(Eventually([&] { return reader.events() >= 2; }));
  EXPECT_EQ(reader.event(1).type(), ConnectionEventType::UPDATE);
  EXPECT_EQ(reader.event(1).connections().at("nse-1").labels().at("refreshed"), "1");

  ASSERT_TRUE(CallClose(hop, *conn).ok());
  ASSERT_TRUE(Eventually([&] { return reader.events() >= 3; }));
  EXPECT_EQ(reader.event(2).type(), ConnectionEventType::DELETE);
  EXPECT_EQ(hop.store->size(), 0u);

  reader.Cancel();
  ASSERT_TRUE(reader.WaitDone(absl::Seconds(20)));
  EXPECT_EQ(reader.status().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return hop.monitor_service->open_streams() == 0; }));
  EXPECT_EQ(hop.store->subscribers(), 0u);
}

TEST_F(MonitorGrpcTest, SelectorsFilterStreams) {
  Hop hop("nse", Path("nse.sock"));
  auto stub = Stub(hop);
  TestReader one(stub.get(), Selector("nsc-1", ""));
  TestReader two(stub.get(), Selector("nsc-2", "c-2"));
  TestReader all(stub.get(), MonitorScopeSelector());
  ASSERT_TRUE(Eventually([&] { return one.events() + two.events() + all.events() == 3; }));
  EXPECT_TRUE(one.event(0).connections().empty());

  ASSERT_TRUE(Call(hop, Req("nsc-1", "c-1")).ok());
  ASSERT_TRUE(Call(hop, Req("nsc-2", "c-2")).ok());
  ASSERT_TRUE(Call(hop, Req("nsc-2", "c-3")).ok());  // another connection of nsc-2
  ASSERT_TRUE(Eventually([&] { return all.events() == 4; }));
  ASSERT_TRUE(Eventually([&] { return one.events() == 2 && two.events() == 2; }));
  EXPECT_EQ(one.event(1).connections().begin()->second.path().path_segments(0).id(), "c-1");
  EXPECT_EQ(two.event(1).connections().begin()->second.path().path_segments(0).id(), "c-2");
  for (auto* r : {&one, &two, &all}) r->Cancel();
  for (auto* r : {&one, &two, &all}) ASSERT_TRUE(r->WaitDone(absl::Seconds(20)));
}

TEST_F(MonitorGrpcTest, TwoHundredStreamsDoNotCostAThreadEach) {
  Hop hop("nse", Path("nse.sock"));
  auto stub = Stub(hop);
  std::vector<std::unique_ptr<TestReader>> readers;
  readers.push_back(std::make_unique<TestReader>(stub.get(), MonitorScopeSelector()));
  ASSERT_TRUE(Eventually([&] { return readers[0]->events() == 1; }));
  const size_t before = ThreadCount();

  constexpr int kStreams = 200;
  for (int i = 1; i < kStreams; ++i) {
    readers.push_back(std::make_unique<TestReader>(stub.get(), MonitorScopeSelector()));
  }
  ASSERT_TRUE(Eventually([&] {
    for (auto& r : readers) {
      if (r->events() < 1) return false;
    }
    return true;
  }));
  EXPECT_EQ(hop.monitor_service->open_streams(), static_cast<size_t>(kStreams));
  EXPECT_EQ(hop.store->subscribers(), static_cast<size_t>(kStreams));

  ASSERT_TRUE(Call(hop, Req("nsc", "c-1")).ok());
  ASSERT_TRUE(Eventually([&] {
    for (auto& r : readers) {
      if (r->events() < 2) return false;
    }
    return true;
  }));
  const size_t during = ThreadCount();
  // gRPC's own pools may grow a little; a thread per stream would add ~200 (x2 for both ends).
  EXPECT_LT(during, before + 40) << "threads before " << before << ", with 200 streams " << during;

  for (auto& r : readers) r->Cancel();
  for (auto& r : readers) ASSERT_TRUE(r->WaitDone(absl::Seconds(20)));
  EXPECT_TRUE(Eventually([&] { return hop.monitor_service->open_streams() == 0; }));
  EXPECT_EQ(hop.store->subscribers(), 0u);
}

TEST_F(MonitorGrpcTest, SlowSubscriberIsFinishedWithResourceExhausted) {
  // The empty selector below has no segment id: the bound for shared streams applies.
  Hop hop("nse", Path("nse.sock"), true, {.max_queued_events = 8, .max_queued_events_shared = 8});
  ASSERT_TRUE(Call(hop, Req("nsc", "c-1")).ok());
  Connection big = *hop.store->Get("nse-1");

  // A client that reads the initial state, then stops reading; a small receive window makes
  // the server's writes stall after a few events.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = Stub(hop, args);
  grpc::ClientContext cc;
  auto reader = stub->MonitorConnections(&cc, MonitorScopeSelector());
  ConnectionEvent e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.type(), ConnectionEventType::INITIAL_STATE_TRANSFER);

  const std::string blob(64 * 1024, 'x');
  const absl::Time start = absl::Now();
  int published = 0;
  for (; published < 200 && hop.store->subscribers() > 0; ++published) {
    (*big.mutable_labels())["blob"] = absl::StrCat(published, blob);
    ASSERT_TRUE(hop.store->Update(big).ok());
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // publishing never waits for the reader
  EXPECT_EQ(hop.store->subscribers(), 0u) << "after " << published << " events";

  int delivered = 0;
  while (reader->Read(&e)) ++delivered;
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "monitor subscriber fell behind: 8 events were waiting for delivery when another one "
            "arrived");
  EXPECT_LT(delivered, published);
  EXPECT_TRUE(Eventually([&] { return hop.monitor_service->open_streams() == 0; }));
}

TEST_F(MonitorGrpcTest, StoreShutdownEndsStreamsWithUnavailable) {
  Hop hop("nse", Path("nse.sock"));
  auto stub = Stub(hop);
  TestReader reader(stub.get(), MonitorScopeSelector());
  ASSERT_TRUE(Eventually([&] { return reader.events() == 1; }));
  hop.store->Shutdown();
  ASSERT_TRUE(reader.WaitDone(absl::Seconds(20)));
  EXPECT_EQ(reader.status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(reader.status().error_message(), "monitor connection server is shutting down");
}

TEST_F(MonitorGrpcTest, TooManyStreamsAreRefused) {
  Hop hop("nse", Path("nse.sock"), true, {.max_streams = 1});
  auto stub = Stub(hop);
  TestReader first(stub.get(), MonitorScopeSelector());
  ASSERT_TRUE(Eventually([&] { return first.events() == 1; }));
  TestReader second(stub.get(), MonitorScopeSelector());
  ASSERT_TRUE(second.WaitDone(absl::Seconds(20)));
  EXPECT_EQ(second.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(second.status().error_message(), "monitor: 1 streams already open");
  first.Cancel();
  ASSERT_TRUE(first.WaitDone(absl::Seconds(20)));
}

TEST_F(MonitorGrpcTest, AnEmptySelectorSeesEveryConnection) {
  Hop hop("nse", Path("nse.sock"));
  ASSERT_TRUE(Call(hop, Req("nsc-1", "c-1")).ok());
  ASSERT_TRUE(Call(hop, Req("nsc-2", "c-2")).ok());
  auto stub = Stub(hop);
  TestReader all(stub.get(), MonitorScopeSelector());  // zero bytes on the wire: a message still
  ASSERT_TRUE(Eventually([&] { return all.events() == 1; }));
  EXPECT_EQ(all.event(0).type(), ConnectionEventType::INITIAL_STATE_TRANSFER);
  EXPECT_EQ(all.event(0).connections_size(), 2);
  all.Cancel();
  ASSERT_TRUE(all.WaitDone(absl::Seconds(20)));
}

// Sends `request` as the raw MonitorConnections request and reads until the stream ends.
grpc::Status RawMonitor(const std::shared_ptr<grpc::Channel>& channel,
                        std::optional<std::string> request) {
  class Reader : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    void OnReadDone(bool ok) override {
      if (ok) StartRead(&in);
    }
    void OnDone(const grpc::Status& s) override {
      status = s;
      done.Notify();
    }
    grpc::ByteBuffer in;
    grpc::Status status;
    absl::Notification done;
  } reader;
  grpc::GenericStub stub(channel);
  grpc::ClientContext cc;
  cc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  stub.PrepareBidiStreamingCall(&cc, "/connection.MonitorConnection/MonitorConnections",
                                grpc::StubOptions(), &reader);
  grpc::Slice slice(request.value_or(""));
  grpc::ByteBuffer out(&slice, 1);
  if (request) {
    reader.StartWriteLast(&out, grpc::WriteOptions());
  } else {
    reader.StartWritesDone();
  }
  reader.StartRead(&reader.in);
  reader.StartCall();
  reader.done.WaitForNotification();
  return reader.status;
}

TEST_F(MonitorGrpcTest, ASelectorThatDoesNotParseIsInvalidArgument) {
  Hop hop("nse", Path("nse.sock"));
  auto channel = grpc::CreateChannel(*hop.url.GrpcDialTarget(), grpc::InsecureChannelCredentials());
  // Field 1 (path_segments) says 100 bytes follow; two do.
  grpc::Status s = RawMonitor(channel, std::string("\x0a\x64\x0a\x00", 4));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "monitor: the MonitorScopeSelector (4 bytes) does not parse");
  EXPECT_TRUE(Eventually([&] { return hop.monitor_service->open_streams() == 0; }));
  // No request at all: the call half-closes without one.
  s = RawMonitor(channel, std::nullopt);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "monitor: the call carries no MonitorScopeSelector");
  // The same call with a good selector is served (the stream then waits for events).
  MonitorScopeSelector good = Selector("nsc", "c-1");
  auto stub = Stub(hop);
  TestReader reader(stub.get(), good);
  ASSERT_TRUE(Eventually([&] { return reader.events() == 1; }));
  reader.Cancel();
  ASSERT_TRUE(reader.WaitDone(absl::Seconds(20)));
}

// Hop A in-process: [updatepath(a), metadata, monitor, clienturl(B), connect([metadata, dial,
// monitor client, connect])], talking to hop B over gRPC.
class TwoHopTest : public MonitorGrpcTest {
 protected:
  void Build(const Hop& b, absl::Duration linger = kLinger) {
    monitor_client_ = NewClient(nullptr, {.stream_linger = linger, .clock = clock_});
    a_chain_ =
        MakeServerChain({std::make_shared<PathHop>("a"), metadata::NewServer(), NewServer(a_store_),
                         std::make_shared<clienturl::Server>(b.url),
                         connect::NewServer(MakeClientChain(
                             {metadata::NewClient(),
                              connect::NewDial(pool_, {.dial_timeout = absl::Milliseconds(500)}),
                              monitor_client_, connect::NewClient()}))});
  }
  absl::StatusOr<Connection> RequestA() {
    NetworkServiceRequest req;
    req.mutable_connection()->set_network_service("svc");
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    return a_chain_->Request(ctx, req);
  }
  // The next event of `sub` about a-1 (bounded wait).
  std::optional<Connection> NextA(Subscription& sub, const std::string& id = "a-1") {
    auto e = sub.Recv(absl::Seconds(20));
    if (!e || !e->connections().contains(id)) return std::nullopt;
    return e->connections().at(id);
  }
  absl::Status CloseA(Connection conn) {
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    return a_chain_->Close(ctx, conn);
  }
  absl::StatusOr<Connection> RefreshA(const Connection& conn) {
    NetworkServiceRequest req;
    *req.mutable_connection() = conn;
    auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
    return a_chain_->Request(ctx, req);
  }
  // Events queued in `sub` that report some connection DOWN.
  static int DownEvents(Subscription& sub) {
    int down = 0;
    while (auto e = sub.Pop()) {
      if (e->type() != ConnectionEventType::UPDATE) continue;
      for (const auto& [id, c] : e->connections()) {
        if (c.state() == ::connection::State::DOWN) ++down;
      }
    }
    return down;
  }

  static constexpr absl::Duration kLinger = absl::Seconds(30);
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  std::shared_ptr<ConnectionStore> a_store_ = ConnectionStore::Create();
  std::shared_ptr<connect::ChannelPool> pool_ =
      connect::ChannelPool::Create(grpc::InsecureChannelCredentials());
  std::shared_ptr<Client> monitor_client_;
  std::shared_ptr<ServerChain> a_chain_;
};

TEST_F(TwoHopTest, MapsTheNextHopEventsAndReportsDownWhenItDies) {
  auto b = std::make_unique<Hop>("b", Path("b.sock"));
  Build(*b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->id(), "a-1");
  ASSERT_EQ(conn->path().path_segments_size(), 2);
  ASSERT_TRUE(Eventually([&] { return b->monitor_service->open_streams() == 1; }));
  EXPECT_EQ(monitor_client_->open_streams(), 1u);

  auto sub = a_store_->Subscribe(Selector("a", "a-1"));
  auto initial = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(initial && initial->connections().contains("a-1"));
  EXPECT_EQ(initial->connections().at("a-1").state(), ::connection::State::UP);

  // B's connection changes: A republishes it in its own view.
  Connection at_b = *b->store->Get("b-1");
  (*at_b.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.2/32";
  ASSERT_TRUE(b->store->Update(at_b).ok());
  auto changed = NextA(*sub);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->path().index(), 0u);
  EXPECT_EQ(changed->context().extra_context().at("ip"), "10.0.0.2/32");
  EXPECT_EQ(changed->state(), ::connection::State::UP);

  // B dies: A reports the connection DOWN.
  b->Kill();
  auto down = NextA(*sub);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->state(), ::connection::State::DOWN);
  EXPECT_EQ(down->context().extra_context().at("ip"), "10.0.0.2/32");
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::DOWN);
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));

  // Close still cleans everything up at A.
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  (void)a_chain_->Close(ctx, *conn);
  auto deleted = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->type(), ConnectionEventType::DELETE);
  EXPECT_EQ(a_store_->size(), 0u);
  // The ended watch drops its channel reference on a pool thread, after it stopped counting.
  EXPECT_TRUE(Eventually([&] { return pool_->in_use() == 0; }));
}

TEST_F(TwoHopTest, DeleteAtTheNextHopBecomesDown) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto sub = a_store_->Subscribe(Selector("", "a-1"));
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));

  ASSERT_TRUE(b.store->Delete(*b.store->Get("b-1")).ok());  // e.g. B's timeout closed it
  auto down = NextA(*sub);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->state(), ::connection::State::DOWN);
}

TEST_F(TwoHopTest, RefreshKeepsTheWatchAndCloseEndsIt) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));

  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *conn;
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  ASSERT_TRUE(a_chain_->Request(ctx, refresh).ok());
  EXPECT_EQ(monitor_client_->open_streams(), 1u);
  EXPECT_EQ(b.monitor_service->open_streams(), 1u);

  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  ASSERT_TRUE(a_chain_->Close(ctx, *conn).ok());
  auto deleted = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->type(), ConnectionEventType::DELETE);
  clock_->Advance(kLinger);  // the stream lingers for a next connection, then closes
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  // The client's count drops on its own gRPC callback thread.
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  // The cancelled watch said nothing more: no DOWN after the DELETE.
  EXPECT_FALSE(sub->Recv(absl::Milliseconds(100)));
  EXPECT_EQ(a_store_->size(), 0u);
}

TEST_F(TwoHopTest, FailedRefreshThroughTheNextHopIsDown) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));

  b.endpoint->fail = true;
  NetworkServiceRequest refresh;
  *refresh.mutable_connection() = *conn;
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  EXPECT_FALSE(a_chain_->Request(ctx, refresh).ok());
  auto down = NextA(*sub);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->state(), ::connection::State::DOWN);
  // Monitoring goes on (DESIGN.md §7): the shared stream stays. B published the DOWN too, so a
  // short confirmation stream may still be open for a moment.
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 1; }));
}

TEST_F(TwoHopTest, NextHopWithoutMonitorServiceIsNotReportedDown) {
  Hop b("b", Path("b.sock"), /*serve_monitor=*/false);
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::UP);
}

// Issue #7: connections over the same dialled channel share one MonitorConnections stream; each
// gets only its own changes; the stream closes a linger after the last connection.
TEST_F(TwoHopTest, ConnectionsOverOneChannelShareOneStream) {
  Hop b("b", Path("b.sock"));
  Build(b);
  std::vector<Connection> conns;
  for (int i = 0; i < 5; ++i) {
    auto conn = RequestA();
    ASSERT_TRUE(conn.ok()) << conn.status();
    conns.push_back(*conn);
  }
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));
  EXPECT_EQ(monitor_client_->open_streams(), 1u);
  EXPECT_EQ(monitor_client_->open_channels(), 1u);

  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  Connection at_b = *b.store->Get("b-3");
  (*at_b.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.3/32";
  ASSERT_TRUE(b.store->Update(at_b).ok());
  auto changed = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->connections_size(), 1);
  ASSERT_TRUE(changed->connections().contains("a-3"));
  EXPECT_EQ(changed->connections().at("a-3").context().extra_context().at("ip"), "10.0.0.3/32");

  // Closing all but one keeps the stream; closing the last keeps it for the linger, then closes it
  // (and releases the channel).
  for (size_t i = 0; i + 1 < conns.size(); ++i) ASSERT_TRUE(CloseA(conns[i]).ok());
  EXPECT_EQ(monitor_client_->open_streams(), 1u);
  EXPECT_EQ(b.monitor_service->open_streams(), 1u);
  ASSERT_TRUE(CloseA(conns.back()).ok());
  EXPECT_EQ(monitor_client_->open_channels(), 1u);
  EXPECT_EQ(monitor_client_->started_streams(), 1u);
  clock_->Advance(kLinger);
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_channels() == 0; }));
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return pool_->in_use() == 0; }));
  EXPECT_EQ(DownEvents(*sub), 0);
}

// Issue #7: a client that closes and requests again (or a hop whose connections come and go)
// does not open and cancel a stream per connection: the shared stream lingers after the last
// connection, the next one reuses it, and it closes once it has been idle for the whole linger.
TEST_F(TwoHopTest, TheSharedStreamLingersAndTheNextConnectionReusesIt) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto first = RequestA();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(CloseA(*first).ok());
  EXPECT_EQ(monitor_client_->open_streams(), 1u);
  EXPECT_EQ(monitor_client_->open_channels(), 1u);
  // The stream reaches b's server asynchronously (seen late on a loaded machine).
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));

  clock_->Advance(kLinger / 2);
  auto second = RequestA();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(monitor_client_->started_streams(), 1u);
  EXPECT_EQ(b.monitor_service->open_streams(), 1u);
  // The reused stream carries the new connection's changes.
  auto sub = a_store_->Subscribe(Selector("a", second->id()));
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  Connection at_b = *b.store->Get("b-2");
  (*at_b.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.2/32";
  ASSERT_TRUE(b.store->Update(at_b).ok());
  auto changed = NextA(*sub, second->id());
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->context().extra_context().at("ip"), "10.0.0.2/32");

  // Idle again: the timer armed by the first close finds it idle for less than the linger.
  ASSERT_TRUE(CloseA(*second).ok());
  clock_->Advance(kLinger / 2);
  clock_->Advance(kLinger / 4);
  EXPECT_FALSE(
      Eventually([&] { return monitor_client_->open_streams() == 0; }, absl::Milliseconds(200)));
  EXPECT_EQ(b.monitor_service->open_streams(), 1u);
  clock_->Advance(kLinger / 4);
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  EXPECT_EQ(monitor_client_->open_channels(), 0u);
  EXPECT_TRUE(Eventually([&] { return pool_->in_use() == 0; }));
  EXPECT_EQ(monitor_client_->started_streams(), 1u);
}

// A lingering stream that the next hop ends (it died) leaves the channel quietly: there is no
// connection to report, and the next connection opens a new stream.
TEST_F(TwoHopTest, ALingeringStreamThatEndsReportsNothing) {
  auto b = std::make_unique<Hop>("b", Path("b.sock"));
  Build(*b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  ASSERT_TRUE(CloseA(*conn).ok());
  ASSERT_EQ(monitor_client_->open_channels(), 1u) << "lingering";
  b->Kill();
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_channels() == 0; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  EXPECT_EQ(DownEvents(*sub), 0);
  EXPECT_EQ(a_store_->size(), 0u);
}

// The client going away (its hop shuts down) ends a lingering stream at once and lets the channel
// go: the stream refers to the client's watch set, which holds the channel that holds the stream.
TEST_F(TwoHopTest, DestroyingTheClientEndsALingeringStream) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(CloseA(*conn).ok());
  ASSERT_EQ(monitor_client_->open_channels(), 1u) << "lingering";
  std::weak_ptr<Client> weak = monitor_client_;
  a_chain_.reset();
  monitor_client_.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return pool_->in_use() == 0; })) << "the clock never moved";
}

// Without a linger the stream closes with the last connection.
TEST_F(TwoHopTest, WithoutALingerTheLastConnectionClosesTheStream) {
  Hop b("b", Path("b.sock"));
  Build(b, absl::ZeroDuration());
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));
  ASSERT_TRUE(CloseA(*conn).ok());
  EXPECT_EQ(monitor_client_->open_channels(), 0u);
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
}

// The DELETE of a Close that a reselect made just before a new Request to the same next hop
// arrives on the shared stream, maybe after the new Request's reply: it must not report DOWN.
TEST_F(TwoHopTest, StaleDeleteAfterCloseAndRequestIsNotDown) {
  Hop b("b", Path("b.sock"));
  Build(b);
  auto keep = RequestA();  // a-1 keeps the shared stream open throughout
  ASSERT_TRUE(keep.ok()) << keep.status();
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->id(), "a-2");
  auto sub = a_store_->Subscribe(Selector("a", "a-2"));
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(CloseA(*conn).ok());
    auto again = RefreshA(*conn);
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->id(), "a-2");
    ASSERT_EQ(again->path().path_segments(1).id(), conn->path().path_segments(1).id());
  }
  // A change after the last round trip: by the time it is here, every DELETE has been handled
  // (the stream is ordered); then the confirmations they started end.
  Connection at_b = *b.store->Get(conn->path().path_segments(1).id());
  (*at_b.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.2/32";
  ASSERT_TRUE(b.store->Update(at_b).ok());
  ASSERT_TRUE(Eventually([&] {
    auto a2 = a_store_->Get("a-2");
    return a2 && a2->context().extra_context().contains("ip");
  }));
  ASSERT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 1; }));
  EXPECT_EQ(DownEvents(*sub), 0);
  EXPECT_EQ(a_store_->Get("a-2")->state(), ::connection::State::UP);
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::UP);
}

// The same, deterministic: on the shared stream a DELETE is followed by the connection again.
TEST_F(TwoHopTest, DeleteOnTheSharedStreamIsConfirmedBeforeDown) {
  Hop b("b", Path("b.sock"));
  Build(b);
  ASSERT_TRUE(RequestA().ok());
  ASSERT_TRUE(RequestA().ok());
  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));

  // The confirmation must see B after the connection came back, as it does when the DELETE comes
  // from a Close before a new Request (the watch registers after that Request's reply).
  b.per_connection->hold_per_connection = true;
  Connection b1 = *b.store->Get("b-1");
  ASSERT_TRUE(b.store->Delete(b1).ok());
  ASSERT_TRUE(b.store->Update(b1).ok());
  b.per_connection->release.Notify();
  // A marker after both: once it is republished, the DELETE has been seen (and confirmed or not).
  Connection b2 = *b.store->Get("b-2");
  (*b2.mutable_context()->mutable_extra_context())["mark"] = "1";
  ASSERT_TRUE(b.store->Update(b2).ok());
  ASSERT_TRUE(Eventually([&] {
    auto a2 = a_store_->Get("a-2");
    return a2 && a2->context().extra_context().contains("mark");
  }));
  ASSERT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 1; }));
  EXPECT_EQ(DownEvents(*sub), 0);
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::UP);

  // A real DOWN at the next hop is confirmed and reported, for that connection only.
  b1.set_state(::connection::State::DOWN);
  ASSERT_TRUE(b.store->Update(b1).ok());
  ASSERT_TRUE(
      Eventually([&] { return a_store_->Get("a-1")->state() == ::connection::State::DOWN; }));
  EXPECT_EQ(a_store_->Get("a-2")->state(), ::connection::State::UP);
}

// A DOWN at the next hop right after its reply may reach the shared stream before the connection
// is registered there: it is remembered and confirmed at registration, not lost.
TEST_F(TwoHopTest, DownThatOvertakesTheReplyIsReported) {
  Hop b("b", Path("b.sock"));
  Build(b);
  ASSERT_TRUE(RequestA().ok());  // a-1 keeps the shared stream open
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));
  b.hook->after = [&b](const Connection& conn) {
    Connection down = conn;
    down.set_state(::connection::State::DOWN);
    ASSERT_TRUE(b.store->Update(down).ok());
  };
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->id(), "a-2");
  EXPECT_EQ(conn->state(), ::connection::State::UP);
  // The hook runs after B's monitor server published the reply: B's store ends with DOWN.
  EXPECT_EQ(b.store->Get(conn->path().path_segments(1).id())->state(), ::connection::State::DOWN);
  ASSERT_TRUE(
      Eventually([&] { return a_store_->Get("a-2")->state() == ::connection::State::DOWN; }));
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::UP);
}

TEST_F(TwoHopTest, SharedStreamEndReportsEveryConnectionDown) {
  auto b = std::make_unique<Hop>("b", Path("b.sock"));
  Build(*b);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(RequestA().ok());
  ASSERT_TRUE(Eventually([&] { return b->monitor_service->open_streams() == 1; }));
  b->Kill();
  ASSERT_TRUE(Eventually([&] {
    for (const char* id : {"a-1", "a-2", "a-3"}) {
      if (a_store_->Get(id)->state() != ::connection::State::DOWN) return false;
    }
    return true;
  }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
  EXPECT_EQ(monitor_client_->open_channels(), 0u);
}

// An event that does not parse ends the shared stream: every connection over it is DOWN.
TEST_F(TwoHopTest, AnEventThatDoesNotParseEndsTheSharedStream) {
  Hop b("b", Path("b.sock"));
  b.per_connection->garble_shared = true;
  Build(b);
  auto conn = RequestA();
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(
      Eventually([&] { return a_store_->Get("a-1")->state() == ::connection::State::DOWN; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
}

// Bad news on the shared stream, whose confirmation does not parse: no confirmation to be had, so
// DOWN (it used to wait for one forever).
TEST_F(TwoHopTest, AConfirmationThatDoesNotParseIsDown) {
  Hop b("b", Path("b.sock"));
  Build(b);
  ASSERT_TRUE(RequestA().ok());
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));
  b.per_connection->garble_per_connection = true;
  ASSERT_TRUE(b.store->Delete(*b.store->Get("b-1")).ok());
  ASSERT_TRUE(
      Eventually([&] { return a_store_->Get("a-1")->state() == ::connection::State::DOWN; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 1; }));  // the shared
}

// A stream of one connection (the next hop refuses sharing) whose event does not parse: the
// connection is no longer monitored, so DOWN.
TEST_F(TwoHopTest, AFallbackStreamWhoseEventDoesNotParseIsDown) {
  Hop b("b", Path("b.sock"), /*serve_monitor=*/true, {}, /*per_connection_only=*/true);
  b.per_connection->garble_per_connection = true;
  Build(b);
  ASSERT_TRUE(RequestA().ok());
  ASSERT_TRUE(
      Eventually([&] { return a_store_->Get("a-1")->state() == ::connection::State::DOWN; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
}

// A next hop that refuses the shared selector (a peer authorizing per connection): one stream per
// connection, as before issue #7.
TEST_F(TwoHopTest, RefusedSharedSelectorFallsBackToAStreamPerConnection) {
  Hop b("b", Path("b.sock"), /*serve_monitor=*/true, {}, /*per_connection_only=*/true);
  Build(b);
  auto c1 = RequestA();
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 1; }));
  auto c2 = RequestA();
  ASSERT_TRUE(c2.ok()) << c2.status();
  ASSERT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 2; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 2; }));
  EXPECT_EQ(b.per_connection->refused.load(), 1);
  EXPECT_EQ(a_store_->Get("a-1")->state(), ::connection::State::UP);

  auto sub = a_store_->Subscribe({});
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  ASSERT_TRUE(b.store->Delete(*b.store->Get("b-1")).ok());
  auto down = NextA(*sub, "a-1");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->state(), ::connection::State::DOWN);
  EXPECT_EQ(a_store_->Get("a-2")->state(), ::connection::State::UP);

  ASSERT_TRUE(CloseA(*c1).ok());
  ASSERT_TRUE(CloseA(*c2).ok());
  EXPECT_TRUE(Eventually([&] { return b.monitor_service->open_streams() == 0; }));
  EXPECT_TRUE(Eventually([&] { return monitor_client_->open_streams() == 0; }));
}

TEST_F(MonitorGrpcTest, ClientWithItsOwnStoreWatchesForAnNsc) {
  // An NSC-style client chain without a monitor server: the client publishes the connection
  // into its own store, then the next hop's changes.
  auto b = std::make_unique<Hop>("b", Path("b.sock"));
  auto store = ConnectionStore::Create();
  auto pool = connect::ChannelPool::Create(grpc::InsecureChannelCredentials());
  auto client = NewClient(store);
  auto chain = MakeClientChain({metadata::NewClient(), std::make_shared<clienturl::Client>(b->url),
                                connect::NewDial(pool, {.dial_timeout = absl::Milliseconds(500)}),
                                client, connect::NewClient()});
  auto sub = store->Subscribe(Selector("nsc", "c-1"));
  ASSERT_TRUE(sub->Recv(absl::Seconds(20)));
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(20));
  auto req = Req("nsc", "c-1");
  auto conn = chain->Request(ctx, req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto up = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(up && up->connections().contains("c-1"));
  EXPECT_EQ(up->connections().at("c-1").state(), ::connection::State::UP);

  b->Kill();
  auto down = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(down && down->connections().contains("c-1"));
  EXPECT_EQ(down->connections().at("c-1").state(), ::connection::State::DOWN);

  (void)chain->Close(ctx, *conn);
  auto deleted = sub->Recv(absl::Seconds(20));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->type(), ConnectionEventType::DELETE);
  EXPECT_EQ(store->size(), 0u);
  // The broken stream says DOWN before it leaves the set.
  EXPECT_TRUE(Eventually([&] { return client->open_streams() == 0; }));
}

}  // namespace
}  // namespace nsm::monitor

// Chain semantics: element order, next, tail, nesting through adapters, rollback, call options.
#include "core/networkservice.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

using ::testing::ElementsAre;

// Logs "(name" on entry and "name)" on return; optionally fails instead of calling next.
class LogServer : public NetworkServiceServer {
 public:
  LogServer(std::string name, std::string* log, bool fail = false)
      : name_(std::move(name)), log_(log), fail_(fail) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    *log_ += "(" + name_ + " ";
    if (fail_) {
      *log_ += "!" + name_ + ") ";
      return absl::InternalError("fail at " + name_);
    }
    auto r = next.Request(ctx, request);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    *log_ += "(" + name_ + " ";
    auto s = next.Close(ctx, conn);
    *log_ += name_ + ") ";
    return s;
  }

 private:
  std::string name_;
  std::string* log_;
  bool fail_;
};

class LogClient : public NetworkServiceClient {
 public:
  LogClient(std::string name, std::string* log, bool fail = false)
      : name_(std::move(name)), log_(log), fail_(fail) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    *log_ += "(" + name_ + " ";
    if (fail_) {
      *log_ += "!" + name_ + ") ";
      return absl::InternalError("fail at " + name_);
    }
    auto r = next.Request(ctx, request, opts);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    *log_ += "(" + name_ + " ";
    auto s = next.Close(ctx, conn, opts);
    *log_ += name_ + ") ";
    return s;
  }

 private:
  std::string name_;
  std::string* log_;
  bool fail_;
};

NetworkServiceRequest MakeRequest(const std::string& id) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  r.mutable_connection()->set_network_service("ns");
  return r;
}

TEST(UnreachableTest, MarksAndNames) {
  const absl::Status refused = absl::UnavailableError("refused");
  EXPECT_FALSE(IsNextHopUnreachable(refused));
  EXPECT_EQ(UnreachableHop(refused), "");
  EXPECT_TRUE(IsNextHopUnreachable(MarkNextHopUnreachable(refused)));
  EXPECT_EQ(UnreachableHop(MarkNextHopUnreachable(refused)), "");
  EXPECT_EQ(UnreachableHop(MarkNextHopUnreachable(refused, "fwd-1")), "fwd-1");
  EXPECT_TRUE(MarkNextHopUnreachable(absl::OkStatus(), "fwd-1").ok()) << "OK stays OK";
  // Reported by a peer: a name, but not this process's next hop.
  const absl::Status reported = MarkReportedUnreachable(refused, "nse-1");
  EXPECT_FALSE(IsNextHopUnreachable(reported));
  EXPECT_EQ(UnreachableHop(reported), "nse-1");
  // This process's own next hop is named first.
  EXPECT_EQ(UnreachableHop(MarkNextHopUnreachable(reported, "fwd-1")), "fwd-1");
  EXPECT_EQ(UnreachableHop(MarkNextHopUnreachable(reported)), "nse-1");
}

TEST(UnreachableTest, AnnotatingKeepsCodeAndMarks) {
  const absl::Status marked = MarkNextHopUnreachable(absl::UnavailableError("refused"), "nse-1");
  const absl::Status annotated = Annotated(marked, "connect: next hop unix:///x.sock");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(annotated.message(), "connect: next hop unix:///x.sock: refused");
  EXPECT_TRUE(IsNextHopUnreachable(annotated));
  EXPECT_EQ(UnreachableHop(annotated), "nse-1");
  const absl::Status reworded = Reworded(marked, "all failed");
  EXPECT_EQ(reworded.message(), "all failed");
  EXPECT_EQ(UnreachableHop(reworded), "nse-1");
  EXPECT_TRUE(Annotated(absl::OkStatus(), "x").ok());
}

TEST(ServerChainTest, RunsElementsInOrderAndUnwindsInReverse) {
  std::string log;
  auto chain = MakeServerChain({std::make_shared<LogServer>("a", &log),
                                std::make_shared<LogServer>("b", &log),
                                std::make_shared<LogServer>("c", &log)});
  auto req = MakeRequest("1");
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(log, "(a (b (c c) b) a) ");
  log.clear();
  ASSERT_TRUE(chain->Close(Context(), *conn).ok());
  EXPECT_EQ(log, "(a (b (c c) b) a) ");
}

TEST(ServerChainTest, TailReturnsTheRequestedConnection) {
  auto chain = MakeServerChain({});
  auto req = MakeRequest("id-1");
  req.mutable_connection()->set_payload("IP");
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->id(), "id-1");
  EXPECT_EQ(conn->payload(), "IP");
  Connection c;
  EXPECT_TRUE(chain->Close(Context(), c).ok());
}

TEST(ServerChainTest, NestedChainContinuesWithTheOuterChain) {
  std::string log;
  auto inner = MakeServerChain(
      {std::make_shared<LogServer>("b", &log), std::make_shared<LogServer>("c", &log)});
  auto outer = MakeServerChain(
      {std::make_shared<LogServer>("a", &log), inner, std::make_shared<LogServer>("d", &log)});
  auto req = MakeRequest("1");
  ASSERT_TRUE(outer->Request(Context(), req).ok());
  EXPECT_EQ(log, "(a (b (c (d d) c) b) a) ");
  // The inner chain on its own ends at the tail.
  log.clear();
  ASSERT_TRUE(inner->Request(Context(), req).ok());
  EXPECT_EQ(log, "(b (c c) b) ");
}

TEST(ServerChainTest, EmptyNestedChainCallsParentNext) {
  std::string log;
  auto outer = MakeServerChain({std::make_shared<LogServer>("a", &log), MakeServerChain({}),
                                std::make_shared<LogServer>("b", &log)});
  auto req = MakeRequest("1");
  ASSERT_TRUE(outer->Request(Context(), req).ok());
  EXPECT_EQ(log, "(a (b b) a) ");
}

TEST(AdaptersTest, OrderAcrossClientAndServerForms) {
  std::string log;
  auto client = MakeClientChain({std::make_shared<LogClient>("b", &log),
                                 ServerToClient(std::make_shared<LogServer>("c", &log)),
                                 std::make_shared<LogClient>("d", &log)});
  auto server = MakeServerChain({std::make_shared<LogServer>("a", &log), ClientToServer(client),
                                 std::make_shared<LogServer>("e", &log)});
  auto req = MakeRequest("1");
  ASSERT_TRUE(server->Request(Context(), req).ok());
  EXPECT_EQ(log, "(a (b (c (d (e e) d) c) b) a) ");
  log.clear();
  Connection conn = req.connection();
  ASSERT_TRUE(server->Close(Context(), conn).ok());
  EXPECT_EQ(log, "(a (b (c (d (e e) d) c) b) a) ");
}

// 11 elements nested across adapters; a failing element right after element 5 stops the chain and
// the error unwinds through 5..1.
TEST(AdaptersTest, FailureStopsTheChainAcrossAdapters) {
  std::string log;
  auto n = [&](int i) { return std::to_string(i); };
  auto inner_client = MakeClientChain(
      {std::make_shared<LogClient>(n(4), &log),
       ServerToClient(MakeServerChain({std::make_shared<LogServer>(n(5), &log),
                                       std::make_shared<LogServer>("x", &log, /*fail=*/true),
                                       std::make_shared<LogServer>(n(6), &log)})),
       std::make_shared<LogClient>(n(7), &log)});
  auto server = MakeServerChain(
      {std::make_shared<LogServer>(n(1), &log),
       ClientToServer(MakeClientChain({std::make_shared<LogClient>(n(2), &log),
                                       ServerToClient(std::make_shared<LogServer>(n(3), &log)),
                                       inner_client, std::make_shared<LogClient>(n(8), &log)})),
       std::make_shared<LogServer>(n(9), &log), std::make_shared<LogServer>(n(10), &log),
       std::make_shared<LogServer>(n(11), &log)});
  auto req = MakeRequest("1");
  auto result = server->Request(Context(), req);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(result.status().message(), "fail at x");
  EXPECT_EQ(log, "(1 (2 (3 (4 (5 (x !x) 5) 4) 3) 2) 1) ");
}

// An element may call next several times (candidate loops).
class RetryServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    absl::Status last;
    for (const char* candidate : {"nse-1", "nse-2", "nse-3"}) {
      NetworkServiceRequest attempt = request;
      attempt.mutable_connection()->set_network_service_endpoint_name(candidate);
      auto r = next.Request(ctx, attempt);
      if (r.ok()) return r;
      last = r.status();
    }
    return last;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

class RejectServer : public NetworkServiceServer {
 public:
  explicit RejectServer(std::vector<std::string>* seen) : seen_(seen) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    const std::string& nse = request.connection().network_service_endpoint_name();
    seen_->push_back(nse);
    if (nse != "nse-3") return absl::UnavailableError(nse + " is down");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }

 private:
  std::vector<std::string>* seen_;
};

TEST(ServerChainTest, NextMayBeCalledSeveralTimes) {
  std::vector<std::string> seen;
  auto chain =
      MakeServerChain({std::make_shared<RetryServer>(), std::make_shared<RejectServer>(&seen)});
  auto req = MakeRequest("1");
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-3");
  EXPECT_THAT(seen, ElementsAre("nse-1", "nse-2", "nse-3"));
}

// Takes a resource before next and gives it back when next fails (chain-model.md §3.3 rule 2).
class ResourceServer : public NetworkServiceServer {
 public:
  explicit ResourceServer(int* held) : held_(held) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    ++*held_;
    auto r = next.Request(ctx, request);
    if (!r.ok()) --*held_;
    return r;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    --*held_;
    return next.Close(ctx, conn);
  }

 private:
  int* held_;
};

// Fails after next succeeded: closes what next created (rule 3).
class FailAfterServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    auto r = next.Request(ctx, request);
    if (!r.ok()) return r;
    (void)next.Close(ctx.Postpone().Make().first, *r);
    return absl::FailedPreconditionError("failed after next");
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

TEST(RollbackTest, FailureAtEveryPositionLeavesNothingHeld) {
  constexpr int kLength = 6;
  for (int fail_at = 0; fail_at <= kLength; ++fail_at) {
    for (bool fail_after : {false, true}) {
      int held = 0;
      std::string log;
      ServerChain::Elements elements;
      for (int i = 0; i <= kLength; ++i) {
        if (i == fail_at) {
          if (fail_after) {
            elements.push_back(std::make_shared<FailAfterServer>());
          } else {
            elements.push_back(std::make_shared<LogServer>("x", &log, /*fail=*/true));
          }
        }
        if (i < kLength) elements.push_back(std::make_shared<ResourceServer>(&held));
      }
      auto chain = MakeServerChain(std::move(elements));
      auto req = MakeRequest("1");
      EXPECT_FALSE(chain->Request(Context(), req).ok());
      EXPECT_EQ(held, 0) << "fail_at=" << fail_at << " fail_after=" << fail_after;
    }
  }
}

// Client elements pass call options on; an option added by an element reaches the elements after
// it, including those reached through ServerToClient.
class AddOptionClient : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    CallOptions more = opts;
    more.apply.push_back([](grpc::ClientContext&) {});
    return next.Request(ctx, request, more);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }
};

class CountOptionsClient : public NetworkServiceClient {
 public:
  explicit CountOptionsClient(size_t* count) : count_(count) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    *count_ = opts.apply.size();
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }

 private:
  size_t* count_;
};

TEST(ClientChainTest, CallOptionsFlowThroughTheChain) {
  size_t count = 0;
  std::string log;
  auto chain = MakeClientChain(
      {std::make_shared<AddOptionClient>(), ServerToClient(std::make_shared<LogServer>("s", &log)),
       std::make_shared<AddOptionClient>(), std::make_shared<CountOptionsClient>(&count)});
  auto req = MakeRequest("1");
  CallOptions opts;
  opts.apply.push_back([](grpc::ClientContext&) {});
  ASSERT_TRUE(chain->Request(Context(), req, opts).ok());
  EXPECT_EQ(count, 3u);
}

// Context values set by an element are seen by later elements, also across adapters.
inline const TypedKey<std::string> kNoteKey{"note"};

class NoteServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(ctx.WithValue(kNoteKey, std::make_shared<std::string>("hello")), request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

class ReadNoteClient : public NetworkServiceClient {
 public:
  explicit ReadNoteClient(std::string* out) : out_(out) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    auto v = ctx.Value(kNoteKey);
    *out_ = v ? *v : "<none>";
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }

 private:
  std::string* out_;
};

TEST(AdaptersTest, ContextValuesCrossAdapters) {
  std::string seen;
  auto chain = MakeServerChain(
      {std::make_shared<NoteServer>(), ClientToServer(std::make_shared<ReadNoteClient>(&seen))});
  auto req = MakeRequest("1");
  ASSERT_TRUE(chain->Request(Context(), req).ok());
  EXPECT_EQ(seen, "hello");
}

}  // namespace
}  // namespace nsm

// roundrobin: order across requests, next candidate on failure, the all-failed error naming every
// candidate, unusable URLs, a request that ends mid-way, missing candidates.
#include <functional>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/discover/candidates.h"
#include "networkservice/roundrobin/server.h"

namespace nsm::roundrobin {
namespace {

using ::testing::HasSubstr;

// Fails for the endpoints listed in `failing` with the given status; records what it saw.
class Endpoints : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    const std::string name = request.connection().network_service_endpoint_name();
    tried.push_back(name);
    if (during) std::exchange(during, nullptr)();
    urls.push_back(clienturl::FromContext(ctx)->ToString());
    names.push_back(clienturl::NextHopName(ctx));
    if (auto it = failing.find(name); it != failing.end()) return it->second;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    ++closes;
    return next.Close(ctx, conn);
  }
  std::map<std::string, absl::Status> failing;
  std::function<void()> during;  // run once, inside the next candidate's call
  std::vector<std::string> tried;
  std::vector<std::string> urls;
  std::vector<std::string> names;  // given with each URL (dial names the hop in its errors)
  int closes = 0;
};

class RoundRobinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    candidates_->network_service.set_name("svc");
    for (const char* name : {"nse-a", "nse-b", "nse-c"}) {
      auto& nse = candidates_->endpoints.emplace_back();
      nse.set_name(name);
      nse.set_url(std::string("unix:///run/") + name + ".sock");
    }
  }
  absl::StatusOr<Connection> Request(Context ctx = Context()) {
    NetworkServiceRequest req;
    req.mutable_connection()->set_id("c1");
    req.mutable_connection()->set_network_service("svc");
    auto out = chain_->Request(ctx.WithValue(discover::kCandidatesKey, candidates_), req);
    // No candidate left pinned in the caller's request by a failure.
    if (!out.ok()) {
      EXPECT_EQ(req.connection().network_service_endpoint_name(), "");
    }
    return out;
  }

  std::shared_ptr<discover::Candidates> candidates_ = std::make_shared<discover::Candidates>();
  std::shared_ptr<Endpoints> endpoints_ = std::make_shared<Endpoints>();
  std::shared_ptr<ServerChain> chain_ = MakeServerChain({NewServer(), endpoints_});
};

TEST_F(RoundRobinTest, TakesTurnsAcrossRequests) {
  for (int i = 0; i < 4; ++i) {
    auto conn = Request();
    ASSERT_TRUE(conn.ok()) << conn.status();
  }
  EXPECT_EQ(endpoints_->tried, (std::vector<std::string>{"nse-a", "nse-b", "nse-c", "nse-a"}));
  EXPECT_EQ(endpoints_->urls[1], "unix:///run/nse-b.sock");
  EXPECT_EQ(endpoints_->names, endpoints_->tried);
}

TEST_F(RoundRobinTest, ReturnsTheChosenEndpoint) {
  auto conn = Request();
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-a");
}

TEST_F(RoundRobinTest, CountersArePerService) {
  ASSERT_TRUE(Request().ok());  // svc: a
  auto other = std::make_shared<discover::Candidates>(*candidates_);
  other->network_service.set_name("other");
  NetworkServiceRequest req;
  ASSERT_TRUE(chain_->Request(Context().WithValue(discover::kCandidatesKey, other), req).ok());
  ASSERT_TRUE(Request().ok());  // svc: b
  EXPECT_EQ(endpoints_->tried, (std::vector<std::string>{"nse-a", "nse-a", "nse-b"}));
}

TEST_F(RoundRobinTest, FailedCandidateIsSkippedAndCounted) {
  endpoints_->failing["nse-a"] = absl::UnavailableError("connection refused");
  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-b");
  ASSERT_TRUE(Request().ok());  // the counter moved past b: c is next
  EXPECT_EQ(endpoints_->tried, (std::vector<std::string>{"nse-a", "nse-b", "nse-c"}));
}

// Other requests take turns while one is trying its candidates (heal of many connections at
// once): it still tries each candidate once, in order from its first turn, and does not give up
// with a live candidate untried.
TEST_F(RoundRobinTest, ConcurrentTurnsDoNotMakeARequestSkipACandidate) {
  endpoints_->failing["nse-a"] = absl::UnavailableError("connection refused");
  endpoints_->during = [this] {
    endpoints_->failing.clear();
    ASSERT_TRUE(Request().ok());  // takes b's turn
    ASSERT_TRUE(Request().ok());  // takes c's turn
    endpoints_->failing["nse-a"] = absl::UnavailableError("connection refused");
  };
  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-b");
  EXPECT_EQ(endpoints_->tried, (std::vector<std::string>{"nse-a", "nse-b", "nse-c", "nse-b"}))
      << "nse-a once, then the next candidate after it";
}

TEST_F(RoundRobinTest, AllFailedNamesEveryCandidate) {
  endpoints_->failing["nse-a"] = absl::UnavailableError("connection refused");
  endpoints_->failing["nse-b"] = absl::UnavailableError("no route");
  endpoints_->failing["nse-c"] = absl::UnavailableError("timeout");
  auto conn = Request();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "all 3 candidates failed for network service svc: "
            "nse-a (unix:///run/nse-a.sock): UNAVAILABLE: connection refused; "
            "nse-b (unix:///run/nse-b.sock): UNAVAILABLE: no route; "
            "nse-c (unix:///run/nse-c.sock): UNAVAILABLE: timeout");
}

TEST_F(RoundRobinTest, MixedFailuresAreUnavailable) {
  endpoints_->failing["nse-a"] = absl::PermissionDeniedError("no sufficient privileges");
  endpoints_->failing["nse-b"] = absl::UnavailableError("no route");
  endpoints_->failing["nse-c"] = absl::UnavailableError("timeout");
  auto conn = Request();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(conn.status().message(),
              HasSubstr("nse-a (unix:///run/nse-a.sock): PERMISSION_DENIED: no sufficient "
                        "privileges"));
}

TEST_F(RoundRobinTest, SameFailureKeepsItsCode) {
  for (auto name : {"nse-a", "nse-b", "nse-c"}) {
    endpoints_->failing[name] = absl::PermissionDeniedError("no sufficient privileges");
  }
  auto conn = Request();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(RoundRobinTest, UnusableUrlIsACandidateFailure) {
  candidates_->endpoints[0].set_url("inode://x/y");
  auto conn = Request();
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->network_service_endpoint_name(), "nse-b");

  for (auto& nse : candidates_->endpoints) nse.set_url("");
  conn = Request();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(conn.status().message(), HasSubstr("nse-a (): FAILED_PRECONDITION: unusable url: "));
}

// Fails every attempt and cancels the request on the first one.
class CancelAfterFirst : public NetworkServiceServer {
 public:
  explicit CancelAfterFirst(Context::CancelFunc c) : cancel_(std::move(c)) {}
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest&,
                                     const ServerNext&) override {
    ++attempts;
    cancel_();
    return absl::UnavailableError("connection refused");
  }
  absl::Status Close(const Context&, Connection&, const ServerNext&) override {
    return absl::OkStatus();
  }
  Context::CancelFunc cancel_;
  int attempts = 0;
};

TEST_F(RoundRobinTest, StopsWhenTheRequestEnds) {
  auto [ctx, cancel] = Context().WithCancel();
  auto failing = std::make_shared<CancelAfterFirst>(cancel);
  ServerChain chain({NewServer(), failing});
  NetworkServiceRequest req;
  auto conn = chain.Request(ctx.WithValue(discover::kCandidatesKey, candidates_), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(failing->attempts, 1);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(conn.status().message(),
              HasSubstr("gave up on network service svc after 1 of 3 candidates: "));
  EXPECT_THAT(conn.status().message(),
              HasSubstr("tried: nse-a (unix:///run/nse-a.sock): UNAVAILABLE: connection refused"));
}

TEST_F(RoundRobinTest, NoCandidatesInContext) {
  NetworkServiceRequest req;
  auto conn = chain_->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(conn.status().message(),
            "roundrobin: no candidates in the context (discover must run before roundrobin)");
}

TEST_F(RoundRobinTest, EmptyCandidates) {
  candidates_->endpoints.clear();
  auto conn = Request();
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RoundRobinTest, UrlAlreadyChosenPassesThrough) {
  Context ctx = clienturl::WithClientUrl(Context(), *api::ParseNsmUrl("tcp://10.1.1.1:5002"));
  NetworkServiceRequest req;
  req.mutable_connection()->set_network_service_endpoint_name("pinned");
  ASSERT_TRUE(chain_->Request(ctx, req).ok());
  EXPECT_EQ(endpoints_->tried, std::vector<std::string>{"pinned"});
  EXPECT_EQ(endpoints_->urls, std::vector<std::string>{"tcp://10.1.1.1:5002"});
}

TEST_F(RoundRobinTest, ClosePassesThrough) {
  Connection conn;
  ASSERT_TRUE(chain_->Close(Context(), conn).ok());
  EXPECT_EQ(endpoints_->closes, 1);
}

}  // namespace
}  // namespace nsm::roundrobin

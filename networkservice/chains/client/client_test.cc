// client chain: slot order, the client's own segment and token headers, refresh with the returned
// connection, bad input.
#include "networkservice/chains/client/client.h"

#include <memory>
#include <string>
#include <vector>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/test/client_context_test_peer.h"
#include "gtest/gtest.h"

namespace nsm::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class Recorder : public NetworkServiceClient {
 public:
  Recorder(std::string name, std::vector<std::string>* log) : name_(std::move(name)), log_(log) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    log_->push_back(name_);
    seen = request.connection();
    grpc::ClientContext cc;
    for (const auto& apply : opts.apply) apply(cc);
    headers = grpc::testing::ClientContextTestPeer(&cc).GetSendInitialMetadata();
    if (!fail.ok()) return fail;
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    log_->push_back("close:" + name_);
    return next.Close(ctx, conn, opts);
  }
  Connection seen;
  Metadata headers;
  absl::Status fail;

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

class ClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<Recorder> Slot(const std::string& name) {
    return std::make_shared<Recorder>(name, &log);
  }
  std::shared_ptr<Client> Make() {
    Options o;
    o.name = "nsc";
    o.refresh = Slot("refresh");
    o.client_url = Slot("clienturl");
    o.heal = Slot("heal");
    o.dial = Slot("dial");
    o.additional = {Slot("extra1"), Slot("extra2")};
    o.authorize = Slot("authorize");
    o.connect = connect;
    auto c = NewClient(NewInsecureTokenGenerator("nsc", absl::Minutes(15), clock), std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
  NetworkServiceRequest Req() {
    NetworkServiceRequest r;
    r.mutable_connection()->set_network_service("my-service");
    *r.add_mechanism_preferences() = connection::Mechanism();
    return r;
  }

  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::vector<std::string> log;
  std::shared_ptr<Recorder> connect = Slot("connect");
};

TEST_F(ClientTest, RequiresATokenGeneratorAndNamesItself) {
  EXPECT_EQ(NewClient(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  auto c = NewClient(NewInsecureTokenGenerator("x"));
  ASSERT_TRUE(c.ok());
  EXPECT_THAT((*c)->name(), StartsWith("client-"));
}

TEST_F(ClientTest, SlotsRunInChainOrderAndConnectGetsTheTokenHeaders) {
  auto c = Make();
  auto req = Req();
  auto conn = c->Request(Context::Background(clock), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT(log, ElementsAre("refresh", "clienturl", "heal", "dial", "extra1", "extra2",
                               "authorize", "connect"));
  ASSERT_EQ(connect->seen.path().path_segments_size(), 1);
  const auto& own = connect->seen.path().path_segments(0);
  EXPECT_EQ(own.name(), "nsc");
  EXPECT_EQ(own.token(), "insecure:nsc");
  EXPECT_EQ(api::FromProtoTimestamp(own.expires()), clock->Now() + absl::Minutes(15));
  EXPECT_EQ(connect->headers.count(api::kTokenMetadataKey), 1u);
  EXPECT_EQ(connect->headers.find(api::kTokenExpiresMetadataKey)->second,
            api::FormatRfc3339Nano(clock->Now() + absl::Minutes(15)));
  EXPECT_EQ(c->connections(), 1u);

  Connection done = *conn;
  ASSERT_TRUE(c->Close(Context::Background(clock), done).ok());
  EXPECT_EQ(log.back(), "close:connect");
  EXPECT_EQ(c->connections(), 0u);
}

TEST_F(ClientTest, RefreshWithTheReturnedConnectionKeepsTheId) {
  auto c = Make();
  auto req = Req();
  auto first = c->Request(Context::Background(clock), req);
  ASSERT_TRUE(first.ok());
  clock->Advance(absl::Minutes(3));
  NetworkServiceRequest again = Req();
  *again.mutable_connection() = *first;
  auto second = c->Request(Context::Background(clock), again);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->id(), first->id());
  EXPECT_EQ(c->connections(), 1u);
  EXPECT_EQ(api::FromProtoTimestamp(connect->seen.path().path_segments(0).expires()),
            clock->Now() + absl::Minutes(15));
}

TEST_F(ClientTest, WithoutConnectTheChainEndsAfterUpdateToken) {
  auto c = NewClient(NewInsecureTokenGenerator("nsc", absl::Minutes(15), clock), {.name = "nsc"});
  ASSERT_TRUE(c.ok());
  auto req = Req();
  auto conn = (*c)->Request(Context::Background(clock), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().path_segments(0).token(), "insecure:nsc");
}

TEST_F(ClientTest, EmptyNetworkServiceIsRejected) {
  auto c = Make();
  NetworkServiceRequest req;
  auto conn = c->Request(Context::Background(clock), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(), "connection.network_service is empty");
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(c->connections(), 0u);
}

TEST_F(ClientTest, FailedRequestLeavesNoConnection) {
  auto c = Make();
  connect->fail = absl::UnavailableError("nsmgr unreachable");
  auto req = Req();
  auto conn = c->Request(Context::Background(clock), req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c->connections(), 0u);
}

}  // namespace
}  // namespace nsm::client

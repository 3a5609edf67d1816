// monitor server element in-process: UPDATE on Request, DOWN on a failed refresh, nothing for a
// failed first Request, DELETE on Close (also when the rest of the chain fails to close).
#include "networkservice/monitor/server.h"

#include "gtest/gtest.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::monitor {
namespace {

using ::connection::ConnectionEventType;

// The rest of the hop: may fail, sees the store in the context.
class Rest : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    saw_store = ctx.Value(kStoreKey) != nullptr;
    if (!fail.ok()) return fail;
    (*request.mutable_connection()->mutable_labels())["seen"] = "yes";
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    if (!close_fail.ok()) return close_fail;
    return next.Close(ctx, conn);
  }
  absl::Status fail;
  absl::Status close_fail;
  bool saw_store = false;
};

class MonitorServerTest : public ::testing::Test {
 protected:
  absl::StatusOr<Connection> Request(const std::string& id) {
    NetworkServiceRequest req;
    req.mutable_connection()->set_id(id);
    req.mutable_connection()->set_network_service("svc");
    auto* seg = req.mutable_connection()->mutable_path()->add_path_segments();
    seg->set_name("nsmgr");
    seg->set_id(id);
    return chain_->Request(Context(), req);
  }
  std::shared_ptr<ConnectionStore> store_ = ConnectionStore::Create();
  std::shared_ptr<Rest> rest_ = std::make_shared<Rest>();
  std::shared_ptr<ServerChain> chain_ =
      MakeServerChain({metadata::NewServer(), NewServer(store_), rest_});
  std::shared_ptr<Subscription> sub_ = store_->Subscribe({});
};

TEST_F(MonitorServerTest, RequestPublishesTheReturnedConnection) {
  ASSERT_EQ(sub_->Pop()->type(), ConnectionEventType::INITIAL_STATE_TRANSFER);
  auto conn = Request("m-1");
  ASSERT_TRUE(conn.ok());
  EXPECT_TRUE(rest_->saw_store);
  auto e = sub_->Pop();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), ConnectionEventType::UPDATE);
  EXPECT_EQ(e->connections().at("m-1").labels().at("seen"), "yes");
  EXPECT_EQ(store_->size(), 1u);
}

TEST_F(MonitorServerTest, FailedFirstRequestPublishesNothing) {
  sub_->Pop();
  rest_->fail = absl::UnavailableError("no forwarder");
  EXPECT_FALSE(Request("m-1").ok());
  EXPECT_FALSE(sub_->Pop());
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(MonitorServerTest, FailedRefreshPublishesDown) {
  sub_->Pop();
  ASSERT_TRUE(Request("m-1").ok());
  sub_->Pop();
  rest_->fail = absl::DeadlineExceededError("forwarder did not answer");
  EXPECT_FALSE(Request("m-1").ok());
  auto e = sub_->Pop();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), ConnectionEventType::UPDATE);
  EXPECT_EQ(e->connections().at("m-1").state(), ::connection::State::DOWN);

  rest_->fail = absl::OkStatus();  // a later successful refresh is UP again
  ASSERT_TRUE(Request("m-1").ok());
  EXPECT_EQ(sub_->Pop()->connections().at("m-1").state(), ::connection::State::UP);
}

TEST_F(MonitorServerTest, ClosePublishesDeleteEvenWhenTheRestFails) {
  sub_->Pop();
  auto conn = Request("m-1");
  ASSERT_TRUE(conn.ok());
  sub_->Pop();
  rest_->close_fail = absl::UnavailableError("forwarder gone");
  absl::Status s = chain_->Close(Context(), *conn);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  auto e = sub_->Pop();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type(), ConnectionEventType::DELETE);
  EXPECT_EQ(store_->size(), 0u);
}

TEST_F(MonitorServerTest, ASuccessfulReselectIsPublishedAndReturnedUp) {
  ASSERT_EQ(sub_->Pop()->type(), ConnectionEventType::INITIAL_STATE_TRANSFER);
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("m-1");
  req.mutable_connection()->set_state(::connection::State::RESELECT_REQUESTED);
  req.mutable_connection()->mutable_path()->add_path_segments()->set_id("m-1");
  auto conn = chain_->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->state(), ::connection::State::UP);
  auto e = sub_->Pop();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->connections().at("m-1").state(), ::connection::State::UP);
}

}  // namespace
}  // namespace nsm::monitor

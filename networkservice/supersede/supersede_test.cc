// supersede behind begin: a second connection id for the same client connection closes the first
// through begin; refreshes, other clients and Closes leave nothing behind and close nothing else.
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "networkservice/begin/server.h"
#include "networkservice/supersede/server.h"

namespace nsm::supersede {
namespace {

// The end of the chain: records the ids it sees closed.
class Tail : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    {
      absl::MutexLock lock(&mu_);
      closed_.push_back(conn.id());
    }
    return next.Close(ctx, conn);
  }
  std::vector<std::string> closed() {
    absl::MutexLock lock(&mu_);
    return closed_;
  }
  // Bounded real-time wait for asynchronous Closes.
  std::vector<std::string> WaitClosed(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return closed_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> closed_ ABSL_GUARDED_BY(mu_);
};

// A request reaching this hop (the last segment) from client connection `client_id` through
// the hops named in `middle`.
NetworkServiceRequest At(const std::string& client_id, const std::vector<std::string>& middle,
                         const std::string& own_id) {
  NetworkServiceRequest r;
  auto* conn = r.mutable_connection();
  conn->set_id(own_id);
  conn->set_network_service("svc");
  auto* path = conn->mutable_path();
  auto* first = path->add_path_segments();
  first->set_name("nsc");
  first->set_id(client_id);
  for (const auto& hop : middle) path->add_path_segments()->set_name(hop);
  auto* own = path->add_path_segments();
  own->set_name("nse");
  own->set_id(own_id);
  path->set_index(static_cast<uint32_t>(path->path_segments_size() - 1));
  return r;
}

class SupersedeTest : public ::testing::Test {
 protected:
  absl::StatusOr<Connection> Request(NetworkServiceRequest r) { return chain_->Request(ctx_, r); }
  absl::Status Close(Connection c) { return chain_->Close(ctx_, c); }

  Context ctx_;
  std::shared_ptr<Server> supersede_ = NewServer();
  std::shared_ptr<Tail> tail_ = std::make_shared<Tail>();
  std::shared_ptr<ServerChain> chain_ =
      std::make_shared<ServerChain>(ServerChain::Elements{begin::NewServer(), supersede_, tail_});
};

TEST_F(SupersedeTest, ANewIdForTheSameClientConnectionClosesTheOldOne) {
  ASSERT_TRUE(Request(At("c1", {"nsmgr", "fwd-a"}, "n1")).ok());
  ASSERT_TRUE(Request(At("c1", {"nsmgr", "fwd-b"}, "n2")).ok());
  EXPECT_EQ(tail_->WaitClosed(1), std::vector<std::string>{"n1"});
  EXPECT_EQ(supersede_->superseded(), 1u);
  EXPECT_EQ(supersede_->size(), 1u);

  ASSERT_TRUE(Close(*Request(At("c1", {"nsmgr", "fwd-b"}, "n2"))).ok());
  EXPECT_EQ(tail_->WaitClosed(2), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(supersede_->size(), 0u);
}

TEST_F(SupersedeTest, RefreshesAndOtherClientsCloseNothing) {
  ASSERT_TRUE(Request(At("c1", {"nsmgr", "fwd-a"}, "n1")).ok());
  ASSERT_TRUE(Request(At("c1", {"nsmgr", "fwd-a"}, "n1")).ok());  // refresh
  ASSERT_TRUE(Request(At("c2", {"nsmgr", "fwd-a"}, "n2")).ok());  // another client connection
  EXPECT_TRUE(tail_->closed().empty());
  EXPECT_EQ(supersede_->superseded(), 0u);
  EXPECT_EQ(supersede_->size(), 2u);
}

TEST_F(SupersedeTest, ClosedConnectionsAreForgotten) {
  auto first = Request(At("c1", {"nsmgr", "fwd-a"}, "n1"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Close(*first).ok());
  EXPECT_EQ(supersede_->size(), 0u);
  // The same client connection comes back under a new id: nothing is left to close.
  ASSERT_TRUE(Request(At("c1", {"nsmgr", "fwd-b"}, "n2")).ok());
  EXPECT_EQ(tail_->closed(), std::vector<std::string>{"n1"});
  EXPECT_EQ(supersede_->superseded(), 0u);
}

TEST_F(SupersedeTest, AClientAtThisHopIsLeftAlone) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id("n1");
  auto* seg = r.mutable_connection()->mutable_path()->add_path_segments();
  seg->set_name("nse");
  seg->set_id("n1");
  ASSERT_TRUE(Request(r).ok());
  EXPECT_EQ(supersede_->size(), 0u);
}

}  // namespace
}  // namespace nsm::supersede

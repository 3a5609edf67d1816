// clienturl server and client: the fixed URL reaches the rest of the chain on Request and Close.
#include "gtest/gtest.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/clienturl/server.h"

namespace nsm::clienturl {
namespace {

// Records the client URL it sees.
class SeeUrl : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    Record(ctx);
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    Record(ctx);
    return next.Close(ctx, conn);
  }
  void Record(const Context& ctx) {
    auto url = FromContext(ctx);
    seen.push_back(url ? url->ToString() : "<none>");
  }
  std::vector<std::string> seen;
};

api::NsmUrl Url(const std::string& s) { return *api::ParseNsmUrl(s); }

TEST(ClientUrlTest, ServerPutsTheUrlIntoTheContext) {
  auto see = std::make_shared<SeeUrl>();
  ServerChain chain({NewServer(Url("unix:///var/lib/nsm/nsm.io.sock")), see});
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("c1");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(see->seen, (std::vector<std::string>{"unix:///var/lib/nsm/nsm.io.sock",
                                                 "unix:///var/lib/nsm/nsm.io.sock"}));
}

TEST(ClientUrlTest, ClientPutsTheUrlIntoTheContext) {
  auto see = std::make_shared<SeeUrl>();
  ClientChain chain({NewClient(Url("tcp://10.0.0.1:5001")), ServerToClient(see)});
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("c1");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(see->seen, (std::vector<std::string>{"tcp://10.0.0.1:5001", "tcp://10.0.0.1:5001"}));
}

TEST(ClientUrlTest, NoUrlWithoutTheElement) {
  auto see = std::make_shared<SeeUrl>();
  ServerChain chain({see});
  NetworkServiceRequest req;
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  EXPECT_EQ(see->seen, std::vector<std::string>{"<none>"});
}

}  // namespace
}  // namespace nsm::clienturl

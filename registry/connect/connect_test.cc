// connect: one client per URL shared by registrations and Finds and released with them; a name
// moving to another URL releases the old client; no URL is FAILED_PRECONDITION.
#include "registry/connect/connect.h"

#include "gtest/gtest.h"
#include "registry/clienturl/clienturl.h"

namespace nsm::reg::connect {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

class FakeClient : public NSERegistryClient {
 public:
  explicit FakeClient(std::string url) : url_(std::move(url)) {}
  absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&, const CallOptions&) override {
    if (nse.name() == "refused") return absl::PermissionDeniedError("refused");
    nse.set_url(url_);
    return nse;
  }
  absl::Status Find(const Context&, const NSEQuery&, const Stream& s, const Next&,
                    const CallOptions&) override {
    NSEResponse r;
    r.mutable_network_service_endpoint()->set_url(url_);
    return s->Send(r);
  }
  absl::Status Unregister(const Context&, NSE&, const Next&, const CallOptions&) override {
    return absl::OkStatus();
  }

 private:
  std::string url_;
};

class ConnectTest : public ::testing::Test {
 protected:
  absl::StatusOr<NSE> Register(const std::string& name, const std::string& url) {
    NSE nse;
    nse.set_name(name);
    return server_->Register(clienturl::WithClientUrl(Context(), url), nse, {});
  }
  absl::Status Unregister(const std::string& name, const std::string& url) {
    NSE nse;
    nse.set_name(name);
    return server_->Unregister(clienturl::WithClientUrl(Context(), url), nse, {});
  }

  int created_ = 0;
  std::shared_ptr<NSEServer> server_ = NewNSEServer(
      [this](const std::string& url) -> absl::StatusOr<std::shared_ptr<NSERegistryClient>> {
        ++created_;
        return std::make_shared<FakeClient>(url);
      });
};

TEST_F(ConnectTest, OneClientPerUrlWhileRegistrationsLive) {
  EXPECT_EQ(Register("a", "tcp://r1:1")->url(), "tcp://r1:1");
  EXPECT_EQ(Register("b", "tcp://r1:1")->url(), "tcp://r1:1");
  EXPECT_EQ(created_, 1);
  EXPECT_EQ(server_->clients(), 1u);
  EXPECT_EQ(server_->registrations(), 2u);
  ASSERT_TRUE(Unregister("a", "tcp://r1:1").ok());
  EXPECT_EQ(server_->clients(), 1u);
  ASSERT_TRUE(Unregister("b", "tcp://r1:1").ok());
  EXPECT_EQ(server_->clients(), 0u) << "released with the last registration";
  EXPECT_EQ(server_->registrations(), 0u);
}

TEST_F(ConnectTest, ReRegistrationThroughAnotherUrlMovesTheName) {
  ASSERT_TRUE(Register("a", "tcp://r1:1").ok());
  ASSERT_TRUE(Register("a", "tcp://r2:1").ok());
  EXPECT_EQ(created_, 2);
  EXPECT_EQ(server_->clients(), 1u) << "the client of r1 is released";
  EXPECT_EQ(server_->registrations(), 1u);
}

TEST_F(ConnectTest, FailedFirstRegistrationKeepsNothing) {
  EXPECT_EQ(Register("refused", "tcp://r1:1").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_EQ(server_->registrations(), 0u);
}

TEST_F(ConnectTest, FindUsesTheClientOfTheUrl) {
  auto s = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(
      server_->Find(clienturl::WithClientUrl(Context(), "tcp://r3:1"), NSEQuery(), s, {}).ok());
  auto got = s->Drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].network_service_endpoint().url(), "tcp://r3:1");
  EXPECT_EQ(server_->clients(), 0u) << "a finished Find releases its client";
}

TEST_F(ConnectTest, NoUrlIsFailedPrecondition) {
  NSE nse;
  nse.set_name("a");
  auto r = server_->Register(Context(), nse, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("\"a\""), std::string::npos) << r.status();
  auto s = BufferedFindStream<NSEResponse>::Create(Context());
  EXPECT_EQ(server_->Find(Context(), NSEQuery(), s, {}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_->Unregister(Context(), nse, {}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConnectTest, BadUrlIsInvalidArgument) {
  auto channels = std::make_shared<transport::ChannelPool>(MakeInsecureCredentials());
  auto server = NewNSEServer(GrpcClientFactory<NSETraits>(channels));
  NSE nse;
  nse.set_name("a");
  auto r = server->Register(clienturl::WithClientUrl(Context(), "ftp://x"), nse, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nsm::reg::connect

#include "core/grpc_server.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/grpc_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

using ::testing::HasSubstr;

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-grpc-server-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The grpc.health.v1 status of `service` at `target`, or "error: ...".
  static std::string Health(const std::string& target, const std::string& service) {
    auto status =
        CheckHealth(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()), service);
    return status.ok() ? *status : "error: " + std::string(status.status().message());
  }

  std::string dir_;
  NetworkServiceGrpcServer service_{MakeServerChain({})};
  std::vector<grpc::Service*> services_{&service_};
};

TEST_F(GrpcServerTest, ListensOnUnixAndTcpAndReportsHealth) {
  const std::string sock = dir_ + "/sub/dir/s.sock";
  auto server =
      GrpcServer::Start(services_, {.listen_on = {"unix://" + sock, "tcp://127.0.0.1:0"},
                                    .credentials = MakeInsecureCredentials(),
                                    .health_services = {"networkservice.NetworkService"}});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_EQ((*server)->urls().size(), 2u);
  EXPECT_EQ((*server)->urls()[0], "unix://" + sock);
  EXPECT_THAT((*server)->urls()[1], ::testing::StartsWith("tcp://127.0.0.1:"));
  EXPECT_NE((*server)->urls()[1], "tcp://127.0.0.1:0");
  EXPECT_TRUE(std::filesystem::exists(sock));

  EXPECT_EQ(Health("unix://" + sock, ""), "SERVING");
  EXPECT_EQ(Health("unix://" + sock, "networkservice.NetworkService"), "SERVING");
  EXPECT_EQ(Health((*server)->urls()[1].substr(6), "networkservice.NetworkService"), "SERVING");
  EXPECT_THAT(Health("unix://" + sock, "other.Service"), HasSubstr("error"));

  (*server)->Shutdown(absl::ZeroDuration());
  EXPECT_FALSE(std::filesystem::exists(sock));
  (*server)->Shutdown();  // idempotent
}

TEST_F(GrpcServerTest, ShutdownRunsTheHookAfterHealthWentDown) {
  const std::string sock = dir_ + "/s.sock";
  std::string seen;
  auto server =
      GrpcServer::Start(services_, {.listen_on = {"unix://" + sock},
                                    .credentials = MakeInsecureCredentials(),
                                    .on_shutdown = [&] { seen = Health("unix://" + sock, ""); }});
  ASSERT_TRUE(server.ok()) << server.status();
  server->reset();
  EXPECT_EQ(seen, "NOT_SERVING");
}

TEST_F(GrpcServerTest, StaleSocketFileIsReplaced) {
  const std::string sock = dir_ + "/s.sock";
  { std::ofstream(sock) << "stale"; }
  auto server = GrpcServer::Start(
      services_, {.listen_on = {"unix://" + sock}, .credentials = MakeInsecureCredentials()});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(Health("unix://" + sock, ""), "SERVING");
}

TEST_F(GrpcServerTest, BadInput) {
  auto no_creds = GrpcServer::Start(services_, {.listen_on = {"unix://" + dir_ + "/a.sock"}});
  EXPECT_EQ(no_creds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_creds.status().message(), HasSubstr("no credentials"));

  auto no_url = GrpcServer::Start(services_, {.credentials = MakeInsecureCredentials()});
  EXPECT_EQ(no_url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_url.status().message(), HasSubstr("no URL"));

  auto bad_url = GrpcServer::Start(
      services_, {.listen_on = {"http://x:1"}, .credentials = MakeInsecureCredentials()});
  EXPECT_EQ(bad_url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_url.status().message(), HasSubstr("http://x:1"));

  auto no_service = GrpcServer::Start(
      {}, {.listen_on = {"unix://" + dir_ + "/a.sock"}, .credentials = MakeInsecureCredentials()});
  EXPECT_EQ(no_service.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_service.status().message(), HasSubstr("no service"));

  auto first = GrpcServer::Start(
      services_, {.listen_on = {"tcp://127.0.0.1:0"}, .credentials = MakeInsecureCredentials()});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = (*first)->urls()[0];
  auto second = GrpcServer::Start(services_,
                                  {.listen_on = {taken}, .credentials = MakeInsecureCredentials()});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(taken));
}

}  // namespace
}  // namespace nsm

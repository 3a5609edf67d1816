// Tests of the log element: one debug line per Request/Close with id, service, hops, outcome,
// duration; nothing when debug is off; never a token (issue #8 Logs).
#include "networkservice/log/log.h"

#include <string>
#include <vector>

#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace nsm::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Takes 5ms on the fake clock, appends its own path segment (with a token), fails if told to.
class Hop : public NetworkServiceServer, public NetworkServiceClient {
 public:
  Hop(std::shared_ptr<FakeClock> clock, absl::Status result)
      : clock_(std::move(clock)), result_(std::move(result)) {}
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                     const ServerNext&) override {
    return Do(request);
  }
  absl::Status Close(const Context&, Connection&, const ServerNext&) override {
    clock_->Advance(absl::Milliseconds(5));
    return result_;
  }
  absl::StatusOr<Connection> Request(const Context&, NetworkServiceRequest& request,
                                     const ClientNext&, const CallOptions&) override {
    return Do(request);
  }
  absl::Status Close(const Context&, Connection&, const ClientNext&, const CallOptions&) override {
    clock_->Advance(absl::Milliseconds(5));
    return result_;
  }

 private:
  absl::StatusOr<Connection> Do(NetworkServiceRequest& request) {
    clock_->Advance(absl::Milliseconds(5));
    if (!result_.ok()) return result_;
    Connection conn = request.connection();
    auto* s = conn.mutable_path()->add_path_segments();
    s->set_name("nse-1");
    s->set_token("SECRET-nse");
    conn.set_network_service_endpoint_name("nse-1");
    return conn;
  }
  std::shared_ptr<FakeClock> clock_;
  absl::Status result_;
};

struct Fixture {
  std::shared_ptr<FakeClock> clock = FakeClock::Create();
  std::vector<std::string> lines;
  log::Logger logger{[this](absl::string_view l) { lines.emplace_back(l); }, clock};

  Fixture() {
    logger.SetLevel(log::Level::kDebug);
    logger.SetFormat(log::Format::kJson);
  }
  Options options() { return {.component = "nsmgr-1", .logger = &logger, .clock = clock}; }
  NetworkServiceRequest MakeRequest() {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id("conn-1");
    r.mutable_connection()->set_network_service("icmp");
    for (const char* name : {"nsc", "nsmgr-1"}) {
      auto* s = r.mutable_connection()->mutable_path()->add_path_segments();
      s->set_name(name);
      s->set_token(std::string("SECRET-") + name);
    }
    return r;
  }
};

TEST(LogElementTest, ServerRequestAndCloseLines) {
  Fixture f;
  ServerChain chain({NewServer(f.options()), std::make_shared<Hop>(f.clock, absl::OkStatus())});
  auto request = f.MakeRequest();
  auto conn = chain.Request(Context(), request);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  ASSERT_EQ(f.lines.size(), 2u);
  for (const auto& line : f.lines) EXPECT_THAT(line, Not(HasSubstr("SECRET")));
  auto j = nlohmann::json::parse(f.lines[0]);
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["component"], "nsmgr-1");
  EXPECT_EQ(j["msg"], "request");
  EXPECT_EQ(j["id"], "conn-1");
  EXPECT_EQ(j["service"], "icmp");
  EXPECT_EQ(j["path"], "nsc>nsmgr-1>nse-1");
  EXPECT_EQ(j["endpoint"], "nse-1");
  EXPECT_EQ(j["outcome"], "ok");
  EXPECT_EQ(j["duration"], "5ms");
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(nlohmann::json::parse(f.lines[1])["msg"], "close");
}

TEST(LogElementTest, FailureHasTheCodeAndMessage) {
  Fixture f;
  f.logger.SetFormat(log::Format::kText);
  ServerChain chain({NewServer(f.options()),
                     std::make_shared<Hop>(f.clock, absl::UnavailableError("no forwarder"))});
  auto request = f.MakeRequest();
  EXPECT_FALSE(chain.Request(Context(), request).ok());
  ASSERT_EQ(f.lines.size(), 1u);
  EXPECT_THAT(f.lines[0], HasSubstr("[DEBUG] nsmgr-1: request id=conn-1 service=icmp "
                                    "path=nsc>nsmgr-1 outcome=UNAVAILABLE "
                                    "error=\"no forwarder\" duration=5ms"));
  EXPECT_THAT(f.lines[0], Not(HasSubstr("SECRET")));
}

TEST(LogElementTest, ClientLines) {
  Fixture f;
  ClientChain chain({NewClient(f.options()), std::make_shared<Hop>(f.clock, absl::OkStatus())});
  auto request = f.MakeRequest();
  auto conn = chain.Request(Context(), request);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  ASSERT_EQ(f.lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(f.lines[1])["msg"], "close");
}

TEST(LogElementTest, NothingAndNoClockReadWhenDebugIsOff) {
  Fixture f;
  f.logger.SetLevel(log::Level::kInfo);
  ServerChain chain({NewServer(f.options()), std::make_shared<Hop>(f.clock, absl::OkStatus())});
  auto request = f.MakeRequest();
  auto conn = chain.Request(Context(), request);
  ASSERT_TRUE(conn.ok());
  EXPECT_TRUE(f.lines.empty());
  f.logger.RaiseLevel();
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(f.lines.size(), 1u) << "the level is read on every call";
}

}  // namespace
}  // namespace nsm::logging

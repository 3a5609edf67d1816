// mechanisms: selection by preference order, an already set mechanism, downstream failures trying
// the next candidate, every error message, Close dispatch, handlers continuing into next.
#include "api/mechanisms.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/arena.h"
#include "gtest/gtest.h"
#include "networkservice/mechanisms/server.h"

namespace nsm::mechanisms {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A mechanism implementation: sets a parameter, records calls, can fail without calling next.
class Handler : public NetworkServiceServer {
 public:
  explicit Handler(std::string name, std::vector<std::string>* log) : name_(name), log_(log) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    log_->push_back("R:" + name_);
    seen_service = request.connection().network_service();
    seen_arena = request.GetArena();
    if (!fail.ok()) {
      if (scribble) request.mutable_connection()->set_network_service("scribbled by " + name_);
      return fail;
    }
    (*request.mutable_connection()->mutable_mechanism()->mutable_parameters())["by"] = name_;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    log_->push_back("C:" + name_);
    return next.Close(ctx, conn);
  }
  absl::Status fail;
  bool scribble = false;  // a failing attempt changes the request before it fails
  std::string seen_service;
  google::protobuf::Arena* seen_arena = nullptr;

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

class Next : public NetworkServiceServer {
 public:
  explicit Next(std::vector<std::string>* log) : log_(log) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    log_->push_back("next");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    log_->push_back("next-close");
    if (!fail_close.ok()) return fail_close;
    return next.Close(ctx, conn);
  }
  absl::Status fail_close;

 private:
  std::vector<std::string>* log_;
};

class MechanismsTest : public ::testing::Test {
 protected:
  std::vector<std::string> log;
  std::shared_ptr<Handler> kernel = std::make_shared<Handler>("kernel", &log);
  std::shared_ptr<Handler> memif = std::make_shared<Handler>("memif", &log);
  std::shared_ptr<Next> tail = std::make_shared<Next>(&log);
  std::shared_ptr<ServerChain> chain = MakeServerChain(
      {NewServer({{api::mech::kernel::kType, kernel}, {api::mech::memif::kType, memif}}), tail});

  NetworkServiceRequest Req(std::vector<std::string> types) {
    NetworkServiceRequest r;
    r.mutable_connection()->set_id("id");
    for (const auto& t : types)
      *r.add_mechanism_preferences() = api::mech::MakeMechanism("LOCAL", t);
    return r;
  }
};

TEST_F(MechanismsTest, FirstSupportedPreferenceWins) {
  auto req = Req({"VFIO", "MEMIF", "KERNEL"});
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), "MEMIF");
  EXPECT_EQ(conn->mechanism().parameters().at("by"), "memif");
  EXPECT_THAT(log, ElementsAre("R:memif", "next"));
  EXPECT_FALSE(req.connection().has_mechanism());  // the caller's request is not rewritten
}

TEST_F(MechanismsTest, FailedCandidateFallsThroughToTheNext) {
  memif->fail = absl::ResourceExhaustedError("no memif sockets left");
  auto req = Req({"MEMIF", "KERNEL"});
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), "KERNEL");
  EXPECT_THAT(log, ElementsAre("R:memif", "R:kernel", "next"));
}

// A request on an arena (as gRPC parses it): an attempt before the last works on a copy on the
// same arena, so what a failed attempt changed is gone for the next one.
TEST_F(MechanismsTest, AFailedAttemptOnAnArenaLeavesTheNextOneTheRequestAsItCame) {
  google::protobuf::Arena arena;
  auto* req = google::protobuf::Arena::CreateMessage<NetworkServiceRequest>(&arena);
  *req = Req({"MEMIF", "KERNEL"});
  req->mutable_connection()->set_network_service("ns");
  memif->fail = absl::ResourceExhaustedError("no memif sockets left");
  memif->scribble = true;
  auto conn = chain->Request(Context(), *req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), "KERNEL");
  EXPECT_EQ(memif->seen_arena, &arena);
  EXPECT_EQ(kernel->seen_service, "ns");
  EXPECT_EQ(conn->network_service(), "ns");
  EXPECT_THAT(log, ElementsAre("R:memif", "R:kernel", "next"));
}

TEST_F(MechanismsTest, AllCandidatesFailedNamesEachError) {
  memif->fail = absl::ResourceExhaustedError("no memif sockets left");
  kernel->fail = absl::UnavailableError("netns gone");
  auto req = Req({"MEMIF", "VXLAN", "KERNEL"});
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "cannot support any of the requested mechanism: MEMIF: no memif sockets left; KERNEL: "
            "netns gone (offered [MEMIF, VXLAN, KERNEL], supported [KERNEL, MEMIF])");
  // The caller's request as it came: no mechanism chosen, every preference kept.
  EXPECT_FALSE(req.connection().has_mechanism());
  EXPECT_EQ(req.mechanism_preferences_size(), 3);
}

TEST_F(MechanismsTest, NothingSupportedListsOfferedAndSupported) {
  auto req = Req({"VXLAN", "WIREGUARD"});
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "cannot support any of the requested mechanism: offered [VXLAN, WIREGUARD], "
            "supported [KERNEL, MEMIF]");
  EXPECT_TRUE(log.empty());
}

TEST_F(MechanismsTest, NoPreferencesIsAnError) {
  auto req = Req({});
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "cannot support any of the requested mechanism: request.mechanism_preferences is "
            "empty; supported [KERNEL, MEMIF]");
}

TEST_F(MechanismsTest, RefreshKeepsTheSetMechanism) {
  auto req = Req({"MEMIF", "KERNEL"});
  *req.mutable_connection()->mutable_mechanism() = api::mech::MakeKernel();
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->mechanism().type(), "KERNEL");
  EXPECT_THAT(log, ElementsAre("R:kernel", "next"));
}

TEST_F(MechanismsTest, SetMechanismMustBeSupported) {
  auto req = Req({"KERNEL"});
  *req.mutable_connection()->mutable_mechanism() = api::mech::MakeMechanism("REMOTE", "VXLAN");
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "unsupported mechanism: connection.mechanism.type \"VXLAN\" is not one of the "
            "supported [KERNEL, MEMIF]");
  EXPECT_TRUE(log.empty());
}

TEST_F(MechanismsTest, CloseDispatchesOnTheMechanismType) {
  Connection c;
  *c.mutable_mechanism() = api::mech::MakeMemifFilesystem("/run/memif.sock");
  ASSERT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_THAT(log, ElementsAre("C:memif", "next-close"));
}

TEST_F(MechanismsTest, CloseWithoutMechanismGoesToNext) {
  Connection c;
  ASSERT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_THAT(log, ElementsAre("next-close"));
}

TEST_F(MechanismsTest, CloseWithUnknownTypeStillClosesNext) {
  Connection c;
  *c.mutable_mechanism() = api::mech::MakeMechanism("REMOTE", "VXLAN");
  absl::Status s = chain->Close(Context(), c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unsupported mechanism"));
  EXPECT_THAT(log, ElementsAre("next-close"));

  tail->fail_close = absl::UnavailableError("gone");
  s = chain->Close(Context(), c);
  EXPECT_THAT(std::string(s.message()), HasSubstr("; downstream close: gone"));
}

TEST(MechanismsChainTest, HandlerChainsNestIntoTheOuterNext) {
  std::vector<std::string> log;
  auto inner =
      MakeServerChain({std::make_shared<Handler>("a", &log), std::make_shared<Handler>("b", &log)});
  auto chain = MakeServerChain({NewServer({{"KERNEL", inner}}), std::make_shared<Next>(&log)});
  NetworkServiceRequest req;
  *req.add_mechanism_preferences() = api::mech::MakeKernel();
  ASSERT_TRUE(chain->Request(Context(), req).ok());
  EXPECT_THAT(log, ElementsAre("R:a", "R:b", "next"));
}

}  // namespace
}  // namespace nsm::mechanisms

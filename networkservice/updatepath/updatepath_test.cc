// updatepath: the §5.1 cases (new path, own segment, moving forward, stale tail, reuse of the next
// segment), both error messages, the caller's frame on return, Close, and bad downstream answers.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/updatepath/client.h"
#include "networkservice/updatepath/common.h"
#include "networkservice/updatepath/server.h"

namespace nsm::updatepath {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kNse1[] = "nse-1";
constexpr char kNse2[] = "nse-2";
constexpr char kNse3[] = "nse-3";
constexpr char kId1[] = "36ce7f0c-9f6d-40a4-8b39-6b56ff07eea9";
constexpr char kId2[] = "ece490ea-dfe8-4512-a3ca-5be7b39515c5";
constexpr char kId3[] = "f9a83e55-0a4f-3647-144a-98a9ee8fb231";
constexpr char kConnId[] = "54ec76a7-d642-43ca-87bc-ab51765f575a";

connection::Path MakePath(uint32_t index, int segments) {
  connection::Path p;
  p.set_index(index);
  const char* names[] = {kNse1, kNse2, kNse3};
  const char* ids[] = {kId1, kId2, kId3};
  for (int i = 0; i < segments; ++i) {
    auto* s = p.add_path_segments();
    s->set_name(names[i]);
    s->set_id(ids[i]);
  }
  return p;
}

NetworkServiceRequest Req(const std::string& id, std::optional<connection::Path> path) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  r.mutable_connection()->set_network_service("ns");
  if (path) *r.mutable_connection()->mutable_path() = *path;
  return r;
}

// Records what the rest of the chain saw; optionally rewrites what it returns or fails.
class Probe : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    seen = request.connection();
    ++requests;
    if (fail) return absl::UnavailableError("downstream unavailable");
    auto conn = next.Request(ctx, request);
    if (conn.ok() && mangle) mangle(*conn);
    return conn;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    closed = conn;
    ++closes;
    return next.Close(ctx, conn);
  }
  Connection seen;
  Connection closed;
  int requests = 0;
  int closes = 0;
  bool fail = false;
  std::function<void(Connection&)> mangle;
};

// Runs every case against the server and against the client behind ClientToServer.
class UpdatePathTest : public ::testing::TestWithParam<bool> {
 protected:
  std::shared_ptr<NetworkServiceServer> Element(const std::string& name) {
    if (GetParam()) return ClientToServer(NewClient(name));
    return NewServer(name);
  }
  std::shared_ptr<ServerChain> Chain(const std::string& name) {
    return MakeServerChain({Element(name), probe});
  }
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
};

TEST_P(UpdatePathTest, NoPathNoIdCreatesTheFirstSegment) {
  auto chain = Chain(kNse1);
  auto req = Req("", std::nullopt);
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 1);
  EXPECT_EQ(conn->path().index(), 0u);
  EXPECT_EQ(conn->path().path_segments(0).name(), kNse1);
  EXPECT_THAT(conn->id(), MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                       "[0-9a-f]{12}"));
  EXPECT_EQ(conn->id(), conn->path().path_segments(0).id());
  EXPECT_EQ(probe->seen.id(), conn->id());
}

TEST_P(UpdatePathTest, NoPathKeepsTheGivenId) {
  auto chain = Chain(kNse1);
  auto req = Req(kConnId, std::nullopt);
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 1);
  EXPECT_EQ(conn->path().path_segments(0).id(), kConnId);
  EXPECT_EQ(conn->id(), kConnId);
}

TEST_P(UpdatePathTest, EmptyPathWithStrayIndexStartsAtZero) {
  auto chain = Chain(kNse1);
  connection::Path p;
  p.set_index(7);
  auto req = Req(kConnId, p);
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().index(), 0u);
  EXPECT_EQ(conn->path().path_segments_size(), 1);
}

TEST_P(UpdatePathTest, OwnSegmentTakesItsId) {
  auto chain = Chain(kNse2);
  auto req = Req(kConnId, MakePath(1, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->path().SerializeAsString(), MakePath(1, 2).SerializeAsString());
  EXPECT_EQ(conn->id(), kId2);
  EXPECT_EQ(probe->seen.id(), kId2);
}

TEST_P(UpdatePathTest, IdMismatchIsRejectedWithTheSpecMessage) {
  auto chain = Chain(kNse3);
  auto req = Req(kConnId, MakePath(1, 2));
  const Connection before = req.connection();
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(), absl::StrCat("Current PathSegment.Id==", kId2,
                                                  " should be equal Connection.Id==", kConnId));
  EXPECT_EQ(probe->requests, 0);
  EXPECT_EQ(req.connection().SerializeAsString(), before.SerializeAsString());
}

TEST_P(UpdatePathTest, IndexOutOfRangeIsRejectedWithTheSpecMessage) {
  auto chain = Chain(kNse3);
  auto req = Req(kId2, MakePath(3, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(),
            "Path.Index+1==4 should be less or equal len(Path.PathSegments)==2");
  EXPECT_EQ(probe->requests, 0);
}

TEST_P(UpdatePathTest, IndexEqualToLengthIsRejected) {
  auto chain = Chain(kNse3);
  auto req = Req(kId2, MakePath(2, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().message(),
            "Path.Index+1==3 should be less or equal len(Path.PathSegments)==2");
}

TEST_P(UpdatePathTest, StaleNextSegmentIsRenamedWithAFreshId) {
  auto chain = Chain(kNse3);
  auto path = MakePath(1, 3);
  path.mutable_path_segments(2)->set_name("different");
  auto req = Req(kId2, path);
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  // Downstream saw our frame: index 2, our segment renamed with a new id.
  EXPECT_EQ(probe->seen.path().index(), 2u);
  EXPECT_EQ(probe->seen.path().path_segments(2).name(), kNse3);
  EXPECT_NE(probe->seen.id(), kId3);
  EXPECT_NE(probe->seen.id(), kId2);
  EXPECT_EQ(probe->seen.id(), probe->seen.path().path_segments(2).id());
  // The caller gets its own frame back.
  EXPECT_EQ(conn->path().index(), 1u);
  EXPECT_EQ(conn->id(), kId2);
  EXPECT_EQ(conn->path().path_segments(2).id(), probe->seen.id());
}

TEST_P(UpdatePathTest, NoNextSegmentAppendsOne) {
  auto chain = Chain(kNse3);
  auto req = Req(kId2, MakePath(1, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(probe->seen.path().path_segments_size(), 3);
  EXPECT_EQ(probe->seen.path().index(), 2u);
  EXPECT_EQ(probe->seen.path().path_segments(2).name(), kNse3);
  EXPECT_EQ(probe->seen.id(), probe->seen.path().path_segments(2).id());
  EXPECT_NE(probe->seen.id(), kId2);
  EXPECT_EQ(conn->path().index(), 1u);
  EXPECT_EQ(conn->id(), kId2);
}

TEST_P(UpdatePathTest, SameNextNameReusesItsId) {
  auto chain = Chain(kNse3);
  auto req = Req(kId2, MakePath(1, 3));
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(probe->seen.path().index(), 2u);
  EXPECT_EQ(probe->seen.id(), kId3);
  EXPECT_EQ(conn->path().SerializeAsString(), MakePath(1, 3).SerializeAsString());
  EXPECT_EQ(conn->id(), kId2);
}

TEST_P(UpdatePathTest, RefreshReusesTheHopId) {
  auto chain = Chain(kNse3);
  auto req = Req(kId2, MakePath(1, 2));
  auto first = chain->Request(Context(), req);
  ASSERT_TRUE(first.ok());
  const std::string own = probe->seen.id();
  auto again = Req(kId2, first->path());
  auto second = chain->Request(Context(), again);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(probe->seen.id(), own);
  EXPECT_EQ(second->path().SerializeAsString(), first->path().SerializeAsString());
}

TEST_P(UpdatePathTest, DownstreamErrorIsReturnedUnchanged) {
  auto chain = Chain(kNse3);
  probe->fail = true;
  auto req = Req(kId2, MakePath(1, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(), "downstream unavailable");
}

TEST_P(UpdatePathTest, TruncatedAnswerIsAnErrorAndDownstreamIsClosed) {
  auto chain = Chain(kNse3);
  probe->mangle = [](Connection& c) { c.mutable_path()->mutable_path_segments()->Clear(); };
  auto req = Req(kId2, MakePath(1, 2));
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("caller's index 1 is out of range"));
  EXPECT_EQ(probe->closes, 1);
}

TEST_P(UpdatePathTest, CloseMovesIntoTheHopFrameWithoutRestoring) {
  auto chain = Chain(kNse3);
  Connection conn = Req(kId2, MakePath(1, 3)).connection();
  ASSERT_TRUE(chain->Close(Context(), conn).ok());
  EXPECT_EQ(probe->closes, 1);
  EXPECT_EQ(probe->closed.id(), kId3);
  EXPECT_EQ(probe->closed.path().index(), 2u);
}

TEST_P(UpdatePathTest, CloseWithBadPathFailsWithoutCallingNext) {
  auto chain = Chain(kNse3);
  Connection conn = Req(kConnId, MakePath(1, 2)).connection();
  auto s = chain->Close(Context(), conn);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("should be equal Connection.Id=="));
  EXPECT_EQ(probe->closes, 0);
}

INSTANTIATE_TEST_SUITE_P(ServerAndClient, UpdatePathTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Client" : "Server"; });

TEST(UpdatePathChainTest, NestedClientWithTheSameNameReusesTheHopSegment) {
  auto probe = std::make_shared<Probe>();
  auto inner = MakeClientChain({NewClient("nsmgr"), ServerToClient(probe)});
  auto chain = MakeServerChain({NewServer("nsmgr"), ClientToServer(inner)});
  auto req = Req(kId1, MakePath(0, 1));
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(probe->seen.path().path_segments_size(), 2);
  EXPECT_EQ(probe->seen.path().index(), 1u);
  EXPECT_EQ(probe->seen.path().path_segments(1).name(), "nsmgr");
  EXPECT_EQ(conn->id(), kId1);
  EXPECT_EQ(conn->path().index(), 0u);
}

TEST(UuidTest, UuidsAreDistinctVersion4) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = NewUuid();
    ASSERT_EQ(u.size(), 36u);
    EXPECT_EQ(u[14], '4');
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;  // RFC 4122 variant
    for (int dash : {8, 13, 18, 23}) EXPECT_EQ(u[dash], '-') << u;
    EXPECT_EQ(u.find_first_not_of("0123456789abcdef-"), std::string::npos) << u;
    EXPECT_TRUE(seen.insert(u).second);
  }
}

}  // namespace
}  // namespace nsm::updatepath

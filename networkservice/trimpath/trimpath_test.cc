// trimpath: an end hop trims the segments after its own; a hop with a trimpath client inside keeps
// them; the mark is consumed per request; failures and bad indexes change nothing.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/trimpath/client.h"
#include "networkservice/trimpath/common.h"
#include "networkservice/trimpath/server.h"

namespace nsm::trimpath {
namespace {

// Answers with a path that has two segments beyond the hop's own (index 1).
class LongPath : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    if (fail) return absl::UnavailableError("down");
    auto conn = next.Request(ctx, request);
    if (conn.ok()) {
      for (const char* n : {"forwarder", "nse"}) {
        auto* s = conn->mutable_path()->add_path_segments();
        s->set_name(n);
        s->set_id(std::string(n) + "-id");
      }
    }
    return conn;
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
  bool fail = false;
};

NetworkServiceRequest Req(uint32_t index = 1) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id("nsmgr-id");
  r.mutable_connection()->mutable_path()->set_index(index);
  for (const char* n : {"nsc", "nsmgr"}) {
    auto* s = r.mutable_connection()->mutable_path()->add_path_segments();
    s->set_name(n);
    s->set_id(std::string(n) + "-id");
  }
  return r;
}

TEST(TrimPathTest, EndHopTrimsAfterItsOwnSegment) {
  auto chain = MakeServerChain({metadata::NewServer(), NewServer(), std::make_shared<LongPath>()});
  auto req = Req();
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->path().path_segments_size(), 2);
  EXPECT_EQ(conn->path().path_segments(1).name(), "nsmgr");
  EXPECT_EQ(conn->path().index(), 1u);
}

TEST(TrimPathTest, WithoutMetadataTheEndHopStillTrims) {
  auto chain = MakeServerChain({NewServer(), std::make_shared<LongPath>()});
  auto req = Req();
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->path().path_segments_size(), 2);
}

TEST(TrimPathTest, PassThroughHopKeepsTheFullPath) {
  auto md = metadata::NewServer();
  auto inner = MakeClientChain({NewClient(), ServerToClient(std::make_shared<LongPath>())});
  auto chain = MakeServerChain({md, NewServer(), ClientToServer(inner)});
  auto req = Req();
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->path().path_segments_size(), 4);
  // The mark is consumed by the server: a second request is judged afresh (and marked again).
  auto again = Req();
  conn = chain->Request(Context(), again);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->path().path_segments_size(), 4);
}

TEST(TrimPathTest, MarkIsConsumedWhenTheClientIsNotCalledAgain) {
  // The server sees a mark left by an earlier request only once: put one by hand.
  auto md = metadata::NewServer();
  bool mark = true;
  class Marker : public NetworkServiceServer {
   public:
    explicit Marker(bool* mark) : mark_(mark) {}
    absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                       const ServerNext& next) override {
      auto conn = next.Request(ctx, request);
      if (*mark_)
        metadata::FromContext(ctx)->client.Put(kDontTrimKey, std::make_shared<DontTrim>());
      return conn;
    }
    absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
      return next.Close(ctx, conn);
    }

   private:
    bool* mark_;
  };
  auto chain = MakeServerChain(
      {md, NewServer(), std::make_shared<Marker>(&mark), std::make_shared<LongPath>()});
  auto req = Req();
  ASSERT_EQ(chain->Request(Context(), req)->path().path_segments_size(), 4);
  mark = false;
  auto again = Req();
  EXPECT_EQ(chain->Request(Context(), again)->path().path_segments_size(), 2);
}

TEST(TrimPathTest, ErrorsPassUnchanged) {
  auto tail = std::make_shared<LongPath>();
  tail->fail = true;
  auto chain = MakeServerChain({metadata::NewServer(), NewServer(), tail});
  auto req = Req();
  auto conn = chain->Request(Context(), req);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
}

TEST(TrimPathTest, IndexBeyondThePathTrimsNothing) {
  auto chain = MakeServerChain({NewServer(), std::make_shared<LongPath>()});
  auto req = Req(9);
  auto conn = chain->Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->path().path_segments_size(), 4);
}

TEST(TrimPathTest, ClosePassesThrough) {
  auto chain = MakeServerChain({NewServer()});
  Connection c = Req().connection();
  EXPECT_TRUE(chain->Close(Context(), c).ok());
  auto client = MakeClientChain({NewClient()});
  EXPECT_TRUE(client->Close(Context(), c).ok());
}

}  // namespace
}  // namespace nsm::trimpath

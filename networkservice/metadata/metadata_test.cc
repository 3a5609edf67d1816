// metadata: entry lifetime across Request, failed first request, failed refresh, Close; nesting.
#include "networkservice/metadata/metadata.h"

#include <string>

#include "gtest/gtest.h"

namespace nsm::metadata {
namespace {

inline const TypedKey<std::string> kValue{"value"};

// Records what it finds in the metadata; optionally fails.
class Probe : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    auto md = FromContext(ctx);
    if (!md) return absl::InternalError("no metadata");
    last = md;
    seen = md->server.Load(kValue) ? *md->server.Load(kValue) : "";
    md->server.Put(kValue, std::make_shared<std::string>("server-" + request.connection().id()));
    md->client.Put(kValue, std::make_shared<std::string>("client"));
    if (fail) return absl::UnavailableError("downstream failed");
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    auto md = FromContext(ctx);
    seen = md && md->server.Load(kValue) ? *md->server.Load(kValue) : "";
    return next.Close(ctx, conn);
  }
  bool fail = false;
  std::string seen;
  std::shared_ptr<MetaData> last;
};

NetworkServiceRequest Req(const std::string& id) {
  NetworkServiceRequest r;
  r.mutable_connection()->set_id(id);
  return r;
}

TEST(MetadataTest, KeptAcrossRefreshesAndDroppedOnClose) {
  auto md = NewServer();
  auto probe = std::make_shared<Probe>();
  ServerChain chain({md, probe});
  auto req = Req("c1");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(md->size(), 1u);
  EXPECT_EQ(probe->seen, "");
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  EXPECT_EQ(probe->seen, "server-c1");  // refresh sees what the first request stored
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(probe->seen, "server-c1");  // Close still sees the entry...
  EXPECT_EQ(md->size(), 0u);            // ...which is gone afterwards
}

TEST(MetadataTest, FailedFirstRequestLeavesNothing) {
  auto md = NewServer();
  auto probe = std::make_shared<Probe>();
  probe->fail = true;
  ServerChain chain({md, probe});
  auto req = Req("c1");
  EXPECT_FALSE(chain.Request(Context(), req).ok());
  EXPECT_EQ(md->size(), 0u);
}

TEST(MetadataTest, FailedRefreshKeepsTheEntry) {
  auto md = NewServer();
  auto probe = std::make_shared<Probe>();
  ServerChain chain({md, probe});
  auto req = Req("c1");
  ASSERT_TRUE(chain.Request(Context(), req).ok());
  probe->fail = true;
  EXPECT_FALSE(chain.Request(Context(), req).ok());
  EXPECT_EQ(md->size(), 1u);
}

TEST(MetadataTest, ServerAndClientMapsAreSeparateAndPerConnection) {
  auto md = NewServer();
  auto probe = std::make_shared<Probe>();
  ServerChain chain({md, probe});
  auto a = Req("a");
  auto b = Req("b");
  ASSERT_TRUE(chain.Request(Context(), a).ok());
  auto a_md = probe->last;
  ASSERT_TRUE(chain.Request(Context(), b).ok());
  EXPECT_NE(a_md, probe->last);
  EXPECT_EQ(*a_md->server.Load(kValue), "server-a");
  EXPECT_EQ(*a_md->client.Load(kValue), "client");
  EXPECT_EQ(md->size(), 2u);
}

TEST(MetadataTest, NestedMetadataReusesTheOuterEntry) {
  auto outer = NewServer();
  auto inner = NewClient();
  auto probe = std::make_shared<Probe>();
  ServerChain chain({outer, ClientToServer(inner), probe});
  auto req = Req("c1");
  auto conn = chain.Request(Context(), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(outer->size(), 1u);
  EXPECT_EQ(inner->size(), 0u);
  ASSERT_TRUE(chain.Close(Context(), *conn).ok());
  EXPECT_EQ(outer->size(), 0u);
}

TEST(MetadataTest, CloseOfUnknownConnectionPassesAnEmptyEntry) {
  auto md = NewServer();
  auto probe = std::make_shared<Probe>();
  ServerChain chain({md, probe});
  Connection conn;
  conn.set_id("never-seen");
  ASSERT_TRUE(chain.Close(Context(), conn).ok());
  EXPECT_EQ(probe->seen, "");
  EXPECT_EQ(md->size(), 0u);
}

TEST(StoreTest, LoadOrStoreAndLoadAndDelete) {
  Store s;
  auto first = s.LoadOrStore(kValue, std::make_shared<std::string>("first"));
  auto second = s.LoadOrStore(kValue, std::make_shared<std::string>("second"));
  EXPECT_EQ(*first, "first");
  EXPECT_EQ(first, second);
  EXPECT_EQ(*s.LoadAndDelete(kValue), "first");
  EXPECT_EQ(s.Load(kValue), nullptr);
  EXPECT_EQ(s.size(), 0u);
}

}  // namespace
}  // namespace nsm::metadata

// clienturl: every call carries the fixed URL to the rest of the chain.
#include "registry/clienturl/clienturl.h"

#include "gtest/gtest.h"

namespace nsm::reg::clienturl {
namespace {

using NS = ::registry::NetworkService;

class SeeUrl : public NSRegistryServer {
 public:
  absl::StatusOr<NS> Register(const Context& ctx, NS& ns, const Next&) override {
    Record(ctx);
    return ns;
  }
  absl::Status Find(const Context& ctx, const Query&, const Stream&, const Next&) override {
    Record(ctx);
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context& ctx, NS&, const Next&) override {
    Record(ctx);
    return absl::OkStatus();
  }
  void Record(const Context& ctx) {
    auto url = ClientUrl(ctx);
    seen.push_back(url ? *url : "<none>");
  }
  std::vector<std::string> seen;
};

TEST(ClientUrl, EveryCallCarriesTheUrl) {
  auto see = std::make_shared<SeeUrl>();
  NSRegistryServerChain chain({NewNSServer("tcp://10.0.0.1:5002"), see});
  NS ns;
  ns.set_name("ns-1");
  ASSERT_TRUE(chain.Register(Context(), ns).ok());
  auto s = BufferedFindStream<::registry::NetworkServiceResponse>::Create(Context());
  ASSERT_TRUE(chain.Find(Context(), ::registry::NetworkServiceQuery(), s).ok());
  ASSERT_TRUE(chain.Unregister(Context(), ns).ok());
  EXPECT_EQ(see->seen, std::vector<std::string>(3, "tcp://10.0.0.1:5002"));
  EXPECT_EQ(ClientUrl(Context()), nullptr);
}

}  // namespace
}  // namespace nsm::reg::clienturl

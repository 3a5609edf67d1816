// proxy: local names end the chain; inter-domain names go on with the proxy URL; no proxy URL is
// FAILED_PRECONDITION naming the object; NSE queries are inter-domain by name or service name.
#include "registry/proxy/proxy.h"

#include "gtest/gtest.h"
#include "registry/clienturl/clienturl.h"

namespace nsm::reg::proxy {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

class Remote : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next&) override {
    Record(ctx);
    nse.set_url("tcp://remote:1");
    return nse;
  }
  absl::Status Find(const Context& ctx, const NSEQuery&, const Stream&, const Next&) override {
    Record(ctx);
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context& ctx, NSE&, const Next&) override {
    Record(ctx);
    return absl::OkStatus();
  }
  void Record(const Context& ctx) {
    auto url = clienturl::ClientUrl(ctx);
    urls.push_back(url ? *url : "<none>");
  }
  std::vector<std::string> urls;
};

class ProxyTest : public ::testing::Test {
 protected:
  std::shared_ptr<Remote> remote_ = std::make_shared<Remote>();
  NSERegistryServerChain chain_{{NewNSEServer("tcp://proxy:5005"), remote_}};
  NSERegistryServerChain no_proxy_{{NewNSEServer(""), remote_}};
  Context ctx_;
};

TEST_F(ProxyTest, LocalNamesEndTheChain) {
  NSE nse;
  nse.set_name("nse-1");
  auto r = chain_.Register(ctx_, nse);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url(), "");
  EXPECT_TRUE(chain_.Unregister(ctx_, nse).ok());
  NSEQuery q;
  q.mutable_network_service_endpoint()->add_network_service_names("ns-1");
  EXPECT_TRUE(chain_.Find(ctx_, q, BufferedFindStream<NSEResponse>::Create(ctx_)).ok());
  EXPECT_TRUE(remote_->urls.empty());
}

TEST_F(ProxyTest, InterdomainNamesGoToTheProxy) {
  NSE nse;
  nse.set_name("nse-1@domain.b");
  auto r = chain_.Register(ctx_, nse);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url(), "tcp://remote:1");
  EXPECT_TRUE(chain_.Unregister(ctx_, nse).ok());
  NSEQuery by_service;
  by_service.mutable_network_service_endpoint()->add_network_service_names("ns-1@domain.b");
  EXPECT_TRUE(chain_.Find(ctx_, by_service, BufferedFindStream<NSEResponse>::Create(ctx_)).ok());
  EXPECT_EQ(remote_->urls, std::vector<std::string>(3, "tcp://proxy:5005"));
}

TEST_F(ProxyTest, NoProxyUrlIsFailedPrecondition) {
  NSE nse;
  nse.set_name("nse-1@domain.b");
  auto r = no_proxy_.Register(ctx_, nse);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("nse-1@domain.b"), std::string::npos) << r.status();
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("x@y");
  EXPECT_EQ(no_proxy_.Find(ctx_, q, BufferedFindStream<NSEResponse>::Create(ctx_)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(remote_->urls.empty());
}

TEST(ProxyQuery, InterdomainDetection) {
  ::registry::NetworkServiceQuery ns;
  ns.mutable_network_service()->set_name("ns@d");
  EXPECT_TRUE(IsInterdomainQuery(ns));
  ns.mutable_network_service()->set_name("ns");
  EXPECT_FALSE(IsInterdomainQuery(ns));
  NSEQuery nse;
  EXPECT_FALSE(IsInterdomainQuery(nse));
  nse.mutable_network_service_endpoint()->add_network_service_names("a");
  nse.mutable_network_service_endpoint()->add_network_service_names("b@d");
  EXPECT_TRUE(IsInterdomainQuery(nse));
}

}  // namespace
}  // namespace nsm::reg::proxy

// clientinfo (registry): labels added to each present service, never overwritten, unset variables
// skipped, services without labels untouched, Find/Unregister unchanged.
#include "registry/clientinfo/clientinfo.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::reg::clientinfo {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Keeps what reached it.
class Capture : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&) override {
    registered = nse;
    return nse;
  }
  absl::Status Find(const Context&, const NSEQuery& q, const Stream& s, const Next&) override {
    found = q;
    NSEResponse r;
    r.mutable_network_service_endpoint()->set_name("nse-1");
    return s->Send(r);
  }
  absl::Status Unregister(const Context&, NSE& nse, const Next&) override {
    unregistered = nse;
    return absl::OkStatus();
  }
  NSE registered, unregistered;
  NSEQuery found;
};

std::map<std::string, std::string> LabelsOf(const NSE& nse, const std::string& service) {
  const auto& l = nse.network_service_labels().at(service).labels();
  return {l.begin(), l.end()};
}

class ClientInfoTest : public ::testing::Test {
 protected:
  void Build(std::map<std::string, std::string> env) {
    chain_ = std::make_shared<NSERegistryServerChain>(
        NSERegistryServerChain::Elements{NewNSEServer(Env(std::move(env))), capture_});
  }
  std::shared_ptr<Capture> capture_ = std::make_shared<Capture>();
  std::shared_ptr<NSERegistryServerChain> chain_;
};

TEST_F(ClientInfoTest, AddsLabelsToEveryPresentServiceWithoutOverwriting) {
  Build({{"NODE_NAME", "node-1"}, {"POD_NAME", "nsmgr-abc"}, {"CLUSTER_NAME", "cluster-1"}});
  NSE nse;
  nse.set_name("nse-1");
  nse.add_network_service_names("ns-1");
  nse.add_network_service_names("ns-2");
  nse.add_network_service_names("ns-3");  // no labels entry: gets none
  (*(*nse.mutable_network_service_labels())["ns-1"].mutable_labels())["app"] = "firewall";
  (*(*nse.mutable_network_service_labels())["ns-2"].mutable_labels())["nodeName"] = "own-node";
  (*nse.mutable_network_service_labels())["ns-4"];  // present with an empty label set
  auto r = chain_->Register(Context(), nse);
  ASSERT_TRUE(r.ok()) << r.status();
  const NSE& got = capture_->registered;
  EXPECT_THAT(LabelsOf(got, "ns-1"),
              UnorderedElementsAre(Pair("app", "firewall"), Pair("nodeName", "node-1"),
                                   Pair("podName", "nsmgr-abc"), Pair("clusterName", "cluster-1")));
  EXPECT_THAT(LabelsOf(got, "ns-2"),
              UnorderedElementsAre(Pair("nodeName", "own-node"), Pair("podName", "nsmgr-abc"),
                                   Pair("clusterName", "cluster-1")));
  EXPECT_THAT(LabelsOf(got, "ns-4"),
              UnorderedElementsAre(Pair("nodeName", "node-1"), Pair("podName", "nsmgr-abc"),
                                   Pair("clusterName", "cluster-1")));
  EXPECT_FALSE(got.network_service_labels().contains("ns-3"));
  EXPECT_EQ(got.network_service_labels().size(), 3u);
}

TEST_F(ClientInfoTest, UnsetVariablesAddNothingAndEmptyValuesCount) {
  Build({{"NODE_NAME", ""}});
  NSE nse;
  (*nse.mutable_network_service_labels())["forwarder"];
  ASSERT_TRUE(chain_->Register(Context(), nse).ok());
  EXPECT_THAT(LabelsOf(capture_->registered, "forwarder"),
              UnorderedElementsAre(Pair("nodeName", "")));
}

TEST_F(ClientInfoTest, FindAndUnregisterPassThrough) {
  Build({{"NODE_NAME", "node-1"}});
  NSEQuery q;
  (*q.mutable_network_service_endpoint()->mutable_network_service_labels())["ns-1"];
  auto s = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(chain_->Find(Context(), q, s).ok());
  EXPECT_EQ(s->Drain().size(), 1u);
  EXPECT_TRUE(capture_->found.network_service_endpoint()
                  .network_service_labels()
                  .at("ns-1")
                  .labels()
                  .empty())
      << "queries are not labelled";

  NSE nse;
  nse.set_name("nse-1");
  (*nse.mutable_network_service_labels())["ns-1"];
  ASSERT_TRUE(chain_->Unregister(Context(), nse).ok());
  EXPECT_TRUE(capture_->unregistered.network_service_labels().at("ns-1").labels().empty());
}

}  // namespace
}  // namespace nsm::reg::clientinfo

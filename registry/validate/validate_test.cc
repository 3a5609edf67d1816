// validate: one test per kind of bad input; every error is INVALID_ARGUMENT naming the field and
// the value, and nothing reaches the store.
#include "registry/validate/validate.h"

#include "gtest/gtest.h"

namespace nsm::reg::validate {
namespace {

using NS = ::registry::NetworkService;
using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSQuery = ::registry::NetworkServiceQuery;

// Counts what got past validate.
class Sink : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context&, NSE& nse, const Next&) override {
    ++calls;
    return nse;
  }
  absl::Status Find(const Context&, const NSEQuery&, const Stream&, const Next&) override {
    ++calls;
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context&, NSE&, const Next&) override {
    ++calls;
    return absl::OkStatus();
  }
  int calls = 0;
};

NSE Good() {
  NSE nse;
  nse.set_name("nse-1");
  nse.set_url("tcp://10.0.0.1:5001");
  nse.add_network_service_names("ns-1");
  (*(*nse.mutable_network_service_labels())["ns-1"].mutable_labels())["app"] = "x";
  return nse;
}

void ExpectInvalid(const absl::Status& s, const std::string& field, const std::string& value) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(field), std::string::npos) << s;
  EXPECT_NE(s.message().find(value), std::string::npos) << s;
}

class ValidateTest : public ::testing::Test {
 protected:
  absl::Status Register(NSE nse) { return chain_.Register(Context(), nse).status(); }
  std::shared_ptr<Sink> sink_ = std::make_shared<Sink>();
  NSERegistryServerChain chain_{{NewNSEServer(), sink_}};
};

TEST_F(ValidateTest, GoodEndpointPasses) {
  EXPECT_TRUE(Register(Good()).ok());
  NSE interdomain = Good();
  interdomain.set_name("nse-1@my.domain");
  EXPECT_TRUE(Register(interdomain).ok());
  NSE unix_url = Good();
  unix_url.set_url("unix:///var/lib/nsm/nse.sock");
  EXPECT_TRUE(Register(unix_url).ok());
  NSE no_url = Good();
  no_url.clear_url();
  EXPECT_TRUE(Register(no_url).ok());
  EXPECT_EQ(sink_->calls, 4);
}

TEST_F(ValidateTest, EmptyName) {
  NSE nse = Good();
  nse.clear_name();
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "\"\" is empty");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, NameWithSpaceOrControlCharacter) {
  NSE nse = Good();
  nse.set_name("nse 1");
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "\"nse 1\"");
  nse.set_name("nse\n1");
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "\"nse\\x0a1\"");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, BadInterdomainName) {
  NSE nse = Good();
  nse.set_name("a@b@c");
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "\"a@b@c\"");
  nse.set_name("nse@");
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "\"nse@\"");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, NameTooLong) {
  NSE nse = Good();
  nse.set_name(std::string(kMaxNameLength + 1, 'a'));
  ExpectInvalid(Register(nse), "network_service_endpoint.name", "508 bytes");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, BadUrl) {
  NSE nse = Good();
  nse.set_url("http://10.0.0.1:80");
  ExpectInvalid(Register(nse), "network_service_endpoint.url", "http://10.0.0.1:80");
  nse.set_url("tcp://:5001");
  ExpectInvalid(Register(nse), "network_service_endpoint.url", "\"tcp://:5001\" has no host");
  nse.set_url("tcp://10.0.0.1:99999");
  ExpectInvalid(Register(nse), "network_service_endpoint.url", "99999");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, BadNetworkServiceName) {
  NSE nse = Good();
  nse.add_network_service_names("");
  ExpectInvalid(Register(nse), "network_service_endpoint.network_service_names[1]", "\"\"");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, BadLabels) {
  NSE nse = Good();
  (*(*nse.mutable_network_service_labels())["ns-1"].mutable_labels())[""] = "v";
  ExpectInvalid(Register(nse), "network_service_labels[ns-1] label key", "\"\" is empty");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, MalformedTimestamp) {
  NSE nse = Good();
  nse.mutable_expiration_time()->set_seconds(100);
  nse.mutable_expiration_time()->set_nanos(-1);
  ExpectInvalid(Register(nse), "network_service_endpoint.expiration_time.nanos", "-1");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, UnregisterNeedsAName) {
  NSE nse;
  ExpectInvalid(chain_.Unregister(Context(), nse), "network_service_endpoint.name", "\"\"");
  EXPECT_EQ(sink_->calls, 0);
}

TEST_F(ValidateTest, MalformedQuery) {
  auto s = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(Context());
  NSEQuery q;
  q.mutable_network_service_endpoint()->set_name("a b");
  ExpectInvalid(chain_.Find(Context(), q, s), "query.network_service_endpoint.name", "\"a b\"");
  q = NSEQuery();
  q.mutable_network_service_endpoint()->add_network_service_names("x y");
  ExpectInvalid(chain_.Find(Context(), q, s),
                "query.network_service_endpoint.network_service_names[0]", "\"x y\"");
  EXPECT_EQ(sink_->calls, 0);
  EXPECT_TRUE(chain_.Find(Context(), NSEQuery(), s).ok()) << "an empty query matches everything";
}

TEST(ValidateNS, NetworkServiceNameAndQuery) {
  NS ns;
  ExpectInvalid(ValidateRegister(ns), "network_service.name", "\"\"");
  ns.set_name("ns-1");
  EXPECT_TRUE(ValidateRegister(ns).ok());
  NSQuery q;
  EXPECT_TRUE(ValidateQuery(q).ok());
  q.mutable_network_service()->set_name("@x");
  ExpectInvalid(ValidateQuery(q), "query.network_service.name", "\"@x\"");
}

}  // namespace
}  // namespace nsm::reg::validate

// nsc library: requests built from the URLs (ids, labels, mechanism), retries within the request
// timeout on the context's clock, non-retryable errors at once, output without tokens, and the
// environment configuration.
#include "reference/nsc/nsc.h"

#include <thread>

#include "api/mechanisms.h"
#include "core/fake_clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reference/nsc/config.h"

namespace nsm::nsc {
namespace {

using reference::MapEnvironment;

// Fails with `failures` in turn, then answers.
class Scripted : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    ++attempts;
    if (!failures.empty()) {
      absl::Status s = failures.front();
      failures.erase(failures.begin());
      return s;
    }
    return next.Request(ctx, request, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return next.Close(ctx, conn, opts);
  }
  std::vector<absl::Status> failures;
  std::atomic<int> attempts{0};
};

Options WithServices(std::vector<std::string> urls) {
  Options o;
  for (const auto& u : urls) o.network_services.push_back(*api::ParseNscRequestUrl(u));
  return o;
}

TEST(NscRequest, FromTheUrls) {
  Options o = WithServices({"kernel://icmp-responder/nsm-1?app=a&zone=url", "memif://svc@domain"});
  o.name = "my-nsc";
  o.labels = {{"zone", "env"}, {"team", "t"}};
  NetworkServiceRequest r0 = MakeRequest(o, 0);
  EXPECT_EQ(r0.connection().id(), "my-nsc-0");
  EXPECT_EQ(r0.connection().network_service(), "icmp-responder");
  EXPECT_EQ(r0.connection().labels().at("app"), "a");
  EXPECT_EQ(r0.connection().labels().at("zone"), "url") << "the URL's labels win";
  EXPECT_EQ(r0.connection().labels().at("team"), "t");
  ASSERT_EQ(r0.mechanism_preferences_size(), 1);
  EXPECT_EQ(r0.mechanism_preferences(0).type(), "KERNEL");
  EXPECT_EQ(r0.mechanism_preferences(0).cls(), "LOCAL");
  EXPECT_EQ(r0.mechanism_preferences(0).parameters().at("name"), "nsm-1");
  NetworkServiceRequest r1 = MakeRequest(o, 1);
  EXPECT_EQ(r1.connection().id(), "my-nsc-1");
  EXPECT_EQ(r1.connection().network_service(), "svc@domain");
  EXPECT_EQ(r1.mechanism_preferences(0).type(), "MEMIF");
}

TEST(NscRetry, RetriesUnavailableOnTheContextClockThenSucceeds) {
  auto clock = FakeClock::Create();
  auto scripted = std::make_shared<Scripted>();
  scripted->failures = {absl::UnavailableError("nsmgr not up")};
  ClientChain chain({scripted});
  NetworkServiceRequest req = MakeRequest(WithServices({"kernel://ns"}), 0);
  absl::StatusOr<Connection> result;
  std::thread t([&] {
    result = RequestWithRetry(chain, Context::Background(clock), req, absl::Seconds(15));
  });
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(10)));  // the deadline and the backoff
  clock->Advance(absl::Seconds(1));
  t.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(scripted->attempts, 2);
  EXPECT_EQ(result->id(), "nsc-0");
}

TEST(NscRetry, GivesUpAtTheTimeoutNamingTheAttempts) {
  auto clock = FakeClock::Create();
  auto scripted = std::make_shared<Scripted>();
  scripted->failures.assign(100, absl::UnavailableError("nsmgr not up"));
  ClientChain chain({scripted});
  NetworkServiceRequest req = MakeRequest(WithServices({"kernel://ns"}), 0);
  absl::StatusOr<Connection> result;
  std::thread t(
      [&] { result = RequestWithRetry(chain, Context::Background(clock), req, absl::Seconds(1)); });
  ASSERT_TRUE(clock->AwaitPendingTimers(2, absl::Seconds(10)));
  clock->Advance(absl::Seconds(1));  // the backoff (~200 ms) and the deadline
  t.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("attempts within 1s"), std::string::npos)
      << result.status();
}

TEST(NscRetry, NonRetryableErrorsReturnAtOnce) {
  auto scripted = std::make_shared<Scripted>();
  scripted->failures = {absl::NotFoundError("network service ns is not found")};
  ClientChain chain({scripted});
  auto result = RequestWithRetry(chain, Context(), MakeRequest(WithServices({"kernel://ns"}), 0),
                                 absl::Seconds(15));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(scripted->attempts, 1);
}

Connection Sample() {
  Connection c;
  c.set_id("nsc-0");
  c.set_network_service("icmp-responder");
  c.set_network_service_endpoint_name("nse-1");
  (*c.mutable_labels())["app"] = "a";
  for (const char* name : {"nsc", "nsmgr", "forwarder", "nse-1"}) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(name);
    s->set_id(std::string(name) + "-id");
    s->set_token("secret-token-of-" + std::string(name));
  }
  *c.mutable_mechanism() = api::mech::MakeKernel("file:///proc/1/ns/net");
  (*c.mutable_mechanism()->mutable_parameters())["name"] = "nsm-1";
  auto* ip = c.mutable_context()->mutable_ip_context();
  ip->add_src_ip_addrs("169.254.0.1/32");
  ip->add_dst_ip_addrs("169.254.0.0/32");
  ip->add_src_routes()->set_prefix("169.254.0.0/32");
  return c;
}

TEST(NscOutput, JsonAndTextShowThePathAndAddressesButNoToken) {
  const std::string json = ToJson(Sample());
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(json.find("secret"), std::string::npos) << json;
  auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["id"], "nsc-0");
  EXPECT_EQ(j["network_service_endpoint_name"], "nse-1");
  ASSERT_EQ(j["path"].size(), 4u);
  EXPECT_EQ(j["path"][2]["name"], "forwarder");
  EXPECT_EQ(j["mechanism"]["type"], "KERNEL");
  EXPECT_EQ(j["mechanism"]["parameters"]["name"], "nsm-1");
  EXPECT_EQ(j["src_ip_addrs"][0], "169.254.0.1/32");
  EXPECT_EQ(j["dst_ip_addrs"][0], "169.254.0.0/32");
  EXPECT_EQ(j["labels"]["app"], "a");

  const std::string text = ToText(Sample());
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  for (const char* want :
       {"connection nsc-0", "icmp-responder", "endpoint nse-1",
        "nsc (nsc-id) -> nsmgr (nsmgr-id) -> forwarder (forwarder-id) -> nse-1", "LOCAL/KERNEL",
        "name=nsm-1", "this side 169.254.0.1/32", "endpoint side 169.254.0.0/32"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " missing in\n" << text;
  }
}

TEST(NscConfig, DefaultsAndValues) {
  auto none = ParseConfig(MapEnvironment({}));
  EXPECT_FALSE(none.ok()) << "nothing to request";
  EXPECT_NE(none.status().message().find("NSM_NETWORK_SERVICES=\"\""), std::string::npos);

  auto c = ParseConfig(MapEnvironment({{"NSM_NETWORK_SERVICES", "kernel://a/nsm-1,kernel://b"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->options.name, "nsc");
  EXPECT_EQ(c->options.nsmgr_url, "unix:///var/lib/networkservicemesh/nsm.io.sock");
  EXPECT_EQ(c->options.dial_timeout, absl::Seconds(5));
  EXPECT_EQ(c->options.request_timeout, absl::Seconds(15));
  EXPECT_EQ(c->options.max_token_lifetime, absl::Minutes(10));
  ASSERT_EQ(c->options.network_services.size(), 2u);
  EXPECT_EQ(c->options.network_services[0].interface_name, "nsm-1");
  EXPECT_EQ(c->output, Output::kText);

  auto set = ParseConfig(MapEnvironment({{"NSM_NETWORK_SERVICES", "kernel://a"},
                                         {"NSM_NAME", "c1"},
                                         {"NSM_CONNECT_TO", "tcp://127.0.0.1:5001"},
                                         {"NSM_LABELS", "app=x,zone:y"},
                                         {"NSM_REQUEST_TIMEOUT", "1m"},
                                         {"NSM_OUTPUT", "JSON"}}));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->options.labels, (std::map<std::string, std::string>{{"app", "x"}, {"zone", "y"}}));
  EXPECT_EQ(set->options.request_timeout, absl::Minutes(1));
  EXPECT_EQ(set->output, Output::kJson);
}

TEST(NscConfig, InvalidValues) {
  const std::map<std::string, std::string> base = {{"NSM_NETWORK_SERVICES", "kernel://a"}};
  auto expect = [&](const std::string& var, const std::string& value) {
    auto env = base;
    env[var] = value;
    auto c = ParseConfig(MapEnvironment(env));
    ASSERT_FALSE(c.ok()) << var;
    EXPECT_NE(c.status().message().find(var + "=\"" + value + "\""), std::string::npos)
        << c.status();
  };
  expect("NSM_NETWORK_SERVICES", "icmp-responder");
  expect("NSM_NETWORK_SERVICES", "kernel://a/interface-name-too-long");
  expect("NSM_CONNECT_TO", "unix://relative");
  expect("NSM_LABELS", "novalue");
  expect("NSM_DIAL_TIMEOUT", "5");
  expect("NSM_REQUEST_TIMEOUT", "0s");
  expect("NSM_MAX_TOKEN_LIFETIME", "0");
  expect("NSM_MECHANISM", "vxlan");
  expect("NSM_OUTPUT", "yaml");
  expect("NSM_LOG_LEVEL", "noisy");
  expect("NSM_NAME", "");
}

TEST(NscConfig, HelpListsEveryVariableAndTheFlags) {
  const std::string help = HelpText();
  for (const auto& v : Variables()) EXPECT_NE(help.find(v.name), std::string::npos) << v.name;
  EXPECT_NE(help.find("--once"), std::string::npos);
  EXPECT_NE(help.find("--output"), std::string::npos);
  EXPECT_NE(help.find("default 15s"), std::string::npos);
}

}  // namespace
}  // namespace nsm::nsc

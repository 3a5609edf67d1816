// The nsmgr assembly in process: option checks, the local registry (clientinfo labels, expiry cap,
// NetworkServices in memory without a domain registry), and answers without forwarders. Requests
// through forwarders to endpoints are tested through the sandbox (testing/).
#include "nsmgr/nsmgr.h"

#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/discover/server.h"

namespace nsm::nsmgr {
namespace {

using ::testing::HasSubstr;
using NSE = ::registry::NetworkServiceEndpoint;
using NS = ::registry::NetworkService;

Options Base() {
  Options o;
  o.name = "nsmgr-1";
  o.credentials = MakeInsecureCredentials();
  o.tokens = NewInsecureTokenGenerator("nsmgr-1");
  o.env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "NODE_NAME") return "node-a";
    return std::nullopt;
  };
  o.excluded_prefixes.config_path = "/nonexistent/excluded_prefixes.yaml";
  return o;
}

TEST(NsmgrTest, OptionsAreChecked) {
  Options o = Base();
  o.credentials = nullptr;
  EXPECT_THAT(Nsmgr::Create(o).status().message(), HasSubstr("credentials are required"));
  o = Base();
  o.tokens = nullptr;
  EXPECT_THAT(Nsmgr::Create(o).status().message(), HasSubstr("token generator is required"));
  o = Base();
  o.registry_url = "tcp://127.0.0.1:5001";
  auto no_url = Nsmgr::Create(o);
  EXPECT_EQ(no_url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_url.status().message(), HasSubstr("needs a public URL"));
  o.url = "tcp://";
  EXPECT_THAT(Nsmgr::Create(o).status().message(), HasSubstr("nsmgr: url:"));
  o = Base();
  o.registry_url = "ftp://x";
  EXPECT_THAT(Nsmgr::Create(o).status().message(), HasSubstr("registry url"));
  o = Base();
  o.forwarder_service_name = "";
  EXPECT_EQ(Nsmgr::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  auto ok = Nsmgr::Create(Base());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->name(), "nsmgr-1");
  EXPECT_EQ((*ok)->Services().size(), 4u);
}

TEST(NsmgrTest, LocalRegistryAddsNodeLabelsAndCapsExpiry) {
  auto clock = FakeClock::Create();
  auto m = Nsmgr::Create(Base());
  ASSERT_TRUE(m.ok()) << m.status();
  Context ctx = Context::Background(clock);
  RegistryServerToClient<NSETraits> nse_registry((*m)->nse_registry());
  RegistryServerToClient<NSTraits> ns_registry((*m)->ns_registry());

  NSE fwd;
  fwd.set_name("forwarder-a");
  fwd.set_url("unix:///tmp/fwd-a.sock");
  fwd.add_network_service_names("forwarder");
  (*fwd.mutable_network_service_labels())["forwarder"].mutable_labels()->insert({"p2p", "true"});
  fwd.mutable_expiration_time()->set_seconds(absl::ToUnixSeconds(clock->Now() + absl::Hours(1)));
  auto registered = nse_registry.Register(ctx, fwd, {}, {});
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->url(), "unix:///tmp/fwd-a.sock");
  EXPECT_EQ(registered->network_service_labels().at("forwarder").labels().at("nodeName"), "node-a");
  const absl::Time expires = absl::FromUnixSeconds(registered->expiration_time().seconds());
  EXPECT_LE(expires, clock->Now() + absl::Minutes(1) + absl::Seconds(1));
  EXPECT_EQ((*m)->local_endpoints(), 1u);

  NS ns;
  ns.set_name("icmp");
  ASSERT_TRUE(ns_registry.Register(ctx, ns, {}, {}).ok());
  ::registry::NetworkServiceQuery nsq;
  nsq.mutable_network_service()->set_name("icmp");
  auto found_ns = discover::FindAll<NSTraits>(ns_registry, ctx, nsq);
  ASSERT_TRUE(found_ns.ok()) << found_ns.status();
  ASSERT_EQ(found_ns->size(), 1u);

  ::registry::NetworkServiceEndpointQuery q;
  q.mutable_network_service_endpoint()->add_network_service_names("forwarder");
  auto found = discover::FindAll<NSETraits>(nse_registry, ctx, q);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].name(), "forwarder-a");

  // The cap: the registration is gone a minute later unless refreshed.
  clock->Advance(absl::Minutes(1) + absl::Seconds(1));
  // The timer queues the unregistration on the name's executor: bounded wait for that thread.
  for (int i = 0; i < 500 && (*m)->local_endpoints() != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*m)->local_endpoints(), 0u);
}

TEST(NsmgrTest, RequestWithoutServiceOrForwarderIsAnswered) {
  auto m = Nsmgr::Create(Base());
  ASSERT_TRUE(m.ok()) << m.status();
  auto [ctx, cancel] = Context().WithTimeout(absl::Seconds(10));
  NetworkServiceRequest req;
  req.mutable_connection()->set_id("c1");
  req.mutable_connection()->set_network_service("icmp");
  auto none = (*m)->network_service()->Request(ctx, req, ServerNext());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("network service icmp is not found"));
  EXPECT_EQ((*m)->connections(), 0u);

  RegistryServerToClient<NSTraits> ns_registry((*m)->ns_registry());
  NS ns;
  ns.set_name("icmp");
  ASSERT_TRUE(ns_registry.Register(ctx, ns, {}, {}).ok());
  NetworkServiceRequest again;
  again.mutable_connection()->set_id("c1");
  again.mutable_connection()->set_network_service("icmp");
  auto no_fwd = (*m)->network_service()->Request(ctx, again, ServerNext());
  ASSERT_FALSE(no_fwd.ok());
  EXPECT_EQ(no_fwd.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_fwd.status().message(), HasSubstr("no forwarder")) << no_fwd.status();
  EXPECT_EQ((*m)->connections(), 0u);

  NetworkServiceRequest empty;
  auto bad = (*m)->network_service()->Request(ctx, empty, ServerNext());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nsm::nsmgr

// localbypass: the nsmgr URL upstream and the real URL for local callers, URL changes (§13.5),
// bad URLs, rollback when next fails, Unregister, Find/watch rewriting and dropping, and the
// state ending with the nsmgr chain's expiry (FakeClock).
#include "registry/localbypass/localbypass.h"

#include "absl/strings/str_cat.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/expire/expire.h"
#include "registry/memory/memory.h"
#include "registry/serialize/serialize.h"

namespace nsm::reg::localbypass {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kNsmgrUrl[] = "tcp://10.0.0.1:5001";
constexpr char kNseUrl[] = "unix:///run/nsm/nse-1.sock";

// Records the URLs the rest of the chain sees and can be told to fail.
class Recorder : public NSERegistryServer {
 public:
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    registered.push_back(nse.url());
    if (!fail.ok()) return fail;
    return next.Register(ctx, nse);
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    return next.Find(ctx, q, s);
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    unregistered.push_back(nse.url());
    if (!fail.ok()) return fail;
    return next.Unregister(ctx, nse);
  }
  std::vector<std::string> registered, unregistered;
  absl::Status fail;
};

NSE Endpoint(const std::string& name, const std::string& url) {
  NSE nse;
  nse.set_name(name);
  nse.set_url(url);
  nse.add_network_service_names("ns-1");
  return nse;
}

// "name url" per result, "-" before deletions.
std::vector<std::string> Describe(const std::vector<NSEResponse>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) {
    out.push_back(absl::StrCat(r.deleted() ? "-" : "", r.network_service_endpoint().name(), " ",
                               r.network_service_endpoint().url()));
  }
  return out;
}

class LocalBypassTest : public ::testing::Test {
 protected:
  absl::StatusOr<NSE> Register(const std::string& name, const std::string& url) {
    NSE nse = Endpoint(name, url);
    return chain_->Register(ctx_, nse);
  }
  absl::Status Unregister(const std::string& name, const std::string& url = kNseUrl) {
    NSE nse = Endpoint(name, url);
    return chain_->Unregister(ctx_, nse);
  }
  std::vector<std::string> Find(NSERegistryServer& server, bool through_chain = true) {
    auto s = BufferedFindStream<NSEResponse>::Create(ctx_);
    absl::Status st =
        through_chain ? chain_->Find(ctx_, NSEQuery(), s) : server.Find(ctx_, NSEQuery(), s, {});
    EXPECT_TRUE(st.ok()) << st;
    return Describe(s->Drain());
  }
  std::vector<std::string> FindUpstream() { return Find(*upstream_, false); }
  std::vector<std::string> FindThroughBypass() { return Find(*upstream_, true); }

  Context ctx_;
  std::shared_ptr<NSEServer> bypass_ = NewNSEServer(kNsmgrUrl);
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
  std::shared_ptr<memory::NSEServer> upstream_ = memory::NewNSEServer();
  std::shared_ptr<NSERegistryServerChain> chain_ = std::make_shared<NSERegistryServerChain>(
      NSERegistryServerChain::Elements{bypass_, recorder_, upstream_});
};

TEST_F(LocalBypassTest, UpstreamSeesTheNsmgrUrlCallerGetsTheRealOne) {
  NSE nse = Endpoint("nse-1", kNseUrl);
  auto r = chain_->Register(ctx_, nse);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url(), kNseUrl);
  EXPECT_EQ(nse.url(), kNseUrl) << "the caller's endpoint is left as it was";
  EXPECT_THAT(recorder_->registered, ElementsAre(kNsmgrUrl));
  EXPECT_THAT(FindUpstream(), ElementsAre(absl::StrCat("nse-1 ", kNsmgrUrl)));
  EXPECT_THAT(FindThroughBypass(), ElementsAre(absl::StrCat("nse-1 ", kNseUrl)));
  EXPECT_EQ(bypass_->LocalUrl("nse-1"), kNseUrl);
  EXPECT_EQ(bypass_->size(), 1u);
}

TEST_F(LocalBypassTest, ChangedUrlReplacesTheRememberedOne) {
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  // The endpoint restarted and listens elsewhere (v1.1.1 kept the first URL, nsmgr.md §13.5).
  auto r = Register("nse-1", "unix:///run/nsm/nse-1-restarted.sock");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->url(), "unix:///run/nsm/nse-1-restarted.sock");
  EXPECT_THAT(FindThroughBypass(), ElementsAre("nse-1 unix:///run/nsm/nse-1-restarted.sock"));
  EXPECT_THAT(recorder_->registered, ElementsAre(kNsmgrUrl, kNsmgrUrl));
}

TEST_F(LocalBypassTest, EmptyOrUnparsableUrlIsRejectedAndNothingIsRemembered) {
  auto r = Register("nse-1", "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "network_service_endpoint.url of \"nse-1\" is empty: cannot register an endpoint "
            "without a URL");
  r = Register("nse-1", "unix://relative.sock");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("network_service_endpoint.url \"unix://relative.sock\" of \"nse-1\" "
                        "cannot be registered: "));
  r = Register("nse-1", "no scheme at all");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(recorder_->registered.empty()) << "next is not called";
  EXPECT_EQ(bypass_->size(), 0u);
}

TEST_F(LocalBypassTest, FailedFirstRegistrationForgetsTheEndpoint) {
  recorder_->fail = absl::UnavailableError("registry is down");
  auto r = Register("nse-1", kNseUrl);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(bypass_->size(), 0u);
  EXPECT_EQ(bypass_->LocalUrl("nse-1"), std::nullopt);
}

TEST_F(LocalBypassTest, FailedReRegistrationRestoresTheOldUrl) {
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  recorder_->fail = absl::UnavailableError("registry is down");
  EXPECT_FALSE(Register("nse-1", "unix:///run/nsm/other.sock").ok());
  EXPECT_EQ(bypass_->LocalUrl("nse-1"), kNseUrl);
  recorder_->fail = absl::OkStatus();
  EXPECT_THAT(FindThroughBypass(), ElementsAre(absl::StrCat("nse-1 ", kNseUrl)));
}

TEST_F(LocalBypassTest, UnregisterSendsTheNsmgrUrlAndForgets) {
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  NSE nse = Endpoint("nse-1", kNseUrl);
  ASSERT_TRUE(chain_->Unregister(ctx_, nse).ok());
  EXPECT_EQ(nse.url(), kNseUrl) << "the caller's endpoint is left as it was";
  EXPECT_THAT(recorder_->unregistered, ElementsAre(kNsmgrUrl));
  EXPECT_TRUE(FindUpstream().empty());
  EXPECT_EQ(bypass_->size(), 0u);
}

TEST_F(LocalBypassTest, FailedUnregisterStillForgets) {
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  recorder_->fail = absl::UnavailableError("registry is down");
  EXPECT_EQ(Unregister("nse-1").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(bypass_->size(), 0u) << "the endpoint is gone locally whatever upstream says";
}

TEST_F(LocalBypassTest, UnregisterOfAnUnknownNamePassesThroughUnchanged) {
  ASSERT_TRUE(Unregister("nse-x", "unix:///run/nsm/x.sock").ok());
  EXPECT_THAT(recorder_->unregistered, ElementsAre("unix:///run/nsm/x.sock"));
}

TEST_F(LocalBypassTest, FindDropsEntriesOfThisNsmgrThatAreNotLocal) {
  // Registered through this nsmgr before it restarted: upstream has them, nobody here knows them.
  NSE stale = Endpoint("nse-stale", kNsmgrUrl);
  ASSERT_TRUE(upstream_->Register(ctx_, stale, {}).ok());
  NSE remote = Endpoint("nse-remote", "tcp://10.0.0.2:5001");  // behind another nsmgr
  ASSERT_TRUE(upstream_->Register(ctx_, remote, {}).ok());
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  EXPECT_THAT(FindThroughBypass(),
              ElementsAre("nse-remote tcp://10.0.0.2:5001", absl::StrCat("nse-1 ", kNseUrl)));
}

TEST_F(LocalBypassTest, WatchRestoresUpdatesAndPassesDeletionsOfUnknownEntries) {
  NSE stale = Endpoint("nse-stale", kNsmgrUrl);
  ASSERT_TRUE(upstream_->Register(ctx_, stale, {}).ok());
  auto watch = BufferedFindStream<NSEResponse>::Create(ctx_);
  NSEQuery q;
  q.set_watch(true);
  ASSERT_TRUE(chain_->Find(ctx_, q, watch).ok());
  ASSERT_TRUE(Register("nse-1", kNseUrl).ok());
  ASSERT_TRUE(Register("nse-1", "unix:///run/nsm/nse-1-new.sock").ok());
  NSE gone = stale;
  ASSERT_TRUE(upstream_->Unregister(ctx_, gone, {}).ok());
  ASSERT_TRUE(Unregister("nse-1").ok());
  EXPECT_THAT(Describe(watch->Drain()),
              ElementsAre(absl::StrCat("nse-1 ", kNseUrl), "nse-1 unix:///run/nsm/nse-1-new.sock",
                          absl::StrCat("-nse-stale ", kNsmgrUrl),
                          // memory deletes the entry before localbypass forgets it
                          "-nse-1 unix:///run/nsm/nse-1-new.sock"));
  watch->Cancel();
}

// The nsmgr's NSE chain (nsmgr.md §3.3 without fd passing): local endpoints appear once in a Find
// and a watch (from local memory; the upstream copy carrying the nsmgr URL is dropped), endpoints
// of other nsmgrs come from upstream, and expiry unregisters through localbypass, so its state
// ends with the registration.
TEST(LocalBypassInNsmgrChain, FindAndExpiry) {
  auto clock = FakeClock::Create();
  Context ctx = Context::Background(clock);
  auto serialize = serialize::NewNSEServer();
  auto local = memory::NewNSEServer();
  auto bypass = NewNSEServer(kNsmgrUrl, {.local_store_first = true});
  auto upstream = memory::NewNSEServer();
  NSE remote = Endpoint("nse-remote", "tcp://10.0.0.2:5001");
  ASSERT_TRUE(upstream->Register(ctx, remote, {}).ok());
  NSERegistryServerChain chain(
      {serialize, expire::NewNSEServer(absl::Minutes(1)), local, bypass, upstream});

  auto watch = BufferedFindStream<NSEResponse>::Create(ctx);
  NSEQuery wq;
  wq.set_watch(true);
  ASSERT_TRUE(chain.Find(ctx, wq, watch).ok());
  NSE nse = Endpoint("nse-1", kNseUrl);
  auto r = chain.Register(ctx, nse);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(local->Get("nse-1")->url(), kNseUrl) << "memory stores the response";
  EXPECT_EQ(upstream->Get("nse-1")->url(), kNsmgrUrl);

  auto found = BufferedFindStream<NSEResponse>::Create(ctx);
  ASSERT_TRUE(chain.Find(ctx, NSEQuery(), found).ok());
  EXPECT_THAT(Describe(found->Drain()),
              ElementsAre(absl::StrCat("nse-1 ", kNseUrl), "nse-remote tcp://10.0.0.2:5001"));

  clock->Advance(absl::Minutes(1));
  serialize->executor()->RunSync("nse-1", [] {});  // the expiry work queued for the name
  EXPECT_EQ(bypass->size(), 0u);
  EXPECT_EQ(local->size(), 0u);
  EXPECT_EQ(upstream->size(), 1u) << "upstream got the unregistration";
  EXPECT_THAT(Describe(watch->Drain()),
              ElementsAre("nse-remote tcp://10.0.0.2:5001", absl::StrCat("nse-1 ", kNseUrl),
                          absl::StrCat("-nse-1 ", kNseUrl)));
  watch->Finish(absl::OkStatus());
}

}  // namespace
}  // namespace nsm::reg::localbypass

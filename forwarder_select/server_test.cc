// forwarder_select server: the P2MP example of nsmgr.md §5, selection by labels, NOT_FOUND answers
// naming wanted labels and forwarders, fail-over and the all-failed error, expiry (FakeClock),
// refresh through the stored forwarder, clearing it on failure (§13.1), falling back when it is
// gone, preferring the path's forwarder after a restart, Close routing (§13.2), least
// connections, another forwarder service name, copies, cancellation, bad input.
#include "forwarder_select/server.h"

#include <functional>
#include <map>
#include <optional>

#include "api/path.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/clienturl/clienturl.h"
#include "networkservice/metadata/metadata.h"
#include "registry/memory/memory.h"

namespace nsm::forwarder_select {
namespace {

using ::registry::Match;
using ::registry::NetworkService;
using ::registry::NetworkServiceEndpoint;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using StrMap = std::map<std::string, std::string>;

constexpr char kService[] = "svc";

std::string UrlOf(const std::string& forwarder) { return "unix:///run/nsm/" + forwarder + ".sock"; }

// Stands for the forwarders behind the nsmgr: records which one (by URL) got each call, fails for
// the names in `failing`.
class Forwarders : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    tried.push_back(NameOf(ctx));
    named.push_back(clienturl::NextHopName(ctx));
    md = metadata::FromContext(ctx);
    if (on_request) on_request();
    request.mutable_connection()->mutable_labels()->insert({"touched", "yes"});
    if (auto it = failing.find(tried.back()); it != failing.end()) return it->second;
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    closed.push_back(NameOf(ctx));
    closed_named.push_back(clienturl::NextHopName(ctx));
    return next.Close(ctx, conn);
  }
  static std::string NameOf(const Context& ctx) {
    auto url = clienturl::FromContext(ctx);
    if (!url) return "<no url>";
    std::string name = url->path.substr(std::string("/run/nsm/").size());
    return name.substr(0, name.size() - std::string(".sock").size());
  }
  std::map<std::string, absl::Status> failing;
  std::vector<std::string> tried;
  std::vector<std::string> closed;
  // The names given with the URLs (dial names the hop in its errors).
  std::vector<std::string> named;
  std::vector<std::string> closed_named;
  std::shared_ptr<metadata::MetaData> md;
  std::function<void()> on_request;
};

template <class T>
class FailingRegistry : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;
  absl::StatusOr<Item> Register(const Context&, Item&, const Next&, const CallOptions&) override {
    return absl::UnavailableError("registry is down");
  }
  absl::Status Find(const Context&, const Query&, const Stream&, const Next&,
                    const CallOptions&) override {
    return absl::UnavailableError("registry is down");
  }
  absl::Status Unregister(const Context&, Item&, const Next&, const CallOptions&) override {
    return absl::UnavailableError("registry is down");
  }
};

Match MatchOf(StrMap source, std::optional<StrMap> want, bool fallthrough = false) {
  Match m;
  for (const auto& [k, v] : source) (*m.mutable_source_selector())[k] = v;
  if (want) {
    m.mutable_metadata();
    for (const auto& [k, v] : *want) (*m.mutable_metadata()->mutable_labels())[k] = v;
  }
  m.set_fallthrough(fallthrough);
  return m;
}

class ForwarderSelectTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(); }

  void Build(Options options = {}) {
    select_ = NewServer(std::make_shared<RegistryServerToClient<NSTraits>>(services_),
                        std::make_shared<RegistryServerToClient<NSETraits>>(registrations_),
                        std::move(options));
    metadata_ = metadata::NewServer();  // a fresh metadata table is an nsmgr restart
    chain_ = MakeServerChain({metadata_, select_, forwarders_});
  }

  void AddForwarder(const std::string& name, std::optional<StrMap> labels = StrMap{{"p2p", "true"}},
                    std::optional<absl::Duration> lifetime = std::nullopt) {
    NetworkServiceEndpoint f;
    f.set_name(name);
    f.set_url(UrlOf(name));
    f.add_network_service_names("forwarder");
    if (labels) {
      auto& l = *(*f.mutable_network_service_labels())["forwarder"].mutable_labels();
      for (const auto& [k, v] : *labels) l[k] = v;
    }
    if (lifetime) *f.mutable_expiration_time() = api::ToProtoTimestamp(clock_->Now() + *lifetime);
    ASSERT_TRUE(registrations_->Register(ctx_, f, {}).ok());
  }
  void RemoveForwarder(const std::string& name) {
    NetworkServiceEndpoint f;
    f.set_name(name);
    ASSERT_TRUE(registrations_->Unregister(ctx_, f, {}).ok());
  }
  void SetService(std::vector<Match> matches) {
    NetworkService ns;
    ns.set_name(kService);
    ns.set_payload("ETHERNET");
    for (auto& m : matches) *ns.add_matches() = m;
    ASSERT_TRUE(services_->Register(ctx_, ns, {}).ok());
  }

  NetworkServiceRequest MakeRequest(const std::string& id, StrMap labels = {},
                                    std::vector<std::string> path = {}) {
    NetworkServiceRequest req;
    auto* conn = req.mutable_connection();
    conn->set_id(id);
    conn->set_network_service(kService);
    for (const auto& [k, v] : labels) (*conn->mutable_labels())[k] = v;
    for (const auto& name : path) conn->mutable_path()->add_path_segments()->set_name(name);
    if (!path.empty()) conn->mutable_path()->set_index(1);  // [nsc, nsmgr, forwarder...]
    return req;
  }
  absl::StatusOr<Connection> Request(const std::string& id, StrMap labels = {},
                                     std::vector<std::string> path = {}) {
    NetworkServiceRequest req = MakeRequest(id, std::move(labels), std::move(path));
    return chain_->Request(ctx_, req);
  }
  // The forwarder whose URL reached the rest of the chain for the last Request.
  std::string Last() const { return forwarders_->tried.empty() ? "" : forwarders_->tried.back(); }
  absl::Status Close(const std::string& id, std::vector<std::string> path = {}) {
    Connection conn = MakeRequest(id, {}, std::move(path)).connection();
    return chain_->Close(ctx_, conn);
  }

  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
  Context ctx_ = Context::Background(clock_);
  std::shared_ptr<reg::memory::NSServer> services_ = reg::memory::NewNSServer();
  std::shared_ptr<reg::memory::NSEServer> registrations_ = reg::memory::NewNSEServer();
  std::shared_ptr<Forwarders> forwarders_ = std::make_shared<Forwarders>();
  std::shared_ptr<Server> select_;
  std::shared_ptr<metadata::Server> metadata_;
  std::shared_ptr<ServerChain> chain_;
};

// nsmgr.md §5 example (sandbox Test_UsecasePoint2MultiPoint).
TEST_F(ForwarderSelectTest, PointToMultiPoint) {
  AddForwarder("fwd-p2mp", StrMap{{"p2mp", "true"}});
  AddForwarder("fwd-p2p", StrMap{{"p2p", "true"}});
  AddForwarder("fwd-special", StrMap{{"special", "true"}});
  SetService({MatchOf({}, StrMap{{"p2mp", "true"}})});
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_EQ(Last(), "fwd-p2mp");
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "fwd-p2mp");

  SetService({MatchOf({}, StrMap{})});  // re-registered with empty metadata labels
  ASSERT_TRUE(Request("conn-2").ok());
  EXPECT_EQ(Last(), "fwd-p2p") << "default labels p2p=true";
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_EQ(Last(), "fwd-p2mp") << "a refresh keeps its forwarder";
}

TEST_F(ForwarderSelectTest, ServiceWithoutMatchesUsesRegistrationOrder) {
  AddForwarder("fwd-a", StrMap{{"special", "true"}});
  AddForwarder("fwd-b");
  SetService({});
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_EQ(Last(), "fwd-a");
}

TEST_F(ForwarderSelectTest, SourceSelectorsFallthroughAndTemplates) {
  AddForwarder("fwd-special", StrMap{{"special", "true"}});
  AddForwarder("fwd-node-1", StrMap{{"nodeName", "node-1"}});
  AddForwarder("fwd-node-2", StrMap{{"nodeName", "node-2"}});
  SetService({MatchOf({{"app", "vpn"}}, StrMap{{"special", "true"}}),
              MatchOf({}, StrMap{{"nodeName", "{{.nodeName}}"}}, /*fallthrough=*/true),
              MatchOf({}, StrMap{{"special", "true"}})});
  ASSERT_TRUE(Request("conn-1", {{"app", "vpn"}, {"nodeName", "node-1"}}).ok());
  EXPECT_EQ(Last(), "fwd-special");
  ASSERT_TRUE(Request("conn-2", {{"nodeName", "node-2"}}).ok());
  EXPECT_EQ(Last(), "fwd-node-2");
  ASSERT_TRUE(Request("conn-3", {{"nodeName", "node-9"}}).ok());
  EXPECT_EQ(Last(), "fwd-special") << "fell through";
}

TEST_F(ForwarderSelectTest, NoQualifyingForwarderSaysWhatWasWantedAndWhatExists) {
  SetService({MatchOf({}, StrMap{{"p2mp", "true"}})});
  auto conn = Request("conn-1");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(),
            "no forwarder qualifies for network service svc: match #1 wants labels {p2mp=true}; "
            "no forwarder is registered");

  AddForwarder("fwd-p2p");
  AddForwarder("fwd-bare", std::nullopt);
  AddForwarder("fwd-p2mp", StrMap{{"p2mp", "true"}}, absl::Seconds(10));
  clock_->Advance(absl::Seconds(10));
  conn = Request("conn-1");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(),
            "no forwarder qualifies for network service svc: match #1 wants labels {p2mp=true}; "
            "forwarders: fwd-p2p {p2p=true}, fwd-bare (no labels for service forwarder), fwd-p2mp "
            "{p2mp=true} (expired)");
  EXPECT_TRUE(forwarders_->tried.empty());
  EXPECT_EQ(metadata_->size(), 0u) << "nothing kept for a failed first request";
}

TEST_F(ForwarderSelectTest, ServiceMustExist) {
  AddForwarder("fwd-a");
  NetworkService other;
  other.set_name("svc-2");
  ASSERT_TRUE(services_->Register(ctx_, other, {}).ok());
  auto conn = Request("conn-1");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(conn.status().message(), "network service svc is not found");
}

TEST_F(ForwarderSelectTest, ExpiredForwardersAreSkipped) {
  AddForwarder("fwd-a", StrMap{{"p2p", "true"}}, absl::Seconds(30));
  AddForwarder("fwd-b");
  SetService({});
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_EQ(Last(), "fwd-a");
  clock_->Advance(absl::Seconds(30));
  ASSERT_TRUE(Request("conn-2").ok());
  EXPECT_EQ(Last(), "fwd-b");
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_EQ(Last(), "fwd-b") << "an expired stored forwarder is selected again";
}

TEST_F(ForwarderSelectTest, FailsOverAndNamesEveryFailure) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  AddForwarder("fwd-c");
  NetworkServiceEndpoint bad;
  bad.set_name("fwd-bad-url");
  bad.set_url("unix://relative.sock");
  bad.add_network_service_names("forwarder");
  (*(*bad.mutable_network_service_labels())["forwarder"].mutable_labels())["p2p"] = "true";
  ASSERT_TRUE(registrations_->Register(ctx_, bad, {}).ok());
  SetService({});
  forwarders_->failing["fwd-a"] =
      MarkNextHopUnreachable(absl::UnavailableError("connection refused"));
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-b"));
  EXPECT_EQ(forwarders_->named, forwarders_->tried) << "each URL comes with the forwarder's name";
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "fwd-b");

  forwarders_->tried.clear();
  forwarders_->failing["fwd-b"] = absl::UnavailableError("deadline");
  forwarders_->failing["fwd-c"] = absl::UnavailableError("no route");
  auto conn = Request("conn-2");
  // fwd-a was unreachable a moment ago: it goes last.
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b", "fwd-c", "fwd-a"));
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "all 4 forwarders failed for network service svc: "
            "fwd-b (unix:///run/nsm/fwd-b.sock): UNAVAILABLE: deadline; "
            "fwd-c (unix:///run/nsm/fwd-c.sock): UNAVAILABLE: no route; "
            "fwd-bad-url (unix://relative.sock): FAILED_PRECONDITION: unusable url: " +
                std::string(api::ParseNsmUrl("unix://relative.sock").status().message()) +
                "; fwd-a (unix:///run/nsm/fwd-a.sock): UNAVAILABLE: connection refused");
}

TEST_F(ForwarderSelectTest, MixedFailureCodesAnswerUnavailable) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  forwarders_->failing["fwd-a"] = absl::PermissionDeniedError("no");
  forwarders_->failing["fwd-b"] = absl::PermissionDeniedError("no");
  EXPECT_EQ(Request("conn-1").status().code(), absl::StatusCode::kPermissionDenied);
  forwarders_->failing["fwd-b"] = absl::InternalError("bug");
  EXPECT_EQ(Request("conn-1").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ForwarderSelectTest, RefreshGoesToTheStoredForwarderWithoutLookingTheServiceUp) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  forwarders_->failing["fwd-a"] = absl::UnavailableError("down");
  ASSERT_TRUE(Request("conn-1").ok());
  forwarders_->failing.clear();
  forwarders_->tried.clear();
  NetworkService gone;
  gone.set_name(kService);
  ASSERT_TRUE(services_->Unregister(ctx_, gone, {}).ok());
  ASSERT_TRUE(Request("conn-1").ok()) << "no service lookup on refresh";
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b"));
}

TEST_F(ForwarderSelectTest, FailedRefreshClearsTheStoredForwarder) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  ASSERT_TRUE(Request("conn-1").ok());
  forwarders_->failing["fwd-a"] =
      MarkNextHopUnreachable(absl::UnavailableError("forwarder restarted"));
  auto conn = Request("conn-1");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "forwarder fwd-a (unix:///run/nsm/fwd-a.sock) failed; the next request selects a "
            "forwarder again: forwarder restarted");
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "");

  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b")) << "the unreachable fwd-a goes last";
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "fwd-b");
}

TEST_F(ForwarderSelectTest, UnreachableForwardersGoLastForAWhile) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  AddForwarder("fwd-c");
  SetService({});
  forwarders_->failing["fwd-a"] =
      MarkNextHopUnreachable(absl::UnavailableError("connection refused"));
  forwarders_->failing["fwd-b"] = absl::PermissionDeniedError("policy");  // reachable: no mark
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-b", "fwd-c"));

  forwarders_->failing.clear();
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-2").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b"));

  clock_->Advance(absl::Seconds(10));  // the default unreachable_last_for
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-3").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a")) << "registration order again";

  Build({.unreachable_last_for = absl::ZeroDuration()});
  forwarders_->failing["fwd-a"] = absl::DeadlineExceededError("dial");
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-4").ok());
  forwarders_->failing.clear();
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-5").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a")) << "off";
}

TEST_F(ForwarderSelectTest, AnUnavailableTheForwarderAnsweredDoesNotDemoteIt) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  // fwd-a was reached and answered UNAVAILABLE: its NSE is gone, fwd-a itself works.
  forwarders_->failing["fwd-a"] = absl::UnavailableError("failed to dial the NSE: refused");
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-b"));

  forwarders_->failing.clear();
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-2").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a")) << "still first";
}

TEST_F(ForwarderSelectTest, StoredForwarderGoneSelectsAgain) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-a-2");  // a longer name: exact lookup never takes it for fwd-a
  SetService({});
  ASSERT_TRUE(Request("conn-1").ok());
  RemoveForwarder("fwd-a");
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-1").ok()) << "v1.1.1 answered 'forwarder not found'";
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a-2"));
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "fwd-a-2");
}

TEST_F(ForwarderSelectTest, RegistryFailureKeepsItsCode) {
  select_ = NewServer(std::make_shared<FailingRegistry<NSTraits>>(),
                      std::make_shared<RegistryServerToClient<NSETraits>>(registrations_));
  chain_ = MakeServerChain({metadata_, select_, forwarders_});
  auto conn = Request("conn-1");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(conn.status().message(),
            "forwarder_select: find network service svc: registry is down");
}

TEST_F(ForwarderSelectTest, AfterRestartThePathsForwarderIsPreferred) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  AddForwarder("fwd-special", StrMap{{"special", "true"}});
  SetService({MatchOf({}, std::nullopt)});
  // The nsmgr restarted: no metadata, but the refresh carries the path it built before.
  ASSERT_TRUE(Request("conn-1", {}, {"nsc", "nsmgr", "fwd-b", "nse"}).ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b"));
  EXPECT_EQ(SelectedForwarder(*forwarders_->md), "fwd-b");

  // A path forwarder that does not qualify, or is no longer registered, is not preferred.
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-2", {}, {"nsc", "nsmgr", "fwd-special", "nse"}).ok());
  RemoveForwarder("fwd-b");
  ASSERT_TRUE(Request("conn-3", {}, {"nsc", "nsmgr", "fwd-b", "nse"}).ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-a"));
}

TEST_F(ForwarderSelectTest, PathIsNotPreferredOnceItsForwarderFailed) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  const std::vector<std::string> path = {"nsc", "nsmgr", "fwd-b", "nse"};
  ASSERT_TRUE(Request("conn-1", {}, path).ok());
  forwarders_->failing["fwd-b"] = absl::UnavailableError("down");
  EXPECT_FALSE(Request("conn-1", {}, path).ok());
  forwarders_->tried.clear();
  ASSERT_TRUE(Request("conn-1", {}, path).ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a")) << "fwd-b is not tried first again";
}

TEST_F(ForwarderSelectTest, CloseGoesToTheStoredForwarder) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  forwarders_->failing["fwd-a"] = absl::UnavailableError("down");
  ASSERT_TRUE(Request("conn-1").ok());
  auto md = forwarders_->md;
  // The path would say otherwise; the stored selection wins.
  ASSERT_TRUE(Close("conn-1", {"nsc", "nsmgr", "fwd-a"}).ok());
  EXPECT_THAT(forwarders_->closed, ElementsAre("fwd-b"));
  EXPECT_THAT(forwarders_->closed_named, ElementsAre("fwd-b"));
  EXPECT_EQ(SelectedForwarder(*md), "");
  EXPECT_EQ(metadata_->size(), 0u);
}

TEST_F(ForwarderSelectTest, CloseAfterRestartFollowsThePathAndAlwaysContinues) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  ASSERT_TRUE(Close("conn-1", {"nsc", "nsmgr", "fwd-b", "nse"}).ok());
  ASSERT_TRUE(Close("conn-2", {"nsc", "nsmgr", "fwd-gone", "nse"}).ok());
  ASSERT_TRUE(Close("conn-3", {"nsc", "nsmgr"}).ok());  // no segment at index+1
  ASSERT_TRUE(Close("conn-4").ok());                    // no path at all
  EXPECT_THAT(forwarders_->closed, ElementsAre("fwd-b", "<no url>", "<no url>", "<no url>"));

  select_ = NewServer(std::make_shared<RegistryServerToClient<NSTraits>>(services_),
                      std::make_shared<FailingRegistry<NSETraits>>());
  chain_ = MakeServerChain({metadata_, select_, forwarders_});
  ASSERT_TRUE(Close("conn-5", {"nsc", "nsmgr", "fwd-b", "nse"}).ok());
  EXPECT_EQ(forwarders_->closed.back(), "<no url>") << "registry down: still continues";
}

TEST_F(ForwarderSelectTest, LeastConnections) {
  auto policy = NewLeastConnections();
  Build({.policy = policy});
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  AddForwarder("fwd-c");
  SetService({});
  for (const char* id : {"c1", "c2", "c3", "c4"}) ASSERT_TRUE(Request(id).ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-b", "fwd-c", "fwd-a"));
  EXPECT_EQ(policy->connections("fwd-a"), 2u);

  ASSERT_TRUE(Request("c4").ok());  // a refresh does not count twice
  EXPECT_EQ(policy->connections("fwd-a"), 2u);

  ASSERT_TRUE(Close("c2").ok());
  EXPECT_EQ(policy->connections("fwd-b"), 0u);
  forwarders_->tried.clear();
  forwarders_->failing["fwd-b"] = absl::UnavailableError("down");
  ASSERT_TRUE(Request("c5").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-b", "fwd-c"));
  EXPECT_EQ(policy->connections("fwd-b"), 0u) << "a failed attempt holds nothing";
  EXPECT_EQ(policy->connections("fwd-c"), 2u);

  // A connection whose forwarder fails on refresh stops counting for it.
  forwarders_->failing["fwd-c"] = absl::UnavailableError("down");
  EXPECT_FALSE(Request("c3").ok());
  EXPECT_EQ(policy->connections("fwd-c"), 1u);

  for (const char* id : {"c1", "c3", "c4", "c5"}) ASSERT_TRUE(Close(id).ok());
  for (const char* f : {"fwd-a", "fwd-b", "fwd-c"}) EXPECT_EQ(policy->connections(f), 0u) << f;
}

TEST_F(ForwarderSelectTest, OtherForwarderServiceName) {
  Build({.forwarder_service_name = "vpp-forwarder"});
  AddForwarder("fwd-a");  // registered for "forwarder": not one of ours
  NetworkServiceEndpoint f;
  f.set_name("fwd-vpp");
  f.set_url(UrlOf("fwd-vpp"));
  f.add_network_service_names("vpp-forwarder");
  (*(*f.mutable_network_service_labels())["vpp-forwarder"].mutable_labels())["p2p"] = "true";
  ASSERT_TRUE(registrations_->Register(ctx_, f, {}).ok());
  SetService({MatchOf({}, std::nullopt)});
  ASSERT_TRUE(Request("conn-1").ok());
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-vpp"));
}

TEST_F(ForwarderSelectTest, BadInput) {
  NetworkServiceRequest req = MakeRequest("conn-1");
  req.mutable_connection()->clear_network_service();
  auto conn = chain_->Request(ctx_, req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conn.status().message(), "forwarder_select: connection.network_service is empty");

  auto bare = MakeServerChain({select_, forwarders_});  // no metadata element before it
  req = MakeRequest("conn-1");
  conn = bare->Request(ctx_, req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ForwarderSelectTest, CancelledRequestStopsTrying) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  auto [ctx, cancel] = ctx_.WithCancel();
  forwarders_->failing["fwd-a"] = absl::DeadlineExceededError("slow");
  forwarders_->on_request = cancel;  // the caller gives up while fwd-a is tried
  NetworkServiceRequest req = MakeRequest("conn-1");
  auto conn = chain_->Request(ctx, req);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(conn.status().message(),
              HasSubstr("gave up selecting a forwarder for network service svc after 1 of 2: "));
  EXPECT_THAT(conn.status().message(),
              HasSubstr("; tried: fwd-a (unix:///run/nsm/fwd-a.sock): DEADLINE_EXCEEDED: slow"));
  EXPECT_THAT(forwarders_->tried, ElementsAre("fwd-a"));
}

TEST_F(ForwarderSelectTest, CandidatesBeforeTheLastGetCopies) {
  AddForwarder("fwd-a");
  AddForwarder("fwd-b");
  SetService({});
  // fwd-a (tried first) fails after touching its request: fwd-b must get the request as it came.
  bool touched_when_b_tried = true;
  forwarders_->failing["fwd-a"] = absl::UnavailableError("fwd-a down");
  NetworkServiceRequest req = MakeRequest("conn-1");
  forwarders_->on_request = [&] {
    if (forwarders_->tried.back() == "fwd-b") {
      touched_when_b_tried = req.connection().labels().contains("touched");
    }
  };
  ASSERT_TRUE(chain_->Request(ctx_, req).ok());
  ASSERT_THAT(forwarders_->tried, ElementsAre("fwd-a", "fwd-b"));
  EXPECT_FALSE(touched_when_b_tried) << "fwd-a got a copy";
  EXPECT_TRUE(req.connection().labels().contains("touched")) << "the last candidate: no copy";
}

}  // namespace
}  // namespace nsm::forwarder_select

// excludedprefixes: pool normalisation, the YAML subset, the server's merge without duplicates and
// its reload on change (polled on the FakeClock), parse errors keeping the previous pool.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "networkservice/excludedprefixes/config.h"
#include "networkservice/excludedprefixes/prefix_pool.h"
#include "networkservice/excludedprefixes/server.h"

namespace nsm::excludedprefixes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Strings = std::vector<std::string>;

// --- pool -----------------------------------------------------------------------------------

TEST(PrefixPoolTest, SortsMergesAdjacentAndOverlappingPrefixes) {
  auto out = NormalizePrefixes({"172.16.1.0/24", "10.32.0.0/12", "10.96.0.0/12", "10.20.128.0/17",
                                "10.20.64.0/18", "10.20.8.0/21", "10.20.4.0/22"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, ElementsAre("10.20.4.0/22", "10.20.8.0/21", "10.20.64.0/18", "10.20.128.0/17",
                                "10.32.0.0/12", "10.96.0.0/12", "172.16.1.0/24"));
  EXPECT_THAT(*NormalizePrefixes({"10.0.1.0/24", "10.0.0.0/24"}), ElementsAre("10.0.0.0/23"));
  EXPECT_THAT(*NormalizePrefixes({"10.0.0.0/8", "10.1.2.0/24", "10.255.255.255/32"}),
              ElementsAre("10.0.0.0/8"));
}

TEST(PrefixPoolTest, DropsHostBitsAndPutsIpv4First) {
  EXPECT_THAT(*NormalizePrefixes({"fd00::1/64", "10.0.0.7/8", "2001:db8::/32"}),
              ElementsAre("10.0.0.0/8", "2001:db8::/32", "fd00::/64"));
}

TEST(PrefixPoolTest, WholeAddressSpaces) {
  EXPECT_THAT(*NormalizePrefixes({"0.0.0.0/0", "1.2.3.4/32"}), ElementsAre("0.0.0.0/0"));
  EXPECT_THAT(*NormalizePrefixes({"::/0", "::1/128"}), ElementsAre("::/0"));
  EXPECT_THAT(*NormalizePrefixes({"0.0.0.0/1", "128.0.0.0/1"}), ElementsAre("0.0.0.0/0"));
  EXPECT_THAT(*NormalizePrefixes({"255.255.255.255/32", "255.255.255.254/32"}),
              ElementsAre("255.255.255.254/31"));
  EXPECT_THAT(*NormalizePrefixes({}), IsEmpty());
}

TEST(PrefixPoolTest, UnalignedRangesSplitIntoBlocks) {
  // 10.0.0.0/24 + 10.0.1.0/25: the merged range 10.0.0.0 - 10.0.1.127.
  EXPECT_THAT(*NormalizePrefixes({"10.0.1.0/25", "10.0.0.0/24"}),
              ElementsAre("10.0.0.0/24", "10.0.1.0/25"));
  EXPECT_THAT(*NormalizePrefixes({"10.0.0.1/32", "10.0.0.2/31"}),
              ElementsAre("10.0.0.1/32", "10.0.0.2/31"));
}

TEST(PrefixPoolTest, InvalidPrefixIsNamed) {
  auto out = NormalizePrefixes({"10.0.0.0/8", "10.0.0.0/33"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("10.0.0.0/33"));
  EXPECT_FALSE(NormalizePrefixes({"not-a-cidr"}).ok());
}

// --- YAML -----------------------------------------------------------------------------------

TEST(ConfigTest, BlockListAsNsmWritesIt) {
  EXPECT_THAT(*ParsePrefixesYaml("prefixes:\n- 10.32.0.0/12\n- 10.96.0.0/12\n- 172.16.1.0/24"),
              ElementsAre("10.32.0.0/12", "10.96.0.0/12", "172.16.1.0/24"));
}

TEST(ConfigTest, IndentedQuotedCommentedAndCrlf) {
  const char* text =
      "---\r\n"
      "# excluded prefixes of this cluster\r\n"
      "prefixes:   # services and pods\r\n"
      "  - \"10.96.0.0/12\"  # services\r\n"
      "\r\n"
      "  - '10.244.0.0/16'\r\n"
      "  - fd00::/8\r\n";
  EXPECT_THAT(*ParsePrefixesYaml(text), ElementsAre("10.96.0.0/12", "10.244.0.0/16", "fd00::/8"));
}

TEST(ConfigTest, FlowLists) {
  EXPECT_THAT(*ParsePrefixesYaml("prefixes: [10.0.0.0/8, '192.168.0.0/16', \"fd00::/8\",]"),
              ElementsAre("10.0.0.0/8", "192.168.0.0/16", "fd00::/8"));
  EXPECT_THAT(*ParsePrefixesYaml("prefixes: [\n  10.0.0.0/8,\n  172.16.0.0/12\n]\n"),
              ElementsAre("10.0.0.0/8", "172.16.0.0/12"));
  EXPECT_THAT(*ParsePrefixesYaml("prefixes: []"), IsEmpty());
}

TEST(ConfigTest, NothingMeansNoPrefixes) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "prefixes:", "prefixes: ~",
                           "prefixes: null", "other: 1\n"}) {
    auto out = ParsePrefixesYaml(text);
    ASSERT_TRUE(out.ok()) << text << ": " << out.status();
    EXPECT_THAT(*out, IsEmpty()) << text;
  }
}

TEST(ConfigTest, OtherKeysAreSkippedAndTheKeyIsCaseInsensitive) {
  const char* text =
      "labels:\n"
      "  - a\n"
      "  - b\n"
      "extra:\n"
      "- not-ours\n"
      "nested:\n"
      "  key: value\n"
      "Prefixes:\n"
      "- 10.0.0.0/8\n"
      "after: [x]\n";
  EXPECT_THAT(*ParsePrefixesYaml(text), ElementsAre("10.0.0.0/8"));
}

TEST(ConfigTest, MalformedDocumentsNameTheLine) {
  struct Case {
    const char* text;
    const char* what;
  };
  const Case cases[] = {
      {"prefixes: 10.0.0.0/8", "line 1: prefixes must be a list"},
      {"- 10.0.0.0/8", "line 1: the document is a list"},
      {"prefixes:\n\t- 10.0.0.0/8", "line 2: tabs are not allowed"},
      {"prefixes:\n- a: b", "line 2: \"a: b\" is not a plain string"},
      {"prefixes:\n- - 10.0.0.0/8", "line 2:"},
      {"prefixes:\n-", "line 2: empty value"},
      {"prefixes:\n- x\nprefixes:\n- y", "line 3: `prefixes` is defined twice"},
      {"prefixes: [10.0.0.0/8,\n", "line 1: unterminated flow list"},
      {"prefixes:\n- '10.0.0.0/8", "line 2: unterminated quoted value"},
      {"prefixes:\n  - a\n    - b", "line 3: list items of `prefixes` are not aligned"},
      {"prefixes:\n  just text", "line 2: expected a list item"},
      {"just text", "line 1: expected \"<key>: <value>\""},
      {"  indented: 1", "line 1: unexpected indentation"},
  };
  for (const Case& c : cases) {
    auto out = ParsePrefixesYaml(c.text);
    ASSERT_FALSE(out.ok()) << c.text;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(out.status().message()), HasSubstr(c.what)) << c.text;
  }
}

// --- server ---------------------------------------------------------------------------------

class ExcludedPrefixesServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nsm-excluded-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/excluded_prefixes.yaml";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& text) {
    // Replace atomically, as config map updates do.
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }
  std::shared_ptr<Server> Make() {
    Options o;
    o.config_path = path_;
    o.poll_interval = absl::Seconds(1);
    o.clock = clock_;
    return NewServer(o);
  }
  Strings Excluded(const std::shared_ptr<Server>& server, Strings existing = {}) {
    auto chain = MakeServerChain({server});
    NetworkServiceRequest req;
    for (auto& p : existing) {
      req.mutable_connection()->mutable_context()->mutable_ip_context()->add_excluded_prefixes(p);
    }
    auto conn = chain->Request(Context::Background(clock_), req);
    EXPECT_TRUE(conn.ok()) << conn.status();
    const auto& got = conn->context().ip_context().excluded_prefixes();
    return Strings(got.begin(), got.end());
  }

  std::string dir_;
  std::string path_;
  std::shared_ptr<FakeClock> clock_ = FakeClock::Create();
};

TEST_F(ExcludedPrefixesServerTest, AppendsThePoolWithoutDuplicates) {
  Write(
      "prefixes:\n- 172.16.1.0/24\n- 10.32.0.0/12\n- 10.96.0.0/12\n- 10.20.128.0/17\n"
      "- 10.20.64.0/18\n- 10.20.8.0/21\n- 10.20.4.0/22\n");
  auto server = Make();
  EXPECT_THAT(Excluded(server, {"100.1.1.0/13", "10.32.0.0/12", "10.96.0.0/12", "10.20.0.0/24",
                                "10.20.128.0/17", "10.20.64.0/18", "10.20.16.0/20", "10.20.2.0/23",
                                "10.32.0.0/12"}),
              ElementsAre("100.1.1.0/13", "10.32.0.0/12", "10.96.0.0/12", "10.20.0.0/24",
                          "10.20.128.0/17", "10.20.64.0/18", "10.20.16.0/20", "10.20.2.0/23",
                          "10.20.4.0/22", "10.20.8.0/21", "172.16.1.0/24"));
}

TEST_F(ExcludedPrefixesServerTest, MissingFileMeansNoPrefixesAndCreatesTheIpContext) {
  auto server = Make();
  EXPECT_TRUE(server->last_error().ok());
  auto chain = MakeServerChain({server});
  NetworkServiceRequest req;
  auto conn = chain->Request(Context::Background(clock_), req);
  ASSERT_TRUE(conn.ok());
  EXPECT_TRUE(conn->context().has_ip_context());
  EXPECT_THAT(conn->context().ip_context().excluded_prefixes(), IsEmpty());
}

TEST_F(ExcludedPrefixesServerTest, ReloadsWhenTheFileAppearsChangesAndDisappears) {
  auto server = Make();
  EXPECT_THAT(Excluded(server), IsEmpty());

  Write("prefixes:\n- 10.80.0.0/12\n- 172.16.1.0/24\n");
  EXPECT_THAT(Excluded(server), IsEmpty());  // not before the next poll
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(Excluded(server), ElementsAre("10.80.0.0/12", "172.16.1.0/24"));

  Write("prefixes: [192.168.0.0/16]\n");
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(Excluded(server), ElementsAre("192.168.0.0/16"));
  const uint64_t reloads = server->reloads();
  clock_->Advance(absl::Seconds(5));  // unchanged content: no reload
  EXPECT_EQ(server->reloads(), reloads);

  std::filesystem::remove(path_);
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(Excluded(server), IsEmpty());
}

TEST_F(ExcludedPrefixesServerTest, BadContentKeepsThePreviousPool) {
  Write("prefixes:\n- 10.0.0.0/8\n");
  auto server = Make();
  EXPECT_THAT(server->prefixes(), ElementsAre("10.0.0.0/8"));

  Write("prefixes:\n- 10.0.0.0/99\n");
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(server->prefixes(), ElementsAre("10.0.0.0/8"));
  EXPECT_EQ(server->last_error().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server->last_error().message()), HasSubstr(path_));
  EXPECT_THAT(std::string(server->last_error().message()), HasSubstr("10.0.0.0/99"));

  Write("prefixes: oops\n");
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(server->prefixes(), ElementsAre("10.0.0.0/8"));
  EXPECT_THAT(std::string(server->last_error().message()), HasSubstr("must be a list"));

  Write("prefixes:\n- 10.1.0.0/16\n");
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(server->prefixes(), ElementsAre("10.1.0.0/16"));
  EXPECT_TRUE(server->last_error().ok());
}

TEST_F(ExcludedPrefixesServerTest, DestroyingTheServerStopsPolling) {
  {
    auto server = Make();
    EXPECT_EQ(clock_->PendingTimers(), 1u);
  }
  EXPECT_EQ(clock_->PendingTimers(), 0u);
}

TEST_F(ExcludedPrefixesServerTest, ClosePassesThrough) {
  auto chain = MakeServerChain({Make()});
  Connection c;
  EXPECT_TRUE(chain->Close(Context(), c).ok());
  EXPECT_FALSE(c.has_context());
}

}  // namespace
}  // namespace nsm::excludedprefixes

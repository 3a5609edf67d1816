// Tests of the process logger: text and JSON lines, fields, level filtering and run-time changes,
// repeat rate limiting on the FakeClock, token redaction (issue #8 "Logs").
#include "core/log.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "core/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace nsm::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Captured {
  std::shared_ptr<FakeClock> clock = FakeClock::Create(
      absl::FromCivil(absl::CivilSecond(2026, 11, 26, 15, 4, 5), absl::UTCTimeZone()) +
      absl::Milliseconds(42));
  std::vector<std::string> lines;
  Logger logger{[this](absl::string_view line) { lines.emplace_back(line); }, clock};
};

TEST(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("Trace"), Level::kTrace);
  EXPECT_FALSE(ParseLevel("verbose").ok());
  EXPECT_EQ(*ParseFormat("JSON"), Format::kJson);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  auto bad = ParseFormat("yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown log format \"yaml\" (want text or json)");
}

TEST(LogTest, TextLineWithFields) {
  Captured c;
  c.logger.Write(Level::kInfo, "nsmgr", "request done",
                 {{"id", "conn-1"}, {"service", "icmp responder"}, {"hops", 3}, {"empty", ""}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0],
            "2026-11-26T15:04:05.042Z [INFO] nsmgr: request done id=conn-1 "
            "service=\"icmp responder\" hops=3 empty=\"\"\n");
}

// A peer's error text with a newline cannot forge a second line; UTF-8 is kept as it is.
TEST(LogTest, TextLineEscapesControlCharactersInMessageAndComponent) {
  Captured c;
  c.logger.Write(Level::kError, "nsm\tgr", "dial failed: bad\n2026-11-26 [INFO] forged \x7f é");
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0],
            "2026-11-26T15:04:05.042Z [ERROR] nsm\\tgr: dial failed: bad\\n2026-11-26 [INFO] "
            "forged \\177 é\n");
}

TEST(LogTest, JsonLineWithFields) {
  Captured c;
  c.logger.SetFormat(Format::kJson);
  c.logger.Write(Level::kWarn, "registry", "say \"hi\"\n",
                 {{"id", "nse-1"}, {"count", 7}, {"took", absl::Milliseconds(1500)}, {"msg", "x"}});
  ASSERT_EQ(c.lines.size(), 1u);
  ASSERT_TRUE(absl::EndsWith(c.lines[0], "\n"));
  EXPECT_EQ(c.lines[0].find('\n'), c.lines[0].size() - 1) << "one line";
  auto j = nlohmann::json::parse(c.lines[0]);
  EXPECT_EQ(j["time"], "2026-11-26T15:04:05.042Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "registry");
  EXPECT_EQ(j["msg"], "say \"hi\"\n");
  EXPECT_EQ(j["id"], "nse-1");
  EXPECT_EQ(j["count"], 7);
  EXPECT_EQ(j["took"], "1.5s");
  EXPECT_EQ(j["fields.msg"], "x");
}

TEST(LogTest, JsonSurvivesInvalidUtf8) {
  Captured c;
  c.logger.SetFormat(Format::kJson);
  c.logger.Write(Level::kInfo, "c", std::string("bad \xff byte"));
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_NO_THROW(nlohmann::json::parse(c.lines[0]));
}

TEST(LogTest, LevelFiltersAndChangesOneStepAtATime) {
  Captured c;
  EXPECT_EQ(c.logger.level(), Level::kInfo);
  c.logger.Write(Level::kDebug, "c", "hidden");
  EXPECT_TRUE(c.lines.empty());
  EXPECT_FALSE(c.logger.Enabled(Level::kDebug));
  EXPECT_EQ(c.logger.RaiseLevel(), Level::kDebug);
  c.logger.Write(Level::kDebug, "c", "shown");
  EXPECT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.logger.RaiseLevel(), Level::kTrace);
  EXPECT_EQ(c.logger.RaiseLevel(), Level::kTrace) << "trace is the most verbose";
  c.logger.SetLevel(Level::kError);
  c.logger.Write(Level::kWarn, "c", "hidden");
  EXPECT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.logger.LowerLevel(), Level::kFatal);
  EXPECT_EQ(c.logger.LowerLevel(), Level::kPanic);
  EXPECT_EQ(c.logger.LowerLevel(), Level::kPanic);
  c.logger.Notice("c", "level changed");
  EXPECT_EQ(c.lines.size(), 2u) << "a notice is written at any level";
}

TEST(LogTest, RepeatedErrorIsWrittenOnceThenCounted) {
  Captured c;
  for (int i = 0; i < 5; ++i) c.logger.Write(Level::kError, "nsmgr", "cannot dial registry");
  c.logger.Write(Level::kError, "nsmgr", "another error");
  c.logger.Write(Level::kError, "forwarder", "cannot dial registry");
  ASSERT_EQ(c.lines.size(), 3u);
  EXPECT_THAT(c.lines[0], HasSubstr("nsmgr: cannot dial registry\n"));
  c.clock->Advance(absl::Seconds(9));
  EXPECT_EQ(c.lines.size(), 3u);
  c.clock->Advance(absl::Seconds(1));
  ASSERT_EQ(c.lines.size(), 4u);
  EXPECT_THAT(c.lines[3],
              HasSubstr("[ERROR] nsmgr: cannot dial registry (repeated 4 times in the last 10s) "
                        "repeated=4\n"));
  // The window is over: the next one is written at once and opens a new window.
  c.logger.Write(Level::kError, "nsmgr", "cannot dial registry");
  EXPECT_EQ(c.lines.size(), 5u);
  c.clock->Advance(absl::Seconds(10));
  EXPECT_EQ(c.lines.size(), 5u) << "no repeats, no summary";
}

TEST(LogTest, KeyedRepeatsGroupDifferentMessages) {
  Captured c;
  c.logger.SetFormat(Format::kJson);
  c.logger.WriteKeyed(Level::kWarn, "nsmgr", "dial forwarder", "cannot dial fwd-a",
                      {{"forwarder", "fwd-a"}});
  c.logger.WriteKeyed(Level::kWarn, "nsmgr", "dial forwarder", "cannot dial fwd-b",
                      {{"forwarder", "fwd-b"}});
  c.logger.WriteKeyed(Level::kWarn, "nsmgr", "dial forwarder", "cannot dial fwd-c",
                      {{"forwarder", "fwd-c"}});
  ASSERT_EQ(c.lines.size(), 1u);
  c.clock->Advance(absl::Seconds(10));
  ASSERT_EQ(c.lines.size(), 2u);
  auto j = nlohmann::json::parse(c.lines[1]);
  EXPECT_EQ(j["msg"], "cannot dial fwd-c (repeated 2 times in the last 10s)");
  EXPECT_EQ(j["forwarder"], "fwd-c");
  EXPECT_EQ(j["repeated"], 2);
}

TEST(LogTest, InfoIsNotRateLimitedAndZeroWindowTurnsLimitingOff) {
  Captured c;
  for (int i = 0; i < 3; ++i) c.logger.Write(Level::kInfo, "c", "same");
  EXPECT_EQ(c.lines.size(), 3u);
  c.logger.SetRepeatWindow(absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) c.logger.Write(Level::kError, "c", "same");
  EXPECT_EQ(c.lines.size(), 6u);
}

TEST(LogTest, DestroyingTheLoggerStopsPendingRepeats) {
  auto clock = FakeClock::Create();
  int lines = 0;
  {
    Logger logger([&](absl::string_view) { ++lines; }, clock);
    logger.Write(Level::kError, "c", "x");
    logger.Write(Level::kError, "c", "x");
  }
  clock->Advance(absl::Seconds(30));
  EXPECT_EQ(lines, 1);
}

::connection::Connection ConnectionWithTokens() {
  ::connection::Connection conn;
  conn.set_id("conn-1");
  conn.set_network_service("icmp");
  for (const char* name : {"nsc", "nsmgr-1", "forwarder-a", "nse"}) {
    auto* s = conn.mutable_path()->add_path_segments();
    s->set_name(name);
    s->set_id(absl::StrCat(name, "-id"));
    s->set_token(absl::StrCat("SECRET-TOKEN-of-", name));
  }
  return conn;
}

TEST(LogTest, TokensNeverAppear) {
  const auto conn = ConnectionWithTokens();
  EXPECT_EQ(HopNames(conn.path()), "nsc>nsmgr-1>forwarder-a>nse");
  const auto redacted = Redacted(conn);
  for (const auto& s : redacted.path().path_segments()) EXPECT_EQ(s.token(), "<redacted>");
  EXPECT_EQ(redacted.path().path_segments(1).id(), "nsmgr-1-id");
  EXPECT_EQ(conn.path().path_segments(0).token(), "SECRET-TOKEN-of-nsc") << "a copy";
  const std::string text = ConnectionForLog(conn);
  EXPECT_THAT(text, HasSubstr("conn-1"));
  EXPECT_THAT(text, Not(HasSubstr("SECRET")));

  for (Format f : {Format::kText, Format::kJson}) {
    Captured c;
    c.logger.SetFormat(f);
    c.logger.Write(Level::kInfo, "nsmgr", "request",
                   {{"path", HopNames(conn.path())}, {"conn", ConnectionForLog(conn)}});
    ASSERT_EQ(c.lines.size(), 1u);
    EXPECT_THAT(c.lines[0], Not(HasSubstr("SECRET")));
    EXPECT_THAT(c.lines[0], HasSubstr("forwarder-a"));
  }
}

}  // namespace
}  // namespace nsm::log

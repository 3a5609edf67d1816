// Tests of the shared start-up (core/cmd.h): arguments, invalid configuration, the order of
// extra and main services, exit codes, log set-up; signals are tested on the binaries.
#include "core/cmd.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::cmd {
namespace {

struct Config {
  log::Level log_level = log::Level::kWarn;
  log::Format log_format = log::Format::kText;
  std::string spiffe_endpoint_socket;
  int run_code = 0;
  int stop_code = 0;
};

Config Codes(int run, int stop) {
  Config c;
  c.run_code = run;
  c.stop_code = stop;
  return c;
}

struct Recorder {
  std::vector<std::string> events;
  StartFunc<Config> Starter(std::string name, bool fail = false) {
    return [this, name, fail](Process& p, Config& c) -> absl::StatusOr<std::unique_ptr<Service>> {
      events.push_back("start " + name);
      EXPECT_NE(p.credentials(), nullptr);
      if (fail) return absl::UnavailableError("cannot start " + name);
      return MakeService(
          [this, name, code = c.stop_code] {
            events.push_back("stop " + name);
            return name == "main" ? code : 0;
          },
          [this, name, code = c.run_code](Process&) {
            events.push_back("run " + name);
            return code;
          });
    };
  }
};

int RunWith(Command<Config> command, std::vector<std::string> args) {
  std::vector<char*> argv;
  std::string name = "test";
  argv.push_back(name.data());
  for (auto& a : args) argv.push_back(a.data());
  return RunCommand(std::move(command), static_cast<int>(argv.size()), argv.data());
}

Command<Config> MakeCommand(Recorder& r, absl::StatusOr<Config> config) {
  return {.name = "test",
          .help = [] { return std::string("help text\n"); },
          .parse = [config] { return config; },
          .describe = [](const Config&) { return std::string("described"); },
          .extras = {r.Starter("metrics"), r.Starter("debug")},
          .start = r.Starter("main"),
          .check_lock_order = true};  // the rest of this test binary keeps Abseil's check
}

TEST(CmdTest, HelpAndUnknownArguments) {
  Recorder r;
  EXPECT_EQ(RunWith(MakeCommand(r, Config{}), {"--help"}), 0);
  EXPECT_EQ(RunWith(MakeCommand(r, Config{}), {"--bogus"}), 2);
  auto command = MakeCommand(r, Codes(0, 0));
  bool once = false;
  command.flag = [&](absl::string_view arg) { return arg == "--once" && (once = true); };
  EXPECT_EQ(RunWith(command, {"--once"}), 0);
  EXPECT_TRUE(once);
}

TEST(CmdTest, InvalidConfigurationStartsNothing) {
  Recorder r;
  EXPECT_EQ(RunWith(MakeCommand(r, absl::InvalidArgumentError("NSM_X=\"y\" is invalid")), {}), 1);
  EXPECT_TRUE(r.events.empty());
}

// A binary's command re-executes itself for the malloc tuning before anything starts; a bad
// count stops it there, and 0 goes on without re-executing (this test process is still here).
TEST(CmdTest, TheMallocCountIsCheckedBeforeAnythingStarts) {
  Recorder r;
  auto command = MakeCommand(r, Codes(0, 0));
  command.tune_malloc = true;
  setenv("NSM_MALLOC_TCACHE_COUNT", "lots", 1);
  EXPECT_EQ(RunWith(command, {}), 1);
  EXPECT_TRUE(r.events.empty());
  setenv("NSM_MALLOC_TCACHE_COUNT", "0", 1);
  EXPECT_EQ(RunWith(command, {}), 0);
  EXPECT_THAT(r.events, ::testing::Contains("run main"));
  unsetenv("NSM_MALLOC_TCACHE_COUNT");
}

// The callback-thread count is checked with the configuration: a bad one starts nothing; 0 leaves
// gRPC's threads alone (this test process keeps its pool).
TEST(CmdTest, TheCallbackThreadCountIsCheckedWithTheConfiguration) {
  Recorder r;
  auto command = MakeCommand(r, Codes(0, 0));
  command.limit_callback_threads = true;
  setenv("NSM_GRPC_CALLBACK_THREADS", "many", 1);
  EXPECT_EQ(RunWith(command, {}), 1);
  EXPECT_TRUE(r.events.empty());
  setenv("NSM_GRPC_CALLBACK_THREADS", "0", 1);
  EXPECT_EQ(RunWith(command, {}), 0);
  EXPECT_THAT(r.events, ::testing::Contains("run main"));
  unsetenv("NSM_GRPC_CALLBACK_THREADS");
}

TEST(CmdTest, ExtrasStartFirstAndStopLastAndTheLogIsSetUp) {
  Recorder r;
  Config config;
  config.log_level = log::Level::kDebug;
  config.log_format = log::Format::kJson;
  EXPECT_EQ(RunWith(MakeCommand(r, config), {}), 0);
  EXPECT_THAT(r.events,
              ::testing::ElementsAre("start metrics", "start debug", "start main", "run main",
                                     "stop main", "stop debug", "stop metrics"));
  EXPECT_EQ(log::GetLevel(), log::Level::kDebug);
  EXPECT_EQ(log::Default().format(), log::Format::kJson);
  log::SetLevel(log::Level::kInfo);
  log::SetFormat(log::Format::kText);
}

TEST(CmdTest, ExitCodes) {
  Recorder r;
  EXPECT_EQ(RunWith(MakeCommand(r, Codes(1, 3)), {}), 1);
  EXPECT_EQ(RunWith(MakeCommand(r, Codes(0, 3)), {}), 3);
}

TEST(CmdTest, AFailedStartStopsTheExtrasStarted) {
  Recorder r;
  auto command = MakeCommand(r, Config{});
  command.start = r.Starter("main", /*fail=*/true);
  EXPECT_EQ(RunWith(command, {}), 1);
  EXPECT_THAT(r.events, ::testing::ElementsAre("start metrics", "start debug", "start main",
                                               "stop debug", "stop metrics"));
}

}  // namespace
}  // namespace nsm::cmd

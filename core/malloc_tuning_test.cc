// The GLIBC_TUNABLES value a binary re-executes with (core/malloc_tuning.h): the default count, the
// operator's own tunables kept, the operator's count winning, 0 turning it off, bad counts refused.
#include "core/malloc_tuning.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm::malloc_tuning {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(MallocTuningTest, UnsetMeansTheDefaultCount) {
  auto t = TunablesFor(nullptr, nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*t, Optional(std::string("glibc.malloc.tcache_count=256")));
}

TEST(MallocTuningTest, OtherTunablesAreKept) {
  auto t = TunablesFor("512", "glibc.malloc.arena_max=2:glibc.malloc.tcache_max=4096");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*t, Optional(std::string("glibc.malloc.arena_max=2:glibc.malloc.tcache_max=4096:"
                                       "glibc.malloc.tcache_count=512")));
  auto empty = TunablesFor("64", "");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(*empty, Optional(std::string("glibc.malloc.tcache_count=64")));
}

TEST(MallocTuningTest, TheOperatorsCountWinsAndZeroTurnsItOff) {
  auto set = TunablesFor("512", "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=7");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(*set, std::nullopt);
  auto off = TunablesFor("0", nullptr);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(*off, std::nullopt);
}

TEST(MallocTuningTest, ABadCountIsRefusedWithTheVariableAndValue) {
  for (const char* bad : {"lots", "-1", "65536", "", "12k"}) {
    auto t = TunablesFor(bad, nullptr);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(t.status().message(),
                HasSubstr(std::string("NSM_MALLOC_TCACHE_COUNT=\"") + bad + "\" is invalid"));
  }
  auto max = TunablesFor("65535", nullptr);
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_THAT(*max, Optional(std::string("glibc.malloc.tcache_count=65535")));
}

}  // namespace
}  // namespace nsm::malloc_tuning

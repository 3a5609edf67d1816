// Context: typed values, cancellation trees, deadlines on the fake clock, postponed contexts.
#include "core/context.h"

#include <string>

#include "core/fake_clock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

inline const TypedKey<std::string> kName{"name"};
inline const TypedKey<int> kNumber{"number"};
inline const TypedKey<std::string> kOtherName{"name"};  // same name, different key

TEST(ContextTest, ValuesAreTypedScopedAndShadowed) {
  Context root;
  EXPECT_EQ(root.Value(kName), nullptr);
  Context a = root.WithValue(kName, std::make_shared<std::string>("a"));
  Context b = a.WithValue(kNumber, std::make_shared<int>(7));
  Context c = b.WithValue(kName, std::make_shared<std::string>("c"));
  EXPECT_EQ(*a.Value(kName), "a");
  EXPECT_EQ(a.Value(kNumber), nullptr);
  EXPECT_EQ(*b.Value(kNumber), 7);
  EXPECT_EQ(*b.Value(kName), "a");
  EXPECT_EQ(*c.Value(kName), "c");
  EXPECT_EQ(c.Value(kOtherName), nullptr);
}

TEST(ContextTest, BackgroundIsNeverDone) {
  Context root;
  EXPECT_FALSE(root.cancelled());
  EXPECT_TRUE(root.Err().ok());
  EXPECT_FALSE(root.deadline().has_value());
  EXPECT_FALSE(root.remaining().has_value());
}

TEST(ContextTest, CancelReachesChildrenNotParents) {
  auto [parent, cancel_parent] = Context().WithCancel();
  auto [child, cancel_child] = parent.WithCancel();
  auto [grandchild, cancel_grandchild] = child.WithCancel();
  cancel_child();
  EXPECT_FALSE(parent.cancelled());
  EXPECT_TRUE(child.cancelled());
  EXPECT_TRUE(grandchild.cancelled());
  EXPECT_EQ(grandchild.Err().code(), absl::StatusCode::kCancelled);

  auto [other, cancel_other] = parent.WithCancel();
  cancel_parent();
  EXPECT_TRUE(other.cancelled());
}

TEST(ContextTest, ChildrenGetTheReasonAndUnlinkWhenTheyGo) {
  auto clock = FakeClock::Create();
  auto [parent, cancel_parent] = Context::Background(clock).WithTimeout(absl::Seconds(5));
  for (int i = 0; i < 1000; ++i) {
    auto [child, cancel_child] = parent.WithCancel();
    auto [grandchild, cancel_grandchild] = child.WithCancel();
  }
  EXPECT_EQ(parent.cancel_state()->linked_children(), 0u);  // a long-lived parent does not grow

  auto [child, cancel_child] = parent.WithCancel();
  auto [grandchild, cancel_grandchild] = child.WithCancel();
  EXPECT_EQ(parent.cancel_state()->linked_children(), 1u);
  clock->Advance(absl::Seconds(5));
  EXPECT_EQ(grandchild.Err().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(grandchild.cancel_state()->reason().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(parent.cancel_state()->linked_children(), 0u);

  // A child of a context that has ended is born ended, with the same reason.
  auto [late, cancel_late] = parent.WithCancel();
  EXPECT_EQ(late.cancel_state()->reason().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ContextTest, OnCancelRunsOnceAndRegistrationsUnregister) {
  auto [ctx, cancel] = Context().WithCancel();
  int calls = 0;
  int dropped_calls = 0;
  auto reg = ctx.cancel_state()->OnCancel([&] { ++calls; });
  {
    auto dropped = ctx.cancel_state()->OnCancel([&] { ++dropped_calls; });
  }
  cancel();
  cancel();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(dropped_calls, 0);
  // Registering on a cancelled context runs at once.
  int late = 0;
  auto none = ctx.cancel_state()->OnCancel([&] { ++late; });
  EXPECT_EQ(late, 1);
  EXPECT_EQ(none, nullptr);
}

TEST(ContextTest, DeadlineFollowsTheContextClock) {
  auto clock = FakeClock::Create();
  Context root = Context::Background(clock);
  auto [ctx, cancel] = root.WithTimeout(absl::Seconds(10));
  bool notified = false;
  auto reg = ctx.cancel_state()->OnCancel([&] { notified = true; });
  EXPECT_EQ(ctx.deadline(), clock->Now() + absl::Seconds(10));
  EXPECT_EQ(ctx.remaining(), absl::Seconds(10));
  clock->Advance(absl::Seconds(9));
  EXPECT_FALSE(ctx.cancelled());
  EXPECT_EQ(ctx.remaining(), absl::Seconds(1));
  clock->Advance(absl::Seconds(1));
  EXPECT_TRUE(ctx.cancelled());
  EXPECT_TRUE(notified);
  EXPECT_EQ(ctx.Err().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ContextTest, ChildDeadlineIsTheEarlierOne) {
  auto clock = FakeClock::Create();
  auto [outer, c1] = Context::Background(clock).WithTimeout(absl::Seconds(5));
  auto [inner, c2] = outer.WithTimeout(absl::Seconds(50));
  EXPECT_EQ(inner.deadline(), outer.deadline());
  clock->Advance(absl::Seconds(5));
  EXPECT_TRUE(inner.cancelled());
}

TEST(ContextTest, CancelledTimeoutReleasesItsTimer) {
  auto clock = FakeClock::Create();
  {
    auto [ctx, cancel] = Context::Background(clock).WithTimeout(absl::Seconds(5));
    EXPECT_EQ(clock->PendingTimers(), 1u);
  }
  EXPECT_EQ(clock->PendingTimers(), 0u);
  // Cancelling stops the deadline timer even while copies of the context live on.
  auto [ctx, cancel] = Context::Background(clock).WithTimeout(absl::Seconds(5));
  cancel();
  EXPECT_EQ(clock->PendingTimers(), 0u);
  EXPECT_TRUE(ctx.cancelled());
}

TEST(ContextTest, PostponedContextKeepsValuesAndRemainingTimeButNotCancellation) {
  auto clock = FakeClock::Create();
  auto [ctx, cancel] = Context::Background(clock)
                           .WithValue(kName, std::make_shared<std::string>("v"))
                           .WithTimeout(absl::Seconds(15));
  clock->Advance(absl::Seconds(5));
  PostponedContext later = ctx.Postpone();  // 10 s remain now
  cancel();
  clock->Advance(absl::Seconds(30));
  EXPECT_TRUE(ctx.cancelled());
  auto [fresh, fresh_cancel] = later.Make();
  EXPECT_FALSE(fresh.cancelled());
  EXPECT_EQ(*fresh.Value(kName), "v");
  EXPECT_EQ(fresh.remaining(), absl::Seconds(10));
  EXPECT_EQ(&fresh.clock(), clock.get());
  clock->Advance(absl::Seconds(10));
  EXPECT_TRUE(fresh.cancelled());
}

TEST(ContextTest, PostponedWithoutDeadlineHasNone) {
  auto [fresh, cancel] = Context().Postpone().Make();
  EXPECT_FALSE(fresh.deadline().has_value());
  EXPECT_FALSE(fresh.cancelled());
}

TEST(ContextTest, PeerAndMetadata) {
  Context ctx = Context()
                    .WithPeer(Peer{"unix:/tmp/x.sock", {"spiffe://example.org/nsc"}})
                    .WithIncomingMetadata({{"nsm-client-token", "t"}});
  EXPECT_EQ(ctx.peer().address, "unix:/tmp/x.sock");
  EXPECT_EQ(ctx.incoming_metadata().count("nsm-client-token"), 1u);
  EXPECT_TRUE(Context().peer().address.empty());
  EXPECT_TRUE(Context().incoming_metadata().empty());
}

}  // namespace
}  // namespace nsm

// ScratchLike: a scratch message shares its owner's arena (or is a local), so a Swap between the
// two moves the sub-messages themselves instead of copying them.
#include "core/arena.h"

#include "connection.pb.h"
#include "gtest/gtest.h"
#include "networkservice.pb.h"

namespace nsm {
namespace {

networkservice::NetworkServiceRequest* WithPreferences(networkservice::NetworkServiceRequest* r) {
  r->add_mechanism_preferences()->set_type("KERNEL");
  r->add_mechanism_preferences()->set_type("MEMIF");
  return r;
}

TEST(ScratchLikeTest, SharesTheArenaAndSwapsWithoutCopying) {
  google::protobuf::Arena arena;
  auto* request = WithPreferences(
      google::protobuf::Arena::CreateMessage<networkservice::NetworkServiceRequest>(&arena));
  const auto* first = &request->mechanism_preferences(0);
  ScratchLike<networkservice::NetworkServiceRequest> aside(*request);
  EXPECT_EQ(aside->GetArena(), &arena);
  aside->mutable_mechanism_preferences()->Swap(request->mutable_mechanism_preferences());
  EXPECT_EQ(request->mechanism_preferences_size(), 0);
  ASSERT_EQ(aside->mechanism_preferences_size(), 2);
  EXPECT_EQ(&aside->mechanism_preferences(0), first);  // the same object: moved, not copied
}

TEST(ScratchLikeTest, OnTheHeapWhenTheOwnerIsAndSwapsWithoutCopying) {
  networkservice::NetworkServiceRequest request;
  WithPreferences(&request);
  const auto* first = &request.mechanism_preferences(0);
  ScratchLike<networkservice::NetworkServiceRequest> aside(request);
  EXPECT_EQ(aside->GetArena(), nullptr);
  aside->mutable_mechanism_preferences()->Swap(request.mutable_mechanism_preferences());
  ASSERT_EQ(aside->mechanism_preferences_size(), 2);
  EXPECT_EQ(&aside->mechanism_preferences(0), first);
}

}  // namespace
}  // namespace nsm

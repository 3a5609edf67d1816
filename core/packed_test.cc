// Packed: a message kept in its wire form comes back equal, and takes less memory than the parsed
// form it replaces.
#include "core/packed.h"

#include "connection.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "networkservice.pb.h"

namespace nsm {
namespace {

::connection::Connection FourHops() {
  ::connection::Connection c;
  c.set_id("3f0e7a2c-1234-4cde-9abc-0123456789ab");
  c.set_network_service("svc");
  (*c.mutable_labels())["app"] = "a";
  c.mutable_mechanism()->set_type("KERNEL");
  (*c.mutable_mechanism()->mutable_parameters())["name"] = "nsm-1";
  c.mutable_context()->mutable_ip_context()->add_src_ip_addrs("172.16.0.1/32");
  for (const char* name : {"nsc", "nsmgr", "forwarder", "nse"}) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(name);
    s->set_id(c.id());
    s->set_token(std::string("insecure:") + name);
    s->mutable_expires()->set_seconds(1'800'000'000);
  }
  c.mutable_path()->set_index(1);
  c.set_state(::connection::State::DOWN);
  return c;
}

TEST(PackedTest, UnpacksWhatWasPacked) {
  const auto c = FourHops();
  Packed<::connection::Connection> packed(c);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(packed.Unpack(), c));

  networkservice::NetworkServiceRequest req;
  *req.mutable_connection() = c;
  req.add_mechanism_preferences()->set_type("MEMIF");
  Packed<networkservice::NetworkServiceRequest> packed_req(req);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(packed_req.Unpack(), req));
}

TEST(PackedTest, NothingPackedUnpacksToTheDefault) {
  Packed<::connection::Connection> empty;
  EXPECT_EQ(empty.bytes(), 0u);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(empty.Unpack(),
                                                                 ::connection::Connection()));
}

TEST(PackedTest, TakesAFractionOfTheParsedForm) {
  const auto c = FourHops();
  Packed<::connection::Connection> packed(c);
  EXPECT_LT(packed.bytes() * 3, c.SpaceUsedLong()) << packed.bytes() << " vs " << c.SpaceUsedLong();
}

}  // namespace
}  // namespace nsm

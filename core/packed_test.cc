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

// A request's connection alone (begin's Close), without parsing its mechanism preferences.
TEST(PackedTest, UnpacksOneMessageFieldAlone) {
  networkservice::NetworkServiceRequest req;
  *req.mutable_connection() = FourHops();
  for (const char* type : {"KERNEL", "MEMIF", "VFIO"}) {
    auto* m = req.add_mechanism_preferences();
    m->set_type(type);
    (*m->mutable_parameters())["name"] = type;
  }
  Packed<networkservice::NetworkServiceRequest> packed(req);
  const auto conn = packed.UnpackField<::connection::Connection>(
      networkservice::NetworkServiceRequest::kConnectionFieldNumber);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(conn, req.connection()));

  // Absent: the default message. A field number that is not a message field: nothing from it.
  networkservice::NetworkServiceRequest bare;
  bare.add_mechanism_preferences()->set_type("KERNEL");
  EXPECT_EQ(Packed<networkservice::NetworkServiceRequest>(bare)
                .UnpackField<::connection::Connection>(
                    networkservice::NetworkServiceRequest::kConnectionFieldNumber)
                .ByteSizeLong(),
            0u);
  EXPECT_EQ(Packed<networkservice::NetworkServiceRequest>()
                .UnpackField<::connection::Connection>(1)
                .ByteSizeLong(),
            0u);
}

TEST(PackedTest, UnpacksOneFieldIntoAMessageOnAnArena) {
  networkservice::NetworkServiceRequest req;
  *req.mutable_connection() = FourHops();
  req.add_mechanism_preferences()->set_type("KERNEL");
  Packed<networkservice::NetworkServiceRequest> packed(req);
  google::protobuf::Arena arena;
  auto* conn = google::protobuf::Arena::CreateMessage<::connection::Connection>(&arena);
  packed.UnpackField(networkservice::NetworkServiceRequest::kConnectionFieldNumber, conn);
  EXPECT_EQ(conn->GetArena(), &arena);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*conn, req.connection()));
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

TEST(PackedTest, EqualMessagesPackEqualWhateverTheirMapOrder) {
  // Labels and parameters inserted in opposite orders: maps are equal as maps.
  auto a = FourHops();
  auto b = FourHops();
  for (int i = 0; i < 20; ++i) (*a.mutable_labels())["k" + std::to_string(i)] = "v";
  for (int i = 19; i >= 0; --i) (*b.mutable_labels())["k" + std::to_string(i)] = "v";
  (*a.mutable_mechanism()->mutable_parameters())["x"] = "1";
  (*a.mutable_mechanism()->mutable_parameters())["y"] = "2";
  b.mutable_mechanism()->mutable_parameters()->erase("name");
  (*b.mutable_mechanism()->mutable_parameters())["y"] = "2";
  (*b.mutable_mechanism()->mutable_parameters())["x"] = "1";
  (*b.mutable_mechanism()->mutable_parameters())["name"] = "nsm-1";
  ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b));
  EXPECT_TRUE(Packed<::connection::Connection>(a) == Packed<::connection::Connection>(b));
}

TEST(PackedTest, DifferentMessagesPackDifferent) {
  const auto base = FourHops();
  const Packed<::connection::Connection> packed(base);
  auto state = base;
  state.set_state(::connection::State::UP);
  auto token = base;
  token.mutable_path()->mutable_path_segments(3)->set_token("insecure:other");
  auto label = base;
  (*label.mutable_labels())["app"] = "b";
  auto context = base;
  (*context.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.1";
  using P = Packed<::connection::Connection>;
  for (const auto& changed : {state, token, label, context}) {
    EXPECT_FALSE(packed == P(changed)) << changed.ShortDebugString();
  }
  EXPECT_TRUE(packed == P(base));
  EXPECT_FALSE(P() == P(base));
  EXPECT_TRUE(P() == P(::connection::Connection()));
}

}  // namespace
}  // namespace nsm

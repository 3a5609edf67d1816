// ConnectionFilter: the next hop's view mapped onto ours, DELETE as DOWN, foreign connections and
// unchanged ones dropped.
#include "networkservice/monitor/filter.h"

#include "gtest/gtest.h"

namespace nsm::monitor {
namespace {

using ::connection::Connection;
using ::connection::ConnectionEvent;
using ::connection::ConnectionEventType;

// Our connection at index 1 of nsc -> nsmgr -> forwarder.
Connection Ours() {
  Connection c;
  c.set_id("m-1");
  c.set_network_service("svc");
  for (auto [name, id] : {std::pair{"nsc", "c-1"}, {"nsmgr", "m-1"}, {"fwd", "f-1"}}) {
    auto* s = c.mutable_path()->add_path_segments();
    s->set_name(name);
    s->set_id(id);
  }
  c.mutable_path()->set_index(1);
  return c;
}

// The forwarder's view of the same connection.
Connection Theirs() {
  Connection c = Ours();
  c.set_id("f-1");
  c.mutable_path()->set_index(2);
  return c;
}

ConnectionEvent Event(ConnectionEventType type, const Connection& c) {
  ConnectionEvent e;
  e.set_type(type);
  (*e.mutable_connections())[c.id()] = c;
  return e;
}

TEST(FilterTest, MapsTheNextHopViewOntoOurs) {
  ConnectionFilter f(Ours());
  Connection theirs = Theirs();
  (*theirs.mutable_context()->mutable_extra_context())["k"] = "v";
  theirs.mutable_path()->mutable_path_segments(2)->set_token("new-token");
  auto out = f.Apply(Event(ConnectionEventType::UPDATE, theirs));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id(), "m-1");
  EXPECT_EQ(out[0].path().index(), 1u);
  EXPECT_EQ(out[0].path().path_segments(2).token(), "new-token");
  EXPECT_EQ(out[0].context().extra_context().at("k"), "v");
  EXPECT_EQ(out[0].state(), ::connection::State::UP);
  EXPECT_EQ(f.base().context().extra_context().at("k"), "v");
  // The same again is no news.
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::UPDATE, theirs)).empty());
}

TEST(FilterTest, DeleteAndDownBecomeDown) {
  ConnectionFilter f(Ours());
  auto out = f.Apply(Event(ConnectionEventType::DELETE, Theirs()));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state(), ::connection::State::DOWN);

  ConnectionFilter g(Ours());
  Connection down = Theirs();
  down.set_state(::connection::State::DOWN);
  out = g.Apply(Event(ConnectionEventType::UPDATE, down));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state(), ::connection::State::DOWN);
}

TEST(FilterTest, UnchangedInitialStateIsNoNews) {
  ConnectionFilter f(Ours());
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::INITIAL_STATE_TRANSFER, Theirs())).empty());
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::INITIAL_STATE_TRANSFER, Ours())).empty());
}

TEST(FilterTest, ForeignConnectionsAreIgnored) {
  ConnectionFilter f(Ours());
  Connection other = Theirs();
  other.mutable_path()->mutable_path_segments(1)->set_id("m-2");  // not our id at our index
  other.set_state(::connection::State::DOWN);
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::UPDATE, other)).empty());

  Connection far = Theirs();
  far.mutable_path()->set_index(0);  // neither our index nor the next
  far.set_state(::connection::State::DOWN);
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::UPDATE, far)).empty());

  Connection shorter;
  shorter.set_id("x");
  shorter.mutable_path()->add_path_segments()->set_id("m-1");
  EXPECT_TRUE(f.Apply(Event(ConnectionEventType::DELETE, shorter)).empty());
}

}  // namespace
}  // namespace nsm::monitor

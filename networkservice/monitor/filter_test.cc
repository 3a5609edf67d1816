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

// What Map builds, made here the slow way: the base with x's path (our index), context and state.
bool ChangesBase(const Connection& base, ConnectionEventType type, const Connection& x) {
  Connection mapped = base;
  *mapped.mutable_path() = x.path();
  mapped.mutable_path()->set_index(base.path().index());
  if (x.has_context()) {
    *mapped.mutable_context() = x.context();
  } else {
    mapped.clear_context();
  }
  mapped.set_state(type == ConnectionEventType::DELETE ? ::connection::State::DOWN : x.state());
  return !(Packed<Connection>(mapped) == Packed<Connection>(base));
}

// `x` in a wire form whose path has its index field after the segments (still the same message).
std::string IndexLast(const Connection& x) {
  Connection rest = x;
  rest.clear_path();
  ::connection::Path segments_only = x.path();
  segments_only.set_index(0);
  ::connection::Path index_only;
  index_only.set_index(x.path().index());
  const std::string path = DeterministicBytes(segments_only) + DeterministicBytes(index_only);
  std::string out = DeterministicBytes(rest);
  out += static_cast<char>(0x32);  // field 6, length-delimited
  uint8_t size[5];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(path.size()), size);
  out.append(reinterpret_cast<const char*>(size), end - size);
  out += path;
  Connection check;
  EXPECT_TRUE(check.ParseFromString(out));
  EXPECT_EQ(DeterministicBytes(check), DeterministicBytes(x));
  return out;
}

// Unchanged (the wire-level check that spares Map the unpacking) agrees with the slow answer for
// bases and events that differ in every field Map replaces, and in none.
TEST(FilterTest, TheWireCheckAgreesWithTheMappedConnection) {
  auto with_details = [](Connection c) {
    auto* seg = c.mutable_path()->mutable_path_segments(1);
    seg->set_token("token-1");
    seg->mutable_expires()->set_seconds(1700000000);
    (*seg->mutable_metrics())["b"] = "2";
    (*seg->mutable_metrics())["a"] = "1";
    (*c.mutable_context()->mutable_extra_context())["ip"] = "10.0.0.1/32";
    (*c.mutable_labels())["app"] = "x";
    return c;
  };
  std::vector<Connection> bases = {Ours(), with_details(Ours())};
  Connection at_zero = Ours();  // our index 0: the path has no index field
  at_zero.mutable_path()->set_index(0);
  at_zero.set_id("c-1");
  bases.push_back(at_zero);
  Connection down = with_details(Ours());
  down.set_state(::connection::State::DOWN);
  bases.push_back(down);
  Connection deep = with_details(Ours());  // an index of two varint bytes
  while (deep.path().path_segments_size() < 202) deep.mutable_path()->add_path_segments();
  deep.mutable_path()->set_index(200);
  bases.push_back(deep);
  Connection unknown = with_details(Ours());  // a field of a newer API in the path
  unknown.mutable_path()
      ->GetReflection()
      ->MutableUnknownFields(unknown.mutable_path())
      ->AddVarint(99, 7);
  bases.push_back(unknown);

  int unchanged = 0;
  for (const Connection& base : bases) {
    std::vector<Connection> events;
    for (uint32_t index : {base.path().index(), base.path().index() + 1}) {
      Connection x = base;  // the same connection seen from our index or the next
      x.mutable_path()->set_index(index);
      events.push_back(x);
      Connection no_context = x;
      no_context.clear_context();
      events.push_back(no_context);
      Connection empty_context = x;
      empty_context.mutable_context()->Clear();
      events.push_back(empty_context);
      Connection token = x;
      token.mutable_path()->mutable_path_segments(2)->set_token("token-2");
      events.push_back(token);
      Connection expires = x;
      expires.mutable_path()->mutable_path_segments(1)->mutable_expires()->set_nanos(5);
      events.push_back(expires);
      Connection metrics = x;
      (*metrics.mutable_path()->mutable_path_segments(1)->mutable_metrics())["c"] = "3";
      events.push_back(metrics);
      Connection up = x;
      up.set_state(::connection::State::UP);
      events.push_back(up);
      Connection is_down = x;
      is_down.set_state(::connection::State::DOWN);
      events.push_back(is_down);
      Connection refresh = x;  // another state that is written (not the default)
      refresh.set_state(::connection::State::REFRESH_REQUESTED);
      events.push_back(refresh);
      Connection other_fields = x;  // fields Map does not take from x
      other_fields.set_network_service("other");
      (*other_fields.mutable_labels())["app"] = "y";
      events.push_back(other_fields);
      Connection longer = x;
      longer.mutable_path()->add_path_segments()->set_id("n-1");
      events.push_back(longer);
      Connection newer = x;  // a field of a newer API in x's path, or another value of it
      newer.mutable_path()
          ->GetReflection()
          ->MutableUnknownFields(newer.mutable_path())
          ->AddVarint(99, 8);
      events.push_back(newer);
      Connection bare = x;  // no unknown field in x's path
      bare.mutable_path()->GetReflection()->MutableUnknownFields(bare.mutable_path())->Clear();
      events.push_back(bare);
    }
    for (const Connection& x : events) {
      for (auto type : {ConnectionEventType::UPDATE, ConnectionEventType::DELETE,
                        ConnectionEventType::INITIAL_STATE_TRANSFER}) {
        ConnectionFilter f(base);
        const bool changes = ChangesBase(base, type, x);
        EXPECT_EQ(f.Unchanged(type, x), !changes) << "base " << base.ShortDebugString() << "\nx "
                                                  << x.ShortDebugString() << "\ntype " << type;
        if (!changes) ++unchanged;
        // Map agrees: nothing when unchanged, the new base otherwise.
        auto mapped = f.Map(type, x);
        EXPECT_EQ(mapped.has_value(), changes);

        // The same on x's wire form, as our peers send it (deterministic).
        const std::string bytes = DeterministicBytes(x);
        auto view = ConnectionWire::Read(bytes);
        ASSERT_TRUE(view);
        ConnectionFilter g(base);
        EXPECT_EQ(g.Unchanged(type, *view), !changes) << x.ShortDebugString() << " " << type;
        EXPECT_EQ(g.Map(type, *view).has_value(), changes);

        // As protobuf writes it by default (maps in the order of their hash tables, as a Go peer
        // writes them in random order): Map finds what really changed, whatever the order.
        const std::string plain = x.SerializeAsString();
        auto unordered = ConnectionWire::Read(plain);
        ASSERT_TRUE(unordered);
        ConnectionFilter k(base);
        EXPECT_EQ(k.Map(type, *unordered).has_value(), changes);

        // A peer writing the path's index after its segments: the check may only say "changed",
        // and Map still finds what really changed.
        const std::string reordered = IndexLast(x);
        auto late = ConnectionWire::Read(reordered);
        ASSERT_TRUE(late);
        ConnectionFilter h(base);
        if (x.path().index() != 0) {
          EXPECT_FALSE(h.Unchanged(type, *late));
        }
        EXPECT_EQ(h.Map(type, *late).has_value(), changes);
      }
    }
  }
  EXPECT_GT(unchanged, 10) << "the cases must include unchanged ones";
}

}  // namespace
}  // namespace nsm::monitor

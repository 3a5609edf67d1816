// connection filter: maps the next hop's monitor events onto this hop's connection (DELETE means
// DOWN) and reports only changes (nsmgr.md §4.4 "connection filter", §7.2).
#pragma once

#include <optional>
#include <vector>

#include "connection.pb.h"
#include "core/packed.h"
#include "networkservice/monitor/wire.h"

namespace nsm::monitor {

class ConnectionFilter {
 public:
  // A changed connection (see Map).
  struct Mapped {
    ::connection::Connection conn;
    Packed<::connection::Connection> packed;
  };

  // `base` is this hop's connection in its own view (id = own segment id, path.index = own index).
  explicit ConnectionFilter(const ::connection::Connection& base) { Rebase(base); }

  // For each connection x of `event` (state DOWN when the event is a DELETE) that is ours — x has
  // our segment id at our index and x.path.index is our index or the next — builds our connection
  // with x's path (index reset to ours), context and state. Returns those that differ from the
  // current base, each becoming the new base.
  std::vector<::connection::Connection> Apply(const ::connection::ConnectionEvent& event);

  // Apply for one connection `x` of an event of `type`, x being ours (IsOurs): the new base and
  // its packed form (for a store, so that it is not packed twice), or nullopt when nothing changed.
  std::optional<Mapped> Map(::connection::ConnectionEventType type,
                            const ::connection::Connection& x);
  // The same for `x` in its wire form: parsed only when it may change something. Nullopt too
  // when it does not parse (a string that is not UTF-8, a malformed field the view did not read):
  // such an event is ignored for this connection.
  std::optional<Mapped> Map(::connection::ConnectionEventType type, const ConnectionWire& x);

  // The first connection of `event` that is ours (as Apply decides), or null.
  const ::connection::Connection* Ours(const ::connection::ConnectionEvent& event) const;
  // Whether `x` is ours: our segment id at our index, x.path.index our index or the next.
  bool IsOurs(const ::connection::Connection& x) const;
  bool IsOurs(const ConnectionWire& x) const;
  // Whether Map(type, x) would find nothing changed, decided on the wire forms without unpacking
  // the base: the mapped connection differs from the base only in path, context and state, so
  // their bytes are compared field by field. False may be a change too many (Map then decides),
  // never a change missed.
  bool Unchanged(::connection::ConnectionEventType type, const ::connection::Connection& x) const;
  // The same on x's own bytes: a peer that writes maps in another order than ours (Go does) gets
  // "changed" for a map that is not, and Map compares the parsed forms.
  bool Unchanged(::connection::ConnectionEventType type, const ConnectionWire& x) const;

  // The base is kept packed (one per watched connection): base() unpacks a copy.
  ::connection::Connection base() const { return base_.Unpack(); }
  ::connection::State base_state() const { return state_; }
  void Rebase(const ::connection::Connection& base);
  // The same with `packed` = Packed(base), made by the caller already.
  void Rebase(const ::connection::Connection& base, Packed<::connection::Connection> packed);

 private:
  // Unchanged on x's state, whether it has a context, its context's and its path's bytes.
  bool UnchangedWire(::connection::ConnectionEventType type, int x_state, bool has_context,
                     absl::string_view context, absl::string_view path) const;
  // Map past the Unchanged check.
  std::optional<Mapped> MapParsed(::connection::ConnectionEventType type,
                                  const ::connection::Connection& x);

  std::string id_;
  uint32_t index_ = 0;
  ::connection::State state_ = ::connection::State::UP;
  Packed<::connection::Connection> base_;
};

}  // namespace nsm::monitor

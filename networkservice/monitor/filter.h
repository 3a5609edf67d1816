// connection filter: maps the next hop's monitor events onto this hop's connection (DELETE means
// DOWN) and reports only changes (nsmgr.md §4.4 "connection filter", §7.2).
#pragma once

#include <vector>

#include "connection.pb.h"

namespace nsm::monitor {

class ConnectionFilter {
 public:
  // `base` is this hop's connection in its own view (id = own segment id, path.index = own index).
  explicit ConnectionFilter(::connection::Connection base) : base_(std::move(base)) {}

  // For each connection x of `event` (state DOWN when the event is a DELETE) that is ours — x has
  // our segment id at our index and x.path.index is our index or the next — builds our connection
  // with x's path (index reset to ours), context and state. Returns those that differ from the
  // current base, each becoming the new base.
  std::vector<::connection::Connection> Apply(const ::connection::ConnectionEvent& event);

  // The first connection of `event` that is ours (as Apply decides), or null.
  const ::connection::Connection* Ours(const ::connection::ConnectionEvent& event) const;

  const ::connection::Connection& base() const { return base_; }
  void Rebase(::connection::Connection base) { base_ = std::move(base); }

 private:
  bool IsOurs(const ::connection::Connection& x) const;
  ::connection::Connection base_;
};

}  // namespace nsm::monitor

#include "networkservice/monitor/filter.h"

#include <utility>

namespace nsm::monitor {

void ConnectionFilter::Rebase(const ::connection::Connection& base) {
  id_ = base.id();
  index_ = base.path().index();
  state_ = base.state();
  base_ = Packed<::connection::Connection>(base);
}

bool ConnectionFilter::IsOurs(const ::connection::Connection& x) const {
  const auto& segments = x.path().path_segments();
  if (segments.size() < static_cast<int>(index_) + 1) return false;
  if (segments[static_cast<int>(index_)].id() != id_) return false;
  return x.path().index() == index_ || x.path().index() == index_ + 1;
}

const ::connection::Connection* ConnectionFilter::Ours(
    const ::connection::ConnectionEvent& event) const {
  for (const auto& [key, x] : event.connections()) {
    if (IsOurs(x)) return &x;
  }
  return nullptr;
}

std::vector<::connection::Connection> ConnectionFilter::Apply(
    const ::connection::ConnectionEvent& event) {
  std::vector<::connection::Connection> out;
  const bool deleted = event.type() == ::connection::ConnectionEventType::DELETE;
  for (const auto& [key, x] : event.connections()) {
    if (!IsOurs(x)) continue;
    // Built on the base as it is now (an event rarely carries more than one of ours).
    ::connection::Connection mapped = base_.Unpack();
    *mapped.mutable_path() = x.path();
    mapped.mutable_path()->set_index(index_);
    if (x.has_context()) {
      *mapped.mutable_context() = x.context();
    } else {
      mapped.clear_context();
    }
    mapped.set_state(deleted ? ::connection::State::DOWN : x.state());
    Packed<::connection::Connection> packed(mapped);
    if (packed == base_) continue;  // nothing changed
    state_ = mapped.state();        // id and index stay ours
    base_ = std::move(packed);
    out.push_back(std::move(mapped));
  }
  return out;
}

}  // namespace nsm::monitor

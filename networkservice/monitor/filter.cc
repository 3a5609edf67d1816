#include "networkservice/monitor/filter.h"

#include <utility>

namespace nsm::monitor {

void ConnectionFilter::Rebase(const ::connection::Connection& base) {
  Rebase(base, Packed<::connection::Connection>(base));
}

void ConnectionFilter::Rebase(const ::connection::Connection& base,
                              Packed<::connection::Connection> packed) {
  id_ = base.id();
  index_ = base.path().index();
  state_ = base.state();
  base_ = std::move(packed);
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
  for (const auto& [key, x] : event.connections()) {
    if (!IsOurs(x)) continue;
    // Built on the base as it is now (an event rarely carries more than one of ours).
    if (auto mapped = Map(event.type(), x)) out.push_back(std::move(mapped->conn));
  }
  return out;
}

std::optional<ConnectionFilter::Mapped> ConnectionFilter::Map(
    ::connection::ConnectionEventType type, const ::connection::Connection& x) {
  ::connection::Connection mapped = base_.Unpack();
  *mapped.mutable_path() = x.path();
  mapped.mutable_path()->set_index(index_);
  if (x.has_context()) {
    *mapped.mutable_context() = x.context();
  } else {
    mapped.clear_context();
  }
  const bool deleted = type == ::connection::ConnectionEventType::DELETE;
  mapped.set_state(deleted ? ::connection::State::DOWN : x.state());
  Packed<::connection::Connection> packed(mapped);
  if (packed == base_) return std::nullopt;  // nothing changed
  state_ = mapped.state();                   // id and index stay ours
  base_ = packed;
  return Mapped{std::move(mapped), std::move(packed)};
}

}  // namespace nsm::monitor

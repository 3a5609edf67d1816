#include "networkservice/monitor/filter.h"

#include "google/protobuf/util/message_differencer.h"

namespace nsm::monitor {

bool ConnectionFilter::IsOurs(const ::connection::Connection& x) const {
  const uint32_t i = base_.path().index();
  const auto& segments = x.path().path_segments();
  if (segments.size() < static_cast<int>(i) + 1) return false;
  if (segments[static_cast<int>(i)].id() != base_.id()) return false;
  return x.path().index() == i || x.path().index() == i + 1;
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
    const uint32_t i = base_.path().index();
    ::connection::Connection mapped = base_;
    *mapped.mutable_path() = x.path();
    mapped.mutable_path()->set_index(i);
    if (x.has_context()) {
      *mapped.mutable_context() = x.context();
    } else {
      mapped.clear_context();
    }
    mapped.set_state(deleted ? ::connection::State::DOWN : x.state());
    if (google::protobuf::util::MessageDifferencer::Equals(mapped, base_)) continue;
    base_ = mapped;
    out.push_back(std::move(mapped));
  }
  return out;
}

}  // namespace nsm::monitor

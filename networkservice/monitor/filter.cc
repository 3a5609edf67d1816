#include "networkservice/monitor/filter.h"

#include "google/protobuf/util/message_differencer.h"

namespace nsm::monitor {

std::vector<::connection::Connection> ConnectionFilter::Apply(
    const ::connection::ConnectionEvent& event) {
  std::vector<::connection::Connection> out;
  const bool deleted = event.type() == ::connection::ConnectionEventType::DELETE;
  for (const auto& [key, x] : event.connections()) {
    const uint32_t i = base_.path().index();
    const auto& segments = x.path().path_segments();
    if (segments.size() < static_cast<int>(i) + 1) continue;
    if (segments[static_cast<int>(i)].id() != base_.id()) continue;
    if (x.path().index() != i && x.path().index() != i + 1) continue;
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

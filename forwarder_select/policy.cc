#include "forwarder_select/policy.h"

#include <algorithm>

namespace nsm::forwarder_select {

class LeastConnections::CountedLease : public Lease {
 public:
  CountedLease(std::shared_ptr<Counts> counts, std::string forwarder)
      : counts_(std::move(counts)), forwarder_(std::move(forwarder)) {
    absl::MutexLock lock(&counts_->mu);
    ++counts_->by_forwarder[forwarder_];
  }
  ~CountedLease() override {
    absl::MutexLock lock(&counts_->mu);
    auto it = counts_->by_forwarder.find(forwarder_);
    if (it != counts_->by_forwarder.end() && --it->second == 0) counts_->by_forwarder.erase(it);
  }

 private:
  std::shared_ptr<Counts> counts_;
  std::string forwarder_;
};

LeastConnections::LeastConnections() : counts_(std::make_shared<Counts>()) {}

std::vector<::registry::NetworkServiceEndpoint> LeastConnections::Order(
    std::vector<::registry::NetworkServiceEndpoint> forwarders) const {
  std::vector<size_t> load(forwarders.size());
  {
    absl::MutexLock lock(&counts_->mu);
    for (size_t i = 0; i < forwarders.size(); ++i) {
      auto it = counts_->by_forwarder.find(forwarders[i].name());
      load[i] = it == counts_->by_forwarder.end() ? 0 : it->second;
    }
  }
  std::vector<size_t> order(forwarders.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return load[a] < load[b]; });
  std::vector<::registry::NetworkServiceEndpoint> out;
  out.reserve(forwarders.size());
  for (size_t i : order) out.push_back(std::move(forwarders[i]));
  return out;
}

std::unique_ptr<Lease> LeastConnections::Acquire(const std::string& forwarder) {
  return std::make_unique<CountedLease>(counts_, forwarder);
}

size_t LeastConnections::connections(const std::string& forwarder) const {
  absl::MutexLock lock(&counts_->mu);
  auto it = counts_->by_forwarder.find(forwarder);
  return it == counts_->by_forwarder.end() ? 0 : it->second;
}

}  // namespace nsm::forwarder_select

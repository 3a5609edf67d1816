#include "registry/localbypass/localbypass.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/nsm_url.h"

namespace nsm::reg::localbypass {

struct NSEServer::State {
  std::optional<std::string> Get(const std::string& name) const {
    absl::MutexLock lock(&mu);
    auto it = urls.find(name);
    if (it == urls.end()) return std::nullopt;
    return it->second;
  }

  mutable absl::Mutex mu;
  absl::flat_hash_map<std::string, std::string> urls ABSL_GUARDED_BY(mu);  // name -> real URL
};

// Stands between next and the caller's Find stream (kept by next for a watch).
class NSEServer::BypassStream : public FindStream<Response> {
 public:
  BypassStream(std::shared_ptr<const State> state, std::string nsmgr_url, bool drop_own,
               Stream inner)
      : state_(std::move(state)),
        nsmgr_url_(std::move(nsmgr_url)),
        drop_own_(drop_own),
        inner_(std::move(inner)) {}

  const Context& context() const override { return inner_->context(); }
  absl::Status Send(const Response& response) override {
    const auto& nse = response.network_service_endpoint();
    if (nse.url() != nsmgr_url_) return inner_->Send(response);
    if (drop_own_) return absl::OkStatus();  // the local store answered for it
    if (std::optional<std::string> real = state_->Get(nse.name())) {
      Response restored = response;
      restored.mutable_network_service_endpoint()->set_url(*std::move(real));
      return inner_->Send(restored);
    }
    // Registered through this nsmgr but unknown here (e.g. before a restart): unreachable.
    if (!response.deleted()) return absl::OkStatus();
    return inner_->Send(response);
  }
  void Finish(absl::Status status) override { inner_->Finish(std::move(status)); }
  void Reopened() override { inner_->Reopened(); }

 private:
  std::shared_ptr<const State> state_;
  const std::string nsmgr_url_;
  const bool drop_own_;
  Stream inner_;
};

NSEServer::NSEServer(std::string nsmgr_url, Options options)
    : nsmgr_url_(std::move(nsmgr_url)), options_(options), state_(std::make_shared<State>()) {}

absl::StatusOr<NSEServer::Item> NSEServer::Register(const Context& ctx, Item& nse,
                                                    const Next& next) {
  if (nse.url().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("network_service_endpoint.url of \"", nse.name(),
                                                   "\" is empty: cannot register an endpoint "
                                                   "without a URL"));
  }
  if (auto parsed = api::ParseNsmUrl(nse.url()); !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("network_service_endpoint.url \"", nse.url(), "\" of \"", nse.name(),
                     "\" cannot be registered: ", parsed.status().message()));
  }
  const std::string real = nse.url();
  std::optional<std::string> previous;
  {
    absl::MutexLock lock(&state_->mu);
    auto [it, inserted] = state_->urls.try_emplace(nse.name(), real);
    if (!inserted) {
      previous = std::move(it->second);
      it->second = real;
    }
  }
  nse.set_url(nsmgr_url_);
  auto response = next.Register(ctx, nse);
  nse.set_url(real);
  if (!response.ok()) {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->urls.find(nse.name());
    if (it != state_->urls.end() && it->second == real) {
      if (previous) {
        it->second = *std::move(previous);
      } else {
        state_->urls.erase(it);
      }
    }
    return response;
  }
  response->set_url(real);
  return response;
}

absl::Status NSEServer::Find(const Context& ctx, const Query& query, const Stream& stream,
                             const Next& next) {
  return next.Find(
      ctx, query,
      std::make_shared<BypassStream>(state_, nsmgr_url_, options_.local_store_first, stream));
}

absl::Status NSEServer::Unregister(const Context& ctx, Item& nse, const Next& next) {
  if (!state_->Get(nse.name())) return next.Unregister(ctx, nse);
  const std::string original = nse.url();
  nse.set_url(nsmgr_url_);
  absl::Status s = next.Unregister(ctx, nse);
  nse.set_url(original);
  absl::MutexLock lock(&state_->mu);
  state_->urls.erase(nse.name());
  return s;
}

std::optional<std::string> NSEServer::LocalUrl(const std::string& name) const {
  return state_->Get(name);
}

size_t NSEServer::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->urls.size();
}

}  // namespace nsm::reg::localbypass

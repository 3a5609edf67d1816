#include "reference/common/registrar.h"

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "registry/transport/channel_pool.h"

namespace nsm::reference {

absl::StatusOr<std::unique_ptr<Registrar>> Registrar::Create(
    const Context& parent, const std::string& url, std::shared_ptr<Credentials> credentials) {
  if (!credentials) return absl::InvalidArgumentError("registrar: no credentials given");
  std::unique_ptr<Registrar> r(new Registrar());
  r->url_ = url;
  auto [ctx, cancel] = parent.WithCancel();
  r->ctx_ = ctx;
  r->cancel_ = cancel;
  auto channels = std::make_shared<reg::transport::ChannelPool>(credentials);
  auto clients = reg::chains::RegistryClients::Create(
      ctx, {.registry_url = url, .credentials = credentials, .channels = channels});
  if (!clients.ok()) return clients.status();
  r->clients_ = *std::move(clients);
  return r;
}

Registrar::~Registrar() {
  auto [ctx, cancel] = Context::Background(ctx_.clock_ptr()).WithTimeout(absl::Seconds(5));
  (void)Close(ctx);
  cancel();
}

std::shared_ptr<NSRegistryClient> Registrar::ns_client() {
  return std::shared_ptr<NSRegistryClient>(clients_, &clients_->ns());
}

std::shared_ptr<NSERegistryClient> Registrar::nse_client() {
  return std::shared_ptr<NSERegistryClient>(clients_, &clients_->nse());
}

absl::StatusOr<NSE> Registrar::RegisterEndpoint(const Context& ctx, NSE nse) {
  return clients_->nse().Register(ctx, nse);
}

absl::StatusOr<NS> Registrar::RegisterService(const Context& ctx, NS ns) {
  return clients_->ns().Register(ctx, ns);
}

absl::StatusOr<std::optional<NS>> Registrar::FindService(const Context& ctx,
                                                         const std::string& name) {
  ::registry::NetworkServiceQuery query;
  query.mutable_network_service()->set_name(name);
  auto stream = BufferedFindStream<::registry::NetworkServiceResponse>::Create(ctx);
  absl::Status s = clients_->ns().Find(ctx, query, stream);
  stream->Finish(s);
  if (!s.ok()) return s;
  for (auto& r : stream->Drain()) {
    if (!r.deleted() && r.network_service().name() == name) return r.network_service();
  }
  return std::nullopt;
}

absl::Status Registrar::Close(const Context& ctx) {
  absl::Status s = clients_ ? clients_->Close(ctx) : absl::OkStatus();
  if (cancel_) cancel_();
  return s;
}

absl::Status RetryUntilDone(const Context& ctx, const std::string& what,
                            const std::function<absl::Status(const Context&)>& attempt,
                            reg::retry::BackoffOptions backoff_options) {
  reg::retry::Backoff backoff(backoff_options);
  for (int n = 1;; ++n) {
    if (ctx.cancelled()) return ctx.Err();
    absl::Status s = attempt(ctx);
    if (s.ok() || !reg::retry::Retryable(s) || ctx.cancelled()) return s;
    const absl::Duration delay = backoff.Next();
    log::Warn(what, absl::StrCat("attempt ", n, " failed: ", s.ToString(), "; next in ",
                                 absl::FormatDuration(delay)));
    if (absl::Status w = reg::retry::WaitFor(ctx, delay); !w.ok()) return s;
  }
}

}  // namespace nsm::reference

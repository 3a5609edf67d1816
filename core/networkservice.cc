#include "core/networkservice.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace nsm {

namespace {
// Payload type URLs of the marks; the value is the hop's name.
constexpr absl::string_view kNextHopUnreachable = "type.nsm-cpp/next-hop-unreachable";
constexpr absl::string_view kReportedUnreachable = "type.nsm-cpp/reported-unreachable";
}  // namespace

absl::Status MarkNextHopUnreachable(absl::Status s, absl::string_view name) {
  if (!s.ok()) s.SetPayload(kNextHopUnreachable, absl::Cord(name));
  return s;
}

bool IsNextHopUnreachable(const absl::Status& s) {
  return !s.ok() && s.GetPayload(kNextHopUnreachable).has_value();
}

absl::Status MarkReportedUnreachable(absl::Status s, absl::string_view name) {
  if (!s.ok() && !name.empty()) s.SetPayload(kReportedUnreachable, absl::Cord(name));
  return s;
}

std::string UnreachableHop(const absl::Status& s) {
  if (s.ok()) return "";
  if (auto local = s.GetPayload(kNextHopUnreachable); local && !local->empty()) {
    return std::string(*local);
  }
  if (auto reported = s.GetPayload(kReportedUnreachable)) return std::string(*reported);
  return "";
}

absl::Status Reworded(const absl::Status& s, absl::string_view message) {
  if (s.ok()) return s;
  absl::Status out(s.code(), message);
  s.ForEachPayload(
      [&](absl::string_view type, const absl::Cord& value) { out.SetPayload(type, value); });
  return out;
}

absl::Status Annotated(const absl::Status& s, absl::string_view prefix) {
  if (s.ok()) return s;
  return Reworded(s, absl::StrCat(prefix, ": ", s.message()));
}

namespace {

absl::Status ChainGone() { return absl::UnavailableError("chain has been shut down"); }

// Element `index` of a chain, followed by `parent` after the last element.
class ServerChainLink : public internal::ServerLink {
 public:
  ServerChainLink(const std::shared_ptr<const ServerChain::Elements>& elements, size_t index,
                  ServerNext after)
      : elements_(elements), index_(index) {
    next_ = index_ + 1 < elements->size()
                ? ServerNext(std::make_shared<ServerChainLink>(elements, index_ + 1, after))
                : std::move(after);
  }
  absl::StatusOr<Connection> Request(const Context& ctx,
                                     NetworkServiceRequest& req) const override {
    auto elements = elements_.lock();
    if (!elements) return ChainGone();
    return (*elements)[index_]->Request(ctx, req, next_);
  }
  absl::Status Close(const Context& ctx, Connection& conn) const override {
    auto elements = elements_.lock();
    if (!elements) return ChainGone();
    return (*elements)[index_]->Close(ctx, conn, next_);
  }

 private:
  // Weak: a stored next (begin keeps one per connection) must not keep the chain alive, or the
  // chain -> begin -> stored next -> chain cycle would never be freed.
  std::weak_ptr<const ServerChain::Elements> elements_;
  size_t index_;
  ServerNext next_;
};

class ClientChainLink : public internal::ClientLink {
 public:
  ClientChainLink(const std::shared_ptr<const ClientChain::Elements>& elements, size_t index,
                  ClientNext after)
      : elements_(elements), index_(index) {
    next_ = index_ + 1 < elements->size()
                ? ClientNext(std::make_shared<ClientChainLink>(elements, index_ + 1, after))
                : std::move(after);
  }
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& req,
                                     const CallOptions& opts) const override {
    auto elements = elements_.lock();
    if (!elements) return ChainGone();
    return (*elements)[index_]->Request(ctx, req, next_, opts);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const CallOptions& opts) const override {
    auto elements = elements_.lock();
    if (!elements) return ChainGone();
    return (*elements)[index_]->Close(ctx, conn, next_, opts);
  }

 private:
  // Weak: a stored next (begin keeps one per connection) must not keep the chain alive, or the
  // chain -> begin -> stored next -> chain cycle would never be freed.
  std::weak_ptr<const ClientChain::Elements> elements_;
  size_t index_;
  ClientNext next_;
};

// A client-side next that continues an outer server chain (options end here).
class ServerAsClientLink : public internal::ClientLink {
 public:
  explicit ServerAsClientLink(ServerNext next) : next_(std::move(next)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& req,
                                     const CallOptions&) const override {
    return next_.Request(ctx, req);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const CallOptions&) const override {
    return next_.Close(ctx, conn);
  }

 private:
  ServerNext next_;
};

// A server-side next that continues an outer client chain with the given options.
class ClientAsServerLink : public internal::ServerLink {
 public:
  ClientAsServerLink(ClientNext next, CallOptions opts)
      : next_(std::move(next)), opts_(std::move(opts)) {}
  absl::StatusOr<Connection> Request(const Context& ctx,
                                     NetworkServiceRequest& req) const override {
    return next_.Request(ctx, req, opts_);
  }
  absl::Status Close(const Context& ctx, Connection& conn) const override {
    return next_.Close(ctx, conn, opts_);
  }

 private:
  ClientNext next_;
  CallOptions opts_;
};

class ClientToServerAdapter : public NetworkServiceServer {
 public:
  explicit ClientToServerAdapter(std::shared_ptr<NetworkServiceClient> client)
      : client_(std::move(client)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return client_->Request(ctx, request, ClientNext(std::make_shared<ServerAsClientLink>(next)),
                            CallOptions{});
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return client_->Close(ctx, conn, ClientNext(std::make_shared<ServerAsClientLink>(next)),
                          CallOptions{});
  }

 private:
  std::shared_ptr<NetworkServiceClient> client_;
};

class ServerToClientAdapter : public NetworkServiceClient {
 public:
  explicit ServerToClientAdapter(std::shared_ptr<NetworkServiceServer> server)
      : server_(std::move(server)) {}
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override {
    return server_->Request(ctx, request,
                            ServerNext(std::make_shared<ClientAsServerLink>(next, opts)));
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override {
    return server_->Close(ctx, conn, ServerNext(std::make_shared<ClientAsServerLink>(next, opts)));
  }

 private:
  std::shared_ptr<NetworkServiceServer> server_;
};

}  // namespace

absl::StatusOr<Connection> ServerNext::Request(const Context& ctx,
                                               NetworkServiceRequest& request) const {
  if (!link_) return request.connection();
  return link_->Request(ctx, request);
}

absl::Status ServerNext::Close(const Context& ctx, Connection& conn) const {
  if (!link_) return absl::OkStatus();
  return link_->Close(ctx, conn);
}

absl::StatusOr<Connection> ClientNext::Request(const Context& ctx, NetworkServiceRequest& request,
                                               const CallOptions& opts) const {
  if (!link_) return request.connection();
  return link_->Request(ctx, request, opts);
}

absl::Status ClientNext::Close(const Context& ctx, Connection& conn,
                               const CallOptions& opts) const {
  if (!link_) return absl::OkStatus();
  return link_->Close(ctx, conn, opts);
}

ServerChain::ServerChain(Elements elements)
    : elements_(std::make_shared<const Elements>(std::move(elements))),
      tail_start_(Start(ServerNext())) {}

ServerNext ServerChain::Start(const ServerNext& parent) const {
  if (elements_->empty()) return parent;
  return ServerNext(std::make_shared<ServerChainLink>(elements_, 0, parent));
}

absl::StatusOr<Connection> ServerChain::Request(const Context& ctx, NetworkServiceRequest& request,
                                                const ServerNext& next) {
  return (next.is_tail() ? tail_start_ : Start(next)).Request(ctx, request);
}

absl::Status ServerChain::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return (next.is_tail() ? tail_start_ : Start(next)).Close(ctx, conn);
}

ClientChain::ClientChain(Elements elements)
    : elements_(std::make_shared<const Elements>(std::move(elements))),
      tail_start_(Start(ClientNext())) {}

ClientNext ClientChain::Start(const ClientNext& parent) const {
  if (elements_->empty()) return parent;
  return ClientNext(std::make_shared<ClientChainLink>(elements_, 0, parent));
}

absl::StatusOr<Connection> ClientChain::Request(const Context& ctx, NetworkServiceRequest& request,
                                                const ClientNext& next, const CallOptions& opts) {
  return (next.is_tail() ? tail_start_ : Start(next)).Request(ctx, request, opts);
}

absl::Status ClientChain::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                                const CallOptions& opts) {
  return (next.is_tail() ? tail_start_ : Start(next)).Close(ctx, conn, opts);
}

std::shared_ptr<ServerChain> MakeServerChain(ServerChain::Elements elements) {
  std::erase(elements, nullptr);
  return std::make_shared<ServerChain>(std::move(elements));
}

std::shared_ptr<ClientChain> MakeClientChain(ClientChain::Elements elements) {
  std::erase(elements, nullptr);
  return std::make_shared<ClientChain>(std::move(elements));
}

std::shared_ptr<NetworkServiceServer> ClientToServer(std::shared_ptr<NetworkServiceClient> client) {
  return std::make_shared<ClientToServerAdapter>(std::move(client));
}

std::shared_ptr<NetworkServiceClient> ServerToClient(std::shared_ptr<NetworkServiceServer> server) {
  return std::make_shared<ServerToClientAdapter>(std::move(server));
}

}  // namespace nsm

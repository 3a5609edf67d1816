#include "reference/nse/nse.h"

#include "absl/strings/str_cat.h"
#include "api/mechanisms.h"
#include "networkservice/log/log.h"
#include "networkservice/mechanisms/server.h"
#include "networkservice/monitor/server.h"
#include "networkservice/supersede/server.h"

namespace nsm::nse {
namespace {

namespace mech = api::mech;

// KERNEL at the NSE: the interface is created in the NSE's namespace; name it when the caller
// did not (the SDK convention <service prefix>-<connection id>), and point at this process'
// netns when no namespace is given.
class KernelServer : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    Connection& conn = *request.mutable_connection();
    auto& params = *conn.mutable_mechanism()->mutable_parameters();
    if (params[mech::kernel::kInterfaceName].empty()) {
      params[mech::kernel::kInterfaceName] =
          mech::DefaultKernelInterfaceName(conn.network_service(), conn.id());
    }
    if (params[mech::kernel::kNetNSURL].empty()) {
      params[mech::kernel::kNetNSURL] = mech::kernel::kDefaultNetNSURL;
    }
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

class PassThrough : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override {
    return next.Request(ctx, request);
  }
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override {
    return next.Close(ctx, conn);
  }
};

}  // namespace

absl::StatusOr<Chain> NewServer(const Options& o) {
  Chain chain;
  // A debug line per Request/Close (issue #8); a healed client connection's new connection
  // closes the one it replaces (issue #6).
  std::vector<std::shared_ptr<NetworkServiceServer>> elements = {
      logging::NewServer({.component = o.name, .clock = o.clock}), supersede::NewServer()};
  if (!o.cidr_prefixes.empty()) {
    auto ipam = Point2PointIpam::Create(o.cidr_prefixes, o.max_connections);
    if (!ipam.ok())
      return absl::InvalidArgumentError(absl::StrCat("nse: ", ipam.status().message()));
    chain.ipam = *ipam;
    elements.push_back(chain.ipam);
  }
  if (!o.mechanisms.empty()) {
    mechanisms::Handlers handlers;
    auto pass = std::make_shared<PassThrough>();
    for (const auto& type : o.mechanisms) {
      if (type == mech::kernel::kType) {
        handlers[type] = std::make_shared<KernelServer>();
      } else if (type == mech::memif::kType || type == mech::noop::kType ||
                 type == mech::vfio::kType) {
        handlers[type] = pass;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("nse: mechanism \"", type, "\" is not one of KERNEL, MEMIF, NOOP, VFIO"));
      }
    }
    elements.push_back(mechanisms::NewServer(std::move(handlers)));
  }
  elements.insert(elements.end(), o.additional.begin(), o.additional.end());

  std::shared_ptr<const TokenGenerator> tokens =
      o.tokens ? o.tokens
               : NewInsecureTokenGenerator(o.name, o.max_token_lifetime,
                                           o.clock ? o.clock : RealClock());
  chain.store = monitor::ConnectionStore::Create();
  auto server = endpoint::NewServer(tokens, {.name = o.name,
                                             .authorize = o.authorize,
                                             .monitor = monitor::NewServer(chain.store),
                                             .additional = std::move(elements),
                                             .pool = o.pool});
  if (!server.ok()) return server.status();
  chain.server = *std::move(server);
  return chain;
}

absl::StatusOr<std::unique_ptr<Endpoint>> Endpoint::Create(const Context& ctx, Options options) {
  std::unique_ptr<Endpoint> e(new Endpoint());
  auto chain = NewServer(options);
  if (!chain.ok()) return chain.status();
  e->chain_ = *std::move(chain);
  if (!options.nsmgr_url.empty()) {
    if (!options.credentials) {
      return absl::InvalidArgumentError(
          "nse: no credentials given (MakeInsecureCredentials() for insecure mode)");
    }
    auto registrar = reference::Registrar::Create(ctx, options.nsmgr_url, options.credentials);
    if (!registrar.ok()) return registrar.status();
    e->registrar_ = *std::move(registrar);
  }
  e->options_ = std::move(options);
  return e;
}

Endpoint::~Endpoint() {
  auto [ctx, cancel] = Context::Background(options_.clock ? options_.clock : RealClock())
                           .WithTimeout(absl::Seconds(5));
  (void)Stop(ctx, absl::ZeroDuration());
  cancel();
}

absl::Status Endpoint::Serve(std::vector<std::string> listen_on) {
  if (hop_server_) return absl::FailedPreconditionError("nse: already serving");
  if (!options_.credentials) {
    return absl::InvalidArgumentError(
        "nse: no credentials given (MakeInsecureCredentials() for insecure mode)");
  }
  auto server = reference::HopServer::Start(
      chain_.server, chain_.store,
      {.listen_on = std::move(listen_on),
       .credentials = options_.credentials,
       .pool = options_.pool,
       .clock = options_.clock,
       .admission = {.name = options_.name, .inline_calls = options_.inline_calls}});
  if (!server.ok()) return server.status();
  hop_server_ = *std::move(server);
  return absl::OkStatus();
}

std::vector<std::string> Endpoint::urls() const {
  return hop_server_ ? hop_server_->urls() : std::vector<std::string>{};
}

reference::NSE Endpoint::Registration(const std::string& url) const {
  reference::NSE nse;
  nse.set_name(options_.name);
  for (const auto& service : options_.service_names) {
    nse.add_network_service_names(service);
    auto& labels = *(*nse.mutable_network_service_labels())[service].mutable_labels();
    for (const auto& [k, v] : options_.labels) labels[k] = v;
  }
  if (!url.empty()) {
    nse.set_url(url);
  } else if (auto served = urls(); !served.empty()) {
    nse.set_url(served.front());
  }
  return nse;
}

absl::StatusOr<reference::NSE> Endpoint::Register(const Context& ctx, const std::string& url) {
  if (!registrar_) return absl::FailedPreconditionError("nse: no nsmgr URL to register with");
  reference::NSE nse = Registration(url);
  if (nse.url().empty()) {
    return absl::FailedPreconditionError("nse: no URL to register (not serving yet)");
  }
  if (options_.register_service) {
    for (const auto& service : options_.service_names) {
      auto existing = registrar_->FindService(ctx, service);
      if (!existing.ok()) {
        return absl::Status(existing.status().code(),
                            absl::StrCat("looking network service \"", service,
                                         "\" up: ", existing.status().message()));
      }
      if (existing->has_value()) continue;
      reference::NS ns;
      ns.set_name(service);
      ns.set_payload(options_.payload);
      auto registered = registrar_->RegisterService(ctx, ns);
      if (!registered.ok()) {
        return absl::Status(registered.status().code(),
                            absl::StrCat("registering network service \"", service,
                                         "\": ", registered.status().message()));
      }
    }
  }
  return registrar_->RegisterEndpoint(ctx, std::move(nse));
}

absl::Status Endpoint::Stop(const Context& ctx, absl::Duration grace) {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  absl::Status s = registrar_ ? registrar_->Close(ctx) : absl::OkStatus();
  if (hop_server_) hop_server_->Shutdown(grace);
  return s;
}

}  // namespace nsm::nse

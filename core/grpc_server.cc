#include "core/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "api/nsm_url.h"
#include "core/grpc_transport.h"

namespace nsm {
namespace {

struct Listener {
  std::string url;  // as given
  api::NsmUrl parsed;
  std::string address;  // for AddListeningPort
  int port = 0;         // the chosen port (any non-zero value for unix sockets)
};

absl::Status PrepareUnixSocket(const std::string& url, const std::string& path) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", url, ": creating directory ",
                                               p.parent_path().string(), ": ", ec.message()));
  }
  std::filesystem::remove(p, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", url, ": removing old ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(std::vector<grpc::Service*> services,
                                                              GrpcServerOptions options) {
  if (!options.credentials) return absl::InvalidArgumentError("server: no credentials given");
  if (options.listen_on.empty()) return absl::InvalidArgumentError("server: no URL to listen on");
  if (services.empty()) return absl::InvalidArgumentError("server: no service to serve");
  std::vector<Listener> listeners;
  for (const auto& url : options.listen_on) {
    auto parsed = api::ParseNsmUrl(url);
    if (!parsed.ok()) return parsed.status();
    auto address = parsed->GrpcListenAddress();
    if (!address.ok()) return address.status();
    listeners.push_back(Listener{url, *parsed, *address, 0});
  }
  for (const auto& l : listeners) {
    if (l.parsed.scheme != api::NsmUrl::Scheme::kUnix) continue;
    if (auto s = PrepareUnixSocket(l.url, l.parsed.path); !s.ok()) return s;
  }

  std::unique_ptr<GrpcServer> server(new GrpcServer());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second server on a busy port would silently share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (auto& l : listeners) {
    builder.AddListeningPort(l.address, options.credentials->ServerCredentials(), &l.port);
  }
  for (grpc::Service* s : services) builder.RegisterService(s);
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               absl::StrJoin(options.listen_on, ", "),
                                               " (address in use, or no permission?)"));
  }
  for (const auto& l : listeners) {
    if (l.port == 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", l.url));
    api::NsmUrl actual = l.parsed;
    if (actual.scheme == api::NsmUrl::Scheme::kTcp) actual.port = static_cast<uint16_t>(l.port);
    if (actual.scheme == api::NsmUrl::Scheme::kUnix) server->socket_files_.push_back(actual.path);
    server->urls_.push_back(actual.ToString());
  }
  auto* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const auto& name : options.health_services) health->SetServingStatus(name, true);
  server->options_ = std::move(options);
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    if (options_.on_shutdown) options_.on_shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
    server_->Wait();
  }
  for (const auto& path : socket_files_) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
}

absl::StatusOr<std::string> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service, absl::Duration timeout) {
  // The health messages by hand (no generated code needed): HealthCheckRequest field 1 = service
  // (string), HealthCheckResponse field 1 = status (enum).
  if (service.size() > 127) return absl::InvalidArgumentError("health: service name too long");
  std::string req;
  if (!service.empty()) {
    req.push_back(0x0a);
    req.push_back(static_cast<char>(service.size()));
    req += service;
  }
  grpc::Slice slice(req);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(channel);
  grpc::ClientContext cc;
  cc.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&cc, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  int value = bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;  // empty = UNKNOWN
  switch (value) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

}  // namespace nsm

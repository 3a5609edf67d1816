#include "registry/transport/server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "api/nsm_url.h"

namespace nsm::reg::transport {
namespace {

struct Listener {
  std::string url;  // as given
  api::NsmUrl parsed;
  std::string address;  // for AddListeningPort
  int port = 0;         // chosen tcp port
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

absl::StatusOr<std::unique_ptr<RegistryGrpcServer>> RegistryGrpcServer::Start(
    std::shared_ptr<NSRegistryServer> ns, std::shared_ptr<NSERegistryServer> nse,
    ServerOptions options) {
  if (!options.credentials) {
    return absl::InvalidArgumentError("registry server: no credentials given");
  }
  if (options.listen_on.empty()) {
    return absl::InvalidArgumentError("registry server: no URL to listen on");
  }
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

  std::unique_ptr<RegistryGrpcServer> server(new RegistryGrpcServer());
  if (!options.service.pool) {
    options.service.pool =
        std::make_shared<ThreadPool>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  }
  server->ns_service_ = std::make_unique<NSRegistryGrpcService>(std::move(ns), options.service);
  server->nse_service_ = std::make_unique<NSERegistryGrpcService>(std::move(nse), options.service);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  for (auto& l : listeners) {
    builder.AddListeningPort(l.address, options.credentials->ServerCredentials(), &l.port);
  }
  builder.RegisterService(server->ns_service_.get());
  builder.RegisterService(server->nse_service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    std::string urls;
    for (const auto& l : listeners) absl::StrAppend(&urls, urls.empty() ? "" : ", ", l.url);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", urls, " (address in use, or no permission?)"));
  }
  for (const auto& l : listeners) {
    if (l.port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", l.url));
    }
    api::NsmUrl actual = l.parsed;
    if (actual.scheme == api::NsmUrl::Scheme::kTcp) actual.port = static_cast<uint16_t>(l.port);
    if (actual.scheme == api::NsmUrl::Scheme::kUnix) server->socket_files_.push_back(actual.path);
    server->urls_.push_back(actual.ToString());
  }
  auto* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(Grpc<NSTraits>::kServiceName, true);
  health->SetServingStatus(Grpc<NSETraits>::kServiceName, true);
  return server;
}

RegistryGrpcServer::~RegistryGrpcServer() { Shutdown(absl::ZeroDuration()); }

void RegistryGrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    const absl::Status bye = absl::UnavailableError("registry server is shutting down");
    ns_service_->FinishStreams(bye);
    nse_service_->FinishStreams(bye);
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
    server_->Wait();
  }
  for (const auto& path : socket_files_) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
}

}  // namespace nsm::reg::transport

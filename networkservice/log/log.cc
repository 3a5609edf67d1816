// log: one debug line per Request and Close passing this point of a NetworkService chain, with
// connection id, network service, hop names, outcome and duration; never a token (issue #8 Logs).
#include "networkservice/log/log.h"

#include <type_traits>
#include <utility>

namespace nsm::logging {
namespace {

template <class Call>
auto Logged(const Options& o, const std::shared_ptr<Clock>& clock, absl::string_view what,
            const Connection& before, Call call) {
  log::Logger& logger = o.logger ? *o.logger : log::Default();
  if (!logger.Enabled(log::Level::kDebug)) return call();
  const absl::Time start = clock->Now();
  auto result = call();
  const absl::Duration took = clock->Now() - start;
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    logger.Write(log::Level::kDebug, o.component, what, ConnectionFields(before, result, took));
  } else {
    logger.Write(log::Level::kDebug, o.component, what,
                 ConnectionFields(result.ok() ? *result : before, result.status(), took));
  }
  return result;
}

Options WithClock(Options o) {
  if (!o.clock) o.clock = RealClock();
  return o;
}

}  // namespace

log::Fields ConnectionFields(const Connection& conn, const absl::Status& status,
                             absl::Duration took) {
  log::Fields fields = {
      {"id", conn.id()}, {"service", conn.network_service()}, {"path", log::HopNames(conn.path())}};
  if (!conn.network_service_endpoint_name().empty()) {
    fields.emplace_back("endpoint", conn.network_service_endpoint_name());
  }
  if (status.ok()) {
    fields.emplace_back("outcome", "ok");
  } else {
    fields.emplace_back("outcome", absl::StatusCodeToString(status.code()));
    fields.emplace_back("error", status.message());
  }
  fields.emplace_back("duration", took);
  return fields;
}

Server::Server(Options options) : options_(WithClock(std::move(options))) {}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  return Logged(options_, options_.clock, "request", request.connection(),
                [&] { return next.Request(ctx, request); });
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return Logged(options_, options_.clock, "close", conn, [&] { return next.Close(ctx, conn); });
}

Client::Client(Options options) : options_(WithClock(std::move(options))) {}

absl::StatusOr<Connection> Client::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ClientNext& next, const CallOptions& opts) {
  return Logged(options_, options_.clock, "request", request.connection(),
                [&] { return next.Request(ctx, request, opts); });
}

absl::Status Client::Close(const Context& ctx, Connection& conn, const ClientNext& next,
                           const CallOptions& opts) {
  return Logged(options_, options_.clock, "close", conn,
                [&] { return next.Close(ctx, conn, opts); });
}

}  // namespace nsm::logging

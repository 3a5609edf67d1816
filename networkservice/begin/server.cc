#include "networkservice/begin/server.h"

namespace nsm::begin {
namespace {

internal::Downstream Through(const ServerNext& next) {
  return internal::Downstream{
      [next](const Context& ctx, NetworkServiceRequest& req) { return next.Request(ctx, req); },
      [next](const Context& ctx, Connection& conn) { return next.Close(ctx, conn); }};
}

}  // namespace

Server::Server(std::shared_ptr<ThreadPool> pool, ServerOptions options)
    : table_(std::make_shared<internal::FactoryTable>(std::move(pool))), options_(options) {}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  return table_->Request(ctx, request, Through(next), nullptr);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return table_->Close(ctx, conn, Through(next), options_.close_unknown);
}

}  // namespace nsm::begin

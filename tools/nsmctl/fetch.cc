// nsmctl's view of a mesh (issue #8): registry Find once or watching (api.md §5-6) and
// MonitorConnections first event or stream (api.md §7.5), against an nsmgr or registry.
#include "tools/nsmctl/fetch.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/nsm_url.h"
#include "api/path.h"
#include "connection.grpc.pb.h"
#include "core/credentials.h"
#include "core/grpc_transport.h"
#include "core/registry.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"

namespace nsm::nsmctl {
namespace {

// Why a unix socket cannot be reached, in words; "" when something accepts connections on it.
std::string ProbeUnixSocket(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return "no socket file " + path;
    return absl::StrCat("cannot stat ", path, ": ", strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return path + " is not a socket";
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return "";  // too long for a probe: let gRPC try
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  std::string reason;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    reason = errno == ECONNREFUSED ? "connection refused (nothing listens on the socket)"
                                   : absl::StrCat("connect: ", strerror(errno));
  }
  close(fd);
  return reason;
}

gpr_timespec RealDeadline(absl::Duration d) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_millis(absl::ToInt64Milliseconds(d), GPR_TIMESPAN));
}

// Waits for the Find stream (watching) and hands every response to `on` until the context or the
// stream ends.
template <class Response>
absl::Status Pump(const Context& ctx, BufferedFindStream<Response>& stream,
                  const std::function<void(const Response&)>& on) {
  while (true) {
    if (ctx.cancelled()) return absl::OkStatus();
    if (auto r = stream.Recv(absl::Milliseconds(100))) {
      on(*r);
      continue;
    }
    if (stream.finished()) return ctx.cancelled() ? absl::OkStatus() : stream.final_status();
  }
}

// Cancels a watch and waits (bounded) until the remote stream has ended, so nothing of it is still
// running when the command returns and the process exits.
template <class Response>
void StopWatch(BufferedFindStream<Response>& stream) {
  stream.Cancel();
  const absl::Time end = absl::Now() + absl::Seconds(1);
  while (!stream.finished() && absl::Now() < end) stream.Recv(absl::Milliseconds(20));
}

// Each name once, in first-seen order. A Go v1.1.1 nsmgr answers a Find for its local entries from
// its store and again through the domain registry (localbypass gives them their real URL back), so
// the same registration can come twice (ours answers from its store only); the copy that expires
// last is the freshest.
template <class Item>
std::vector<Item> OncePerName(std::vector<Item> items) {
  std::vector<Item> out;
  absl::flat_hash_map<std::string, size_t> index;
  for (auto& item : items) {
    auto [it, inserted] = index.emplace(item.name(), out.size());
    if (inserted) {
      out.push_back(std::move(item));
      continue;
    }
    if constexpr (std::is_same_v<Item, ::registry::NetworkServiceEndpoint>) {
      Item& kept = out[it->second];
      if (api::FromProtoTimestamp(item.expiration_time()) >
          api::FromProtoTimestamp(kept.expiration_time())) {
        kept = std::move(item);
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Peer>> Peer::Dial(const Target& target,
                                                 absl::Duration dial_timeout) {
  auto url = api::ParseNsmUrl(target.url);
  if (!url.ok()) return url.status();
  auto unreachable = [&target](const std::string& reason) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach ", target.kind, " at ", target.url, ": ", reason));
  };
  if (url->scheme == api::NsmUrl::Scheme::kUnix) {
    if (std::string reason = ProbeUnixSocket(url->path); !reason.empty()) {
      return unreachable(reason);
    }
  }
  auto pool = std::make_shared<reg::transport::ChannelPool>(MakeInsecureCredentials());
  auto channel = pool->Get(target.url);
  if (!channel.ok()) return channel.status();
  (*channel)->GetState(/*try_to_connect=*/true);
  if (!(*channel)->WaitForConnected(RealDeadline(dial_timeout))) {
    return unreachable(absl::StrCat("not connected within ", absl::FormatDuration(dial_timeout),
                                    " (channel ",
                                    ConnectivityStateName((*channel)->GetState(false)), ")"));
  }
  return std::unique_ptr<Peer>(new Peer(target, *std::move(channel)));
}

absl::Status Peer::CallError(const std::string& rpc, const absl::Status& s) const {
  return absl::Status(s.code(),
                      absl::StrCat(rpc, " at ", target_.kind, " ", target_.url, ": ", s.message()));
}

absl::StatusOr<std::vector<::registry::NetworkService>> Peer::FindNS(
    const Context& ctx, const ::registry::NetworkServiceQuery& query) {
  reg::transport::NSRegistryGrpcClient client(channel_, target_.url);
  auto stream = BufferedFindStream<::registry::NetworkServiceResponse>::Create(ctx);
  absl::Status s = client.Find(ctx, query, stream, {}, {});
  stream->Finish(s);
  if (!s.ok()) return CallError("NetworkServiceRegistry.Find", s);
  std::vector<::registry::NetworkService> out;
  for (auto& r : stream->Drain()) {
    if (!r.deleted()) out.push_back(std::move(*r.mutable_network_service()));
  }
  return OncePerName(std::move(out));
}

absl::StatusOr<std::vector<::registry::NetworkServiceEndpoint>> Peer::FindNSE(
    const Context& ctx, const ::registry::NetworkServiceEndpointQuery& query) {
  reg::transport::NSERegistryGrpcClient client(channel_, target_.url);
  auto stream = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(ctx);
  absl::Status s = client.Find(ctx, query, stream, {}, {});
  stream->Finish(s);
  if (!s.ok()) return CallError("NetworkServiceEndpointRegistry.Find", s);
  std::vector<::registry::NetworkServiceEndpoint> out;
  for (auto& r : stream->Drain()) {
    if (!r.deleted()) out.push_back(std::move(*r.mutable_network_service_endpoint()));
  }
  return OncePerName(std::move(out));
}

absl::Status Peer::WatchNS(
    const Context& ctx, const ::registry::NetworkServiceQuery& query,
    const std::function<void(const ::registry::NetworkServiceResponse&)>& on) {
  reg::transport::NSRegistryGrpcClient client(channel_, target_.url);
  auto stream = BufferedFindStream<::registry::NetworkServiceResponse>::Create(ctx);
  ::registry::NetworkServiceQuery q = query;
  q.set_watch(true);
  if (absl::Status s = client.Find(ctx, q, stream, {}, {}); !s.ok()) {
    return CallError("NetworkServiceRegistry.Find", s);
  }
  absl::Status s = Pump(ctx, *stream, on);
  StopWatch(*stream);
  return s.ok() ? s : CallError("NetworkServiceRegistry.Find", s);
}

absl::Status Peer::WatchNSE(
    const Context& ctx, const ::registry::NetworkServiceEndpointQuery& query,
    const std::function<void(const ::registry::NetworkServiceEndpointResponse&)>& on) {
  reg::transport::NSERegistryGrpcClient client(channel_, target_.url);
  auto stream = BufferedFindStream<::registry::NetworkServiceEndpointResponse>::Create(ctx);
  ::registry::NetworkServiceEndpointQuery q = query;
  q.set_watch(true);
  if (absl::Status s = client.Find(ctx, q, stream, {}, {}); !s.ok()) {
    return CallError("NetworkServiceEndpointRegistry.Find", s);
  }
  absl::Status s = Pump(ctx, *stream, on);
  StopWatch(*stream);
  return s.ok() ? s : CallError("NetworkServiceEndpointRegistry.Find", s);
}

absl::StatusOr<std::vector<::connection::Connection>> Peer::Connections(
    const Context& ctx, const ::connection::MonitorScopeSelector& selector) {
  ::connection::ConnectionEvent first;
  bool got = false;
  auto [call_ctx, cancel] = ctx.WithCancel();
  absl::Status s = WatchConnections(
      call_ctx,
      [&, cancel = cancel](const ::connection::ConnectionEvent& e) {
        if (got) return;
        first = e;
        got = true;
        cancel();
      },
      selector);
  cancel();
  if (!got) {
    if (!s.ok()) return s;
    return CallError("MonitorConnection.MonitorConnections",
                     absl::DeadlineExceededError("no first event before the deadline"));
  }
  if (first.type() != ::connection::INITIAL_STATE_TRANSFER) {
    return CallError(
        "MonitorConnection.MonitorConnections",
        absl::InternalError(absl::StrCat("the first event is ",
                                         ::connection::ConnectionEventType_Name(first.type()),
                                         ", not INITIAL_STATE_TRANSFER")));
  }
  std::vector<::connection::Connection> out;
  for (auto& [id, conn] : *first.mutable_connections()) out.push_back(std::move(conn));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  return out;
}

absl::Status Peer::WatchConnections(
    const Context& ctx, const std::function<void(const ::connection::ConnectionEvent&)>& on,
    const ::connection::MonitorScopeSelector& selector) {
  auto stub = ::connection::MonitorConnection::NewStub(channel_);
  // Shared with the cancel callback, which may still run on another thread after the
  // registration is dropped.
  auto cc = std::make_shared<grpc::ClientContext>();
  std::unique_ptr<CancelState::Registration> registration;
  if (ctx.cancel_state()) {
    registration = ctx.cancel_state()->OnCancel([cc] { cc->TryCancel(); });
  }
  auto reader = stub->MonitorConnections(cc.get(), selector);
  ::connection::ConnectionEvent event;
  while (reader->Read(&event)) {
    on(event);
    event.Clear();
  }
  grpc::Status status = reader->Finish();
  registration.reset();
  if (ctx.cancelled()) return absl::OkStatus();
  absl::Status s = FromGrpcStatus(status);
  if (s.ok()) s = absl::UnavailableError("the stream ended");
  return CallError("MonitorConnection.MonitorConnections", s);
}

}  // namespace nsm::nsmctl

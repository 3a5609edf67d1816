// api_roundtrip: serves a tiny NetworkService endpoint chain over gRPC on a unix socket in a temp
// dir, requests a connection through a client chain, prints it as JSON, then closes it.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "api/mechanisms.h"
#include "core/grpc_transport.h"
#include "google/protobuf/util/json_util.h"
#include "networkservice/begin/client.h"
#include "networkservice/begin/server.h"
#include "networkservice/metadata/metadata.h"

namespace {

// A stand-in endpoint: accepts the first KERNEL preference and hands out a point-to-point pair.
class DemoEndpoint : public nsm::NetworkServiceServer {
 public:
  absl::StatusOr<nsm::Connection> Request(const nsm::Context& ctx,
                                          nsm::NetworkServiceRequest& request,
                                          const nsm::ServerNext& next) override {
    auto* conn = request.mutable_connection();
    if (!conn->has_mechanism()) {
      for (const auto& m : request.mechanism_preferences()) {
        if (m.type() == nsm::api::mech::kernel::kType) {
          *conn->mutable_mechanism() = m;
          break;
        }
      }
    }
    if (!conn->has_mechanism()) {
      return absl::InvalidArgumentError("mechanism_preferences: no KERNEL mechanism offered");
    }
    auto* ip = conn->mutable_context()->mutable_ip_context();
    if (ip->src_ip_addrs().empty()) ip->add_src_ip_addrs("169.254.0.1/32");
    if (ip->dst_ip_addrs().empty()) ip->add_dst_ip_addrs("169.254.0.0/32");
    ++requests;
    return next.Request(ctx, request);
  }
  absl::Status Close(const nsm::Context& ctx, nsm::Connection& conn,
                     const nsm::ServerNext& next) override {
    ++closes;
    return next.Close(ctx, conn);
  }
  int requests = 0;
  int closes = 0;
};

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = false;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/nsm-roundtrip-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string target = "unix:" + dir + "/endpoint.sock";

  auto endpoint = std::make_shared<DemoEndpoint>();
  auto server_chain =
      nsm::MakeServerChain({nsm::begin::NewServer(), nsm::metadata::NewServer(), endpoint});
  nsm::NetworkServiceGrpcServer service(server_chain);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "cannot listen on " << target << "\n";
    return 1;
  }
  std::cout << "endpoint listening on " << target << "\n";

  auto client = nsm::MakeClientChain(
      {nsm::begin::NewClient(), std::make_shared<nsm::NetworkServiceGrpcClient>(grpc::CreateChannel(
                                    target, grpc::InsecureChannelCredentials()))});
  nsm::NetworkServiceRequest request;
  auto* conn = request.mutable_connection();
  conn->set_id("demo-connection-1");
  conn->set_network_service("icmp-responder");
  (*conn->mutable_labels())["app"] = "demo";
  auto* seg = conn->mutable_path()->add_path_segments();
  seg->set_name("demo-nsc");
  seg->set_id(conn->id());
  auto* pref = request.add_mechanism_preferences();
  pref->set_cls(nsm::api::mech::kLocal);
  pref->set_type(nsm::api::mech::kernel::kType);
  (*pref->mutable_parameters())[nsm::api::mech::kernel::kInterfaceName] = "nsm-1";

  auto [ctx, cancel] = nsm::Context().WithTimeout(absl::Seconds(15));
  auto result = client->Request(ctx, request);
  if (!result.ok()) {
    std::cerr << "request failed: " << result.status() << "\n";
    return 1;
  }
  std::cout << "connection: " << Json(*result) << "\n";
  absl::Status closed = client->Close(ctx, *result);
  if (!closed.ok()) {
    std::cerr << "close failed: " << closed << "\n";
    return 1;
  }
  std::cout << "closed; endpoint saw " << endpoint->requests << " request(s) and "
            << endpoint->closes << " close(s)\n";
  server->Shutdown();
  std::filesystem::remove_all(dir);
  return 0;
}

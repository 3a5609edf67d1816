// Transport credentials behind one interface, so mTLS with SPIFFE X.509 SVIDs can replace the
// explicit insecure mode without touching servers and clients (DESIGN.md §3, binaries.md §0.2).
#pragma once

#include <memory>
#include <string>

#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace nsm {

// Credentials for the servers a process listens with and the channels it dials.
class Credentials {
 public:
  virtual ~Credentials() = default;
  virtual std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const = 0;
  virtual std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const = 0;
  // What a start-up log line says about transport security, e.g. "insecure (plaintext)".
  virtual std::string Describe() const = 0;
  // True when peers are not authenticated; callers log this loudly.
  virtual bool insecure() const = 0;
};

// Plaintext gRPC. Never a silent default: whoever uses it chooses it by name.
class InsecureCredentials final : public Credentials {
 public:
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const override {
    return grpc::InsecureServerCredentials();
  }
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const override {
    return grpc::InsecureChannelCredentials();
  }
  std::string Describe() const override {
    return "insecure (plaintext gRPC, peers not authenticated)";
  }
  bool insecure() const override { return true; }
};

inline std::shared_ptr<Credentials> MakeInsecureCredentials() {
  return std::make_shared<InsecureCredentials>();
}

}  // namespace nsm

// NSM URLs (unix://, tcp://, inode://) and their gRPC targets, plus the NSC request shorthand
// "<mechanism>://<service>[/<interface>]?<labels>" (api.md §5 url, §7.7; mechanisms.md §14).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connection.pb.h"

namespace nsm::api {

// A parsed endpoint/listen URL.
struct NsmUrl {
  enum class Scheme { kUnix, kTcp, kInode };

  Scheme scheme = Scheme::kUnix;
  std::string path;   // kUnix: absolute socket path
  std::string host;   // kTcp: "" (any, listen only), IPv4, IPv6 without brackets, or a name
  uint16_t port = 0;  // kTcp
  uint64_t dev = 0;   // kInode: st_dev
  uint64_t ino = 0;   // kInode: st_ino

  // "unix:///path", "tcp://host:port" / "tcp://[v6]:port", "inode://dev/ino".
  std::string ToString() const;
  // Target for grpc::CreateChannel: "unix:/path", "host:port", "[v6]:port". InvalidArgument for
  // inode URLs (resolve them first, api.md §7.7) and for tcp URLs without a host.
  absl::StatusOr<std::string> GrpcDialTarget() const;
  // Address for grpc::ServerBuilder::AddListeningPort: as GrpcDialTarget, but an empty tcp host
  // listens on every address ("[::]:port"). InvalidArgument for inode URLs.
  absl::StatusOr<std::string> GrpcListenAddress() const;

  friend bool operator==(const NsmUrl&, const NsmUrl&) = default;
};

// Parses "unix:///abs/path", "tcp://[host]:port" or "inode://<dev>/<ino>" (scheme
// case-insensitive). InvalidArgument names the URL and the problem: empty, unknown or missing
// scheme, relative unix path, missing/invalid/out-of-range port, bad host, non-decimal or
// out-of-range inode numbers.
absl::StatusOr<NsmUrl> ParseNsmUrl(absl::string_view url);

// The inverse of NsmUrl::GrpcDialTarget: "unix:/path", "unix:///path", "host:port", "[v6]:port".
absl::StatusOr<NsmUrl> NsmUrlFromGrpcTarget(absl::string_view target);

// The NSC request shorthand (mechanisms.md §14), e.g. "kernel://my-ns/nsm-1?app=a&x=y" or
// "kernel://svc@domain/nsm-1".
struct NscRequestUrl {
  std::string mechanism_type;                 // upper-cased scheme, e.g. "KERNEL"
  std::string network_service;                // "svc" or "svc@domain"
  std::string interface_name;                 // "" when the URL has no path
  std::map<std::string, std::string> labels;  // from the query (first value of a repeated key)

  // A LOCAL mechanism of mechanism_type, with parameter "name" = interface_name when set.
  connection::Mechanism ToMechanism() const;
};

// Query keys and values are percent-decoded ('+' is a space). InvalidArgument names the URL and
// the problem: no "://", bad scheme, empty network service, interface name with '/' or longer
// than 15 characters, empty label key, bad percent escape.
absl::StatusOr<NscRequestUrl> ParseNscRequestUrl(absl::string_view url);

}  // namespace nsm::api

#include "networkservice/updatetoken/common.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/path.h"
#include "grpcpp/client_context.h"

namespace nsm::updatetoken {
namespace {

// The single value of `key`, or null when it is absent or repeated.
const std::string* SingleValue(const Metadata& md, const char* key) {
  auto [first, last] = md.equal_range(key);
  if (first == last || std::next(first) != last) return nullptr;
  return &first->second;
}

}  // namespace

bool TakeCallerToken(const Context& ctx, Connection& conn) {
  connection::PathSegment* prev = api::MutablePreviousSegment(&conn);
  if (prev == nullptr) return false;
  const Metadata& md = ctx.incoming_metadata();
  const std::string* token = SingleValue(md, api::kTokenMetadataKey);
  const std::string* expires = SingleValue(md, api::kTokenExpiresMetadataKey);
  if (token == nullptr || expires == nullptr) return false;
  absl::StatusOr<absl::Time> t = api::ParseRfc3339Nano(*expires, api::kTokenExpiresMetadataKey);
  if (!t.ok()) return false;
  prev->set_token(*token);
  *prev->mutable_expires() = api::ToProtoTimestamp(*t);
  return true;
}

absl::Status SetOwnToken(const TokenGenerator* tokens, const Peer& peer, Connection& conn,
                         Token* issued) {
  const connection::Path& path = conn.path();
  if (static_cast<int64_t>(path.index()) >= path.path_segments_size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("NetworkServiceRequest.Connection.Path.Index(%d) >= "
                        "len(NetworkServiceRequest.Connection.Path.PathSegments)(%d)",
                        path.index(), path.path_segments_size()));
  }
  if (tokens == nullptr) {
    return absl::FailedPreconditionError("updatetoken: no token generator configured");
  }
  absl::StatusOr<Token> token = tokens->Generate(peer);
  if (!token.ok()) {
    return absl::Status(
        token.status().code(),
        absl::StrCat("updatetoken: cannot generate a token: ", token.status().message()));
  }
  connection::PathSegment* own = api::MutableCurrentSegment(&conn);
  own->set_token(token->token);
  *own->mutable_expires() = api::ToProtoTimestamp(token->expires);
  if (issued != nullptr) *issued = *std::move(token);
  return absl::OkStatus();
}

CallOptions WithTokenMetadata(const CallOptions& opts, const Token& token) {
  CallOptions out = opts;
  out.apply.push_back([value = token.token,
                       expires = api::FormatRfc3339Nano(token.expires)](grpc::ClientContext& cc) {
    cc.AddMetadata(api::kTokenMetadataKey, value);
    cc.AddMetadata(api::kTokenExpiresMetadataKey, expires);
  });
  return out;
}

}  // namespace nsm::updatetoken

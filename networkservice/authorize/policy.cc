#include "networkservice/authorize/policy.h"

#include "absl/strings/str_join.h"
#include "api/path.h"

namespace nsm::authorize {
namespace {

class TokensNotExpiredPolicy : public Policy {
 public:
  absl::string_view name() const override { return "tokens_not_expired"; }
  bool Allows(const Context& ctx, const Input& input) const override {
    if (input.op == Input::Op::kClose && input.by_owner) return true;
    if (input.path == nullptr) return true;
    const absl::Time now = ctx.clock().Now();
    for (const connection::PathSegment& s : input.path->path_segments()) {
      if (s.has_expires() && api::FromProtoTimestamp(s.expires()) <= now) return false;
    }
    return true;
  }
};

class FunctionPolicy : public Policy {
 public:
  FunctionPolicy(std::string name, std::function<bool(const Context&, const Input&)> allows)
      : name_(std::move(name)), allows_(std::move(allows)) {}
  absl::string_view name() const override { return name_; }
  bool Allows(const Context& ctx, const Input& input) const override {
    return allows_ ? allows_(ctx, input) : false;
  }

 private:
  std::string name_;
  std::function<bool(const Context&, const Input&)> allows_;
};

}  // namespace

std::shared_ptr<const Policy> TokensNotExpired() {
  return std::make_shared<TokensNotExpiredPolicy>();
}

std::shared_ptr<const Policy> FromFunction(
    std::string name, std::function<bool(const Context&, const Input&)> allows) {
  return std::make_shared<FunctionPolicy>(std::move(name), std::move(allows));
}

bool AllAllow(const Policies& policies, const Context& ctx, const Input& input) {
  for (const auto& p : policies) {
    if (p != nullptr && !p->Allows(ctx, input)) return false;
  }
  return true;
}

bool HasPeer(const Peer& peer) { return !peer.address.empty() || !peer.identities.empty(); }

std::string OwnerKey(const Peer& peer) {
  if (!peer.identities.empty()) return "id:" + absl::StrJoin(peer.identities, ",");
  return "addr:" + peer.address;
}

}  // namespace nsm::authorize

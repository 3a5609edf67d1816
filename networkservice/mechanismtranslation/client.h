// mechanismtranslation client: a forwarder's nested client hides the upstream mechanism from the
// next hop and the next hop's mechanism from its own caller (nsmgr.md §4.10, mechanisms.md §14).
#pragma once

#include <memory>

#include "connection.pb.h"
#include "core/networkservice.h"
#include "core/typed_key.h"

namespace nsm::mechanismtranslation {

// Request: the rest of the chain gets the request without mechanism_preferences and with
// connection.mechanism = the mechanism the next hop answered last time for this connection (none
// on the first Request); after it, the request has the caller's preferences and mechanism again.
// A successful answer's mechanism is remembered in the connection's client metadata, and the
// caller gets the answer with its own (upstream) mechanism put back (or none when it had none). A
// failed Request changes nothing remembered.
// Close: the rest of the chain gets the connection with the remembered downstream mechanism (none
// if nothing is remembered), which is forgotten; then the caller's mechanism is put back.
// The upstream mechanism stays visible to later elements through UpstreamMechanism(ctx), so a
// mechanism client can offer the caller's type first. Place it after metadata; without metadata
// nothing is remembered.
class Client : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
};

inline std::shared_ptr<Client> NewClient() { return std::make_shared<Client>(); }

// The caller's connection.mechanism as it reached this element; null when it had none or the
// element is not in the chain.
std::shared_ptr<const connection::Mechanism> UpstreamMechanism(const Context& ctx);

}  // namespace nsm::mechanismtranslation

// forwarder_select server: chooses the forwarder for a connection among the local forwarder
// registrations, by the NetworkService's match labels and a policy (nsmgr.md §5, fixes §13.1-2).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/networkservice.h"
#include "core/registry.h"
#include "forwarder_select/match.h"
#include "forwarder_select/policy.h"
#include "networkservice/metadata/metadata.h"

namespace nsm::forwarder_select {

struct Options {
  // The service forwarders register for; their labels for it are matched.
  std::string forwarder_service_name = "forwarder";
  // The order among qualifying forwarders; null = RegistrationOrder.
  std::shared_ptr<Policy> policy = nullptr;
  // A forwarder that could not be reached (dial failed: IsNextHopUnreachable; or
  // DEADLINE_EXCEEDED) is tried after the others for this long: a killed forwarder stays registered
  // until its registration expires, and heal should not wait for its dial timeout again on every
  // reselect. An UNAVAILABLE the forwarder answered with (its NSE gone) does not count. Zero: off.
  absl::Duration unreachable_last_for = absl::Seconds(10);
};

// Needs the metadata server element before it (the selection lives in the connection's server
// metadata). The rest of the chain gets the forwarder's URL through clienturl.
//
// Request (connection.network_service empty → INVALID_ARGUMENT):
// * A forwarder stored for the connection (refresh) is looked up by exact name. Found and alive:
//   the request goes to it; if that fails the stored name is cleared (nsmgr.md §13.1) and the
//   error returned, so the next request selects again. Gone, expired or with an unusable URL: the
//   name is cleared and a forwarder is selected as below (v1.1.1 answered "forwarder not found").
// * Selection: the NetworkService (exact name; payload when set) must exist, else NOT_FOUND
//   "network service <name> is not found". The forwarders registered for forwarder_service_name
//   are matched (MatchForwarders); none → NOT_FOUND naming the wanted labels and every
//   forwarder with its labels. The policy orders them; if the connection's path names a
//   qualifying forwarder at index+1 and this element holds no selection for it (an nsmgr
//   restart), that forwarder goes first so a live data path is kept. Each is tried in turn with its
//   URL in the context and a copy of the request, the last one with the request itself
//   (forwarders found unreachable within unreachable_last_for go last); the first success is
//   stored. When all fail the
//   error names each forwarder, its URL and why it failed (code: the common one, else
//   UNAVAILABLE).
// Close: the stored forwarder, else the one named by the path at index+1, is looked up; found →
// its URL goes into the context. The rest of the chain is always called; the selection ends.
class Server : public NetworkServiceServer {
 public:
  Server(std::shared_ptr<NSRegistryClient> ns_registry,
         std::shared_ptr<NSERegistryClient> forwarder_registry, Options options = {});

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  absl::StatusOr<Connection> Select(const Context& ctx, NetworkServiceRequest& request,
                                    const ServerNext& next, metadata::MetaData& md,
                                    bool prefer_path);
  // The forwarder registered under exactly `name`; nullopt when there is none.
  absl::StatusOr<std::optional<::registry::NetworkServiceEndpoint>> FindForwarder(
      const Context& ctx, const std::string& name);

  void MarkUnreachable(const std::string& name, const absl::Status& s, absl::Time now);
  bool RecentlyUnreachable(const std::string& name, absl::Time now) const;

  std::shared_ptr<NSRegistryClient> ns_registry_;
  std::shared_ptr<NSERegistryClient> forwarder_registry_;
  Options options_;
  // name -> when it was last found unreachable; bounded (kMaxUnreachable, oldest dropped).
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> unreachable_ ABSL_GUARDED_BY(mu_);
  static constexpr size_t kMaxUnreachable = 1024;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<NSRegistryClient> ns_registry,
                                         std::shared_ptr<NSERegistryClient> forwarder_registry,
                                         Options options = {}) {
  return std::make_shared<Server>(std::move(ns_registry), std::move(forwarder_registry),
                                  std::move(options));
}

// The forwarder selected for the connection whose metadata this is; "" when none.
std::string SelectedForwarder(const metadata::MetaData& md);

}  // namespace nsm::forwarder_select

// The reference network service client (like cmd-nsc, control plane only): the client chain it
// requests with, its requests built from NSM_NETWORK_SERVICES URLs (mechanisms.md §14), retries
// within the request timeout (nsmgr.md §4.10 retry), and how it prints connections.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/nsm_url.h"
#include "core/clock.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/networkservice.h"
#include "core/token.h"
#include "networkservice/chains/client/client.h"

namespace nsm::nsc {

struct Options {
  std::string name = "nsc";    // NSM_NAME: path segment name, connection ids "<name>-<i>"
  std::string nsmgr_url = {};  // NSM_CONNECT_TO
  absl::Duration dial_timeout = absl::Seconds(5);      // NSM_DIAL_TIMEOUT
  absl::Duration request_timeout = absl::Seconds(15);  // NSM_REQUEST_TIMEOUT, per service
  absl::Duration max_token_lifetime = kDefaultMaxTokenLifetime;
  std::map<std::string, std::string> labels = {};         // NSM_LABELS, under each URL's labels
  std::vector<api::NscRequestUrl> network_services = {};  // NSM_NETWORK_SERVICES

  // Required: the insecure mode is chosen by name.
  std::shared_ptr<Credentials> credentials = {};
  std::shared_ptr<const TokenGenerator> tokens = {};  // default insecure(name, lifetime, clock)
  std::shared_ptr<Clock> clock = RealClock();
  std::shared_ptr<ThreadPool> pool = {};
  // The client chain's C5 and C8 slots: the nsc binary puts healing/refresh and healing/heal
  // here; empty, a held connection lives until the nsmgr's timeout and is not restored.
  std::shared_ptr<NetworkServiceClient> refresh = {};
  std::shared_ptr<NetworkServiceClient> heal = {};
  // More client elements after dial (C10...).
  std::vector<std::shared_ptr<NetworkServiceClient>> additional = {};
};

// client chain: name, client URL = nsmgr_url, refresh, heal, dial(dial_timeout), additional,
// connect. InvalidArgument for a bad URL or missing credentials.
absl::StatusOr<std::shared_ptr<client::Client>> NewClient(const Options& options);

// The request for network_services[i]: connection id "<name>-<i>" (as cmd-nsc), the network
// service, labels = NSM_LABELS overridden by the URL's, one mechanism preference from the URL.
NetworkServiceRequest MakeRequest(const Options& options, size_t i);

// Requests until success, a non-retryable error, or `timeout` (each attempt gets what is left
// of it), waiting 200 ms doubling up to 5 s between attempts; each attempt sends a fresh copy of
// `request`. The last error names the attempts made.
absl::StatusOr<Connection> RequestWithRetry(NetworkServiceClient& client, const Context& ctx,
                                            const NetworkServiceRequest& request,
                                            absl::Duration timeout);

// What a user wants to see of a connection, without tokens (they are credentials): id, service,
// endpoint, payload, state, labels, path (names, ids, expiry), mechanism, addresses, routes. JSON:
// one object on one line (keys as the proto field names).
std::string ToJson(const Connection& conn);
std::string ToText(const Connection& conn);

}  // namespace nsm::nsc

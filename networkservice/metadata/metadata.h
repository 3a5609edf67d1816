// metadata: per-connection state shared by the elements of one hop, a client map and a server map
// per connection id, created on Request and dropped on Close (chain-model.md §5.2).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "core/networkservice.h"
#include "core/typed_key.h"

namespace nsm::metadata {

// A thread-safe map of typed values.
class Store {
 public:
  template <typename T>
  std::shared_ptr<T> Load(const TypedKey<T>& key) const {
    absl::MutexLock lock(&mu_);
    auto it = values_.find(key.id());
    return it == values_.end() ? nullptr : std::static_pointer_cast<T>(it->second);
  }
  template <typename T>
  void Put(const TypedKey<T>& key, std::shared_ptr<T> value) {
    absl::MutexLock lock(&mu_);
    values_[key.id()] = std::move(value);
  }
  // The stored value if there is one, else stores and returns `value`.
  template <typename T>
  std::shared_ptr<T> LoadOrStore(const TypedKey<T>& key, std::shared_ptr<T> value) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = values_.try_emplace(key.id(), std::move(value));
    return std::static_pointer_cast<T>(it->second);
  }
  template <typename T>
  std::shared_ptr<T> LoadAndDelete(const TypedKey<T>& key) {
    absl::MutexLock lock(&mu_);
    auto it = values_.find(key.id());
    if (it == values_.end()) return nullptr;
    auto v = std::static_pointer_cast<T>(std::move(it->second));
    values_.erase(it);
    return v;
  }
  template <typename T>
  void Delete(const TypedKey<T>& key) {
    LoadAndDelete(key);
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return values_.size();
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const void*, std::shared_ptr<void>> values_ ABSL_GUARDED_BY(mu_);
};

struct MetaData {
  Store client;  // used by client elements (refresh, heal, trimpath, dial, connect)
  Store server;  // used by server elements (timeout, monitor, discoverforwarder)
};

inline const TypedKey<MetaData> kMetaDataKey{"metadata"};

// The connection's metadata, or null when the chain has no metadata element before the caller.
inline std::shared_ptr<MetaData> FromContext(const Context& ctx) { return ctx.Value(kMetaDataKey); }

// Shared map of connection id -> metadata behind both the server and the client element.
class Table {
 public:
  absl::StatusOr<Connection> Request(
      const Context& ctx, NetworkServiceRequest& request,
      const std::function<absl::StatusOr<Connection>(const Context&)>& next);
  absl::Status Close(const Context& ctx, Connection& conn,
                     const std::function<absl::Status(const Context&)>& next);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<MetaData>> entries_ ABSL_GUARDED_BY(mu_);
};

// Put after updatepath (the key is this hop's connection id). A metadata element nested inside a
// chain that already has one (the nsmgr's connect client) reuses the outer entry.
class Server : public NetworkServiceServer {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;
  size_t size() const { return table_.size(); }

 private:
  Table table_;
};

class Client : public NetworkServiceClient {
 public:
  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;
  size_t size() const { return table_.size(); }

 private:
  Table table_;
};

inline std::shared_ptr<Server> NewServer() { return std::make_shared<Server>(); }
inline std::shared_ptr<Client> NewClient() { return std::make_shared<Client>(); }

}  // namespace nsm::metadata

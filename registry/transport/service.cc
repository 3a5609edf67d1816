#include "registry/transport/service.h"

#include <chrono>

#include "core/grpc_transport.h"

namespace nsm::reg::transport {
namespace {

template <class Response>
class FindReactor final : public grpc::ServerWriteReactor<Response>, public FindWriter<Response> {
 public:
  FindReactor(std::shared_ptr<ServerFindStream<Response>> stream, std::function<void()> on_done)
      : stream_(std::move(stream)), on_done_(std::move(on_done)) {}

  void Write(const Response* response) override { this->StartWrite(response); }
  void End(const grpc::Status& status) override { this->Finish(status); }

  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override { stream_->OnCancel(); }
  void OnDone() override {
    stream_->OnDone();
    on_done_();
    delete this;
  }

 private:
  std::shared_ptr<ServerFindStream<Response>> stream_;
  std::function<void()> on_done_;
};

std::shared_ptr<ThreadPool> OwnPool() { return NewChainPool(); }

}  // namespace

template <class T>
struct RegistryGrpcService<T>::Streams {
  void Add(const std::shared_ptr<ServerFindStream<Response>>& s) {
    absl::MutexLock lock(&mu);
    open.emplace(s.get(), s);
  }
  void Remove(ServerFindStream<Response>* raw) {
    std::shared_ptr<ServerFindStream<Response>> dropped;  // released after the lock
    absl::MutexLock lock(&mu);
    auto it = open.find(raw);
    if (it == open.end()) return;
    dropped = std::move(it->second);
    open.erase(it);
  }
  mutable absl::Mutex mu;
  absl::flat_hash_map<ServerFindStream<Response>*, std::shared_ptr<ServerFindStream<Response>>> open
      ABSL_GUARDED_BY(mu);
};

template <class T>
RegistryGrpcService<T>::RegistryGrpcService(std::shared_ptr<RegistryServer<T>> chain,
                                            ServiceOptions options)
    : chain_(std::move(chain)),
      pool_(options.pool ? std::move(options.pool) : OwnPool()),
      clock_(std::move(options.clock)),
      max_backlog_(options.max_backlog),
      streams_(std::make_shared<Streams>()) {}

template <class T>
RegistryGrpcService<T>::~RegistryGrpcService() {
  FinishStreams(absl::UnavailableError("registry service is shutting down"));
}

template <class T>
grpc::ServerUnaryReactor* RegistryGrpcService<T>::Register(grpc::CallbackServerContext* sc,
                                                           const Item* request, Item* response) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  pool_->Post([chain = chain_, ctx = ctx, cancel = cancel, request, response, reactor] {
    Item item = *request;
    auto result = chain->Register(ctx, item, RegistryServerNext<T>());
    if (result.ok()) *response = std::move(*result);
    cancel();
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

template <class T>
grpc::ServerUnaryReactor* RegistryGrpcService<T>::Unregister(grpc::CallbackServerContext* sc,
                                                             const Item* request,
                                                             google::protobuf::Empty*) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  pool_->Post([chain = chain_, ctx = ctx, cancel = cancel, request, reactor] {
    Item item = *request;
    absl::Status s = chain->Unregister(ctx, item, RegistryServerNext<T>());
    cancel();
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

template <class T>
grpc::ServerWriteReactor<typename T::Response>* RegistryGrpcService<T>::Find(
    grpc::CallbackServerContext* sc, const Query* request) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto stream = std::make_shared<ServerFindStream<Response>>(ctx, cancel, max_backlog_);
  auto* reactor = new FindReactor<Response>(
      stream, [streams = streams_, raw = stream.get()] { streams->Remove(raw); });
  stream->Attach(reactor);
  streams_->Add(stream);
  pool_->Post([chain = chain_, ctx = ctx, query = *request, stream] {
    absl::Status s = chain->Find(ctx, query, stream, RegistryServerNext<T>());
    if (!s.ok()) {
      stream->Finish(s);
    } else if (!query.watch()) {
      stream->Finish(absl::OkStatus());
    } else {
      stream->SetLive();
    }
  });
  return reactor;
}

template <class T>
void RegistryGrpcService<T>::FinishStreams(absl::Status status) {
  std::vector<std::shared_ptr<ServerFindStream<Response>>> open;
  {
    absl::MutexLock lock(&streams_->mu);
    for (const auto& [raw, s] : streams_->open) open.push_back(s);
  }
  for (const auto& s : open) s->Finish(status);
}

template <class T>
size_t RegistryGrpcService<T>::open_streams() const {
  absl::MutexLock lock(&streams_->mu);
  return streams_->open.size();
}

template class RegistryGrpcService<NSTraits>;
template class RegistryGrpcService<NSETraits>;

}  // namespace nsm::reg::transport

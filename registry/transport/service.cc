#include "registry/transport/service.h"

#include <array>
#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
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

template <class T>
constexpr const char* kShortName = "";
template <>
constexpr const char* kShortName<NSTraits> = "ns";
template <>
constexpr const char* kShortName<NSETraits> = "nse";

template <class T>
AdmissionOptions Admitting(const ServiceOptions& options) {
  AdmissionOptions o = options.admission;
  o.name = absl::StrCat(o.name.empty() ? "registry" : o.name, "/", kShortName<T>);
  o.kinds = {"Unregisters", "re-Registers", "new Registers and Finds"};
  if (options.hook_admission) options.hook_admission(kShortName<T>, o);
  return o;
}

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

// Registers waiting for a worker, by name and priority. An Unregister of a name takes the lowest
// priority among them instead of its own, so that an older Register of the name cannot run after
// it and bring the item back.
template <class T>
struct RegistryGrpcService<T>::Waiting {
  void Add(const std::string& name, CallPriority p) {
    absl::MutexLock lock(&mu);
    ++by_name[name][static_cast<size_t>(p)];
  }
  void Done(const std::string& name, CallPriority p) {
    absl::MutexLock lock(&mu);
    auto it = by_name.find(name);
    if (it == by_name.end()) return;
    --it->second[static_cast<size_t>(p)];
    if (it->second == std::array<int, 3>{}) by_name.erase(it);
  }
  CallPriority ForUnregister(const std::string& name) const {
    absl::MutexLock lock(&mu);
    auto it = by_name.find(name);
    if (it == by_name.end()) return CallPriority::kClose;
    for (CallPriority p : {CallPriority::kRequest, CallPriority::kRefresh}) {
      if (it->second[static_cast<size_t>(p)] > 0) return p;
    }
    return CallPriority::kClose;
  }
  mutable absl::Mutex mu;
  absl::flat_hash_map<std::string, std::array<int, 3>> by_name ABSL_GUARDED_BY(mu);
};

template <class T>
RegistryGrpcService<T>::RegistryGrpcService(std::shared_ptr<RegistryServer<T>> chain,
                                            ServiceOptions options)
    : chain_(std::move(chain)),
      clock_(options.clock),
      max_backlog_(options.max_backlog),
      registered_(options.registered),
      admission_(options.pool ? options.pool : OwnPool(), Admitting<T>(options)),
      streams_(std::make_shared<Streams>()),
      waiting_(std::make_shared<Waiting>()) {}

template <class T>
RegistryGrpcService<T>::~RegistryGrpcService() {
  FinishStreams(absl::UnavailableError("registry service is shutting down"));
}

template <class T>
grpc::ServerUnaryReactor* RegistryGrpcService<T>::Register(grpc::CallbackServerContext* sc,
                                                           const Item* request, Item* response) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  auto finish = [reactor](const absl::Status& s) { reactor->Answer(s); };
  // A Register of a name held renews it; without a lookup every Register is taken for one.
  const bool renewal = !registered_ || (!request->name().empty() && registered_(request->name()));
  const CallPriority priority = renewal ? CallPriority::kRefresh : CallPriority::kRequest;
  waiting_->Add(request->name(), priority);
  auto started = [waiting = waiting_, name = request->name(), priority] {
    waiting->Done(name, priority);
  };
  absl::Status admitted = admission_.Submit(
      priority, ctx,
      [chain = chain_, ctx = ctx, &item = MutableRequest<Item, Item>(sc), response, finish,
       started] {
        started();
        auto result = chain->Register(ctx, item, RegistryServerNext<T>());
        if (result.ok()) *response = std::move(*result);
        finish(result.status());
      },
      [finish, started](const absl::Status& s) {
        started();
        finish(s);
      });
  if (!admitted.ok()) {
    started();
    finish(admitted);
  }
  return reactor;
}

template <class T>
grpc::ServerUnaryReactor* RegistryGrpcService<T>::Unregister(grpc::CallbackServerContext* sc,
                                                             const Item* request,
                                                             google::protobuf::Empty*) {
  auto [ctx, cancel] = ContextFromServerContext(sc, clock_);
  auto* reactor = new CancellingUnaryReactor(cancel);
  auto finish = [reactor](const absl::Status& s) { reactor->Answer(s); };
  absl::Status admitted = admission_.Submit(
      waiting_->ForUnregister(request->name()), ctx,
      [chain = chain_, ctx = ctx, &item = MutableRequest<Item, google::protobuf::Empty>(sc),
       finish] { finish(chain->Unregister(ctx, item, RegistryServerNext<T>())); },
      finish, /*limited_as=*/CallPriority::kClose);
  if (!admitted.ok()) finish(admitted);
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
  auto end = [stream](const absl::Status& s) { stream->Finish(s); };
  absl::Status admitted = admission_.Submit(
      CallPriority::kRequest, ctx,
      [chain = chain_, ctx = ctx, query = *request, stream] {
        absl::Status s = chain->Find(ctx, query, stream, RegistryServerNext<T>());
        if (!s.ok()) {
          stream->Finish(s);
        } else if (!query.watch()) {
          stream->Finish(absl::OkStatus());
        } else {
          stream->SetLive();
        }
      },
      end);
  if (!admitted.ok()) end(admitted);
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

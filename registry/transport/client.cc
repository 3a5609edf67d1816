#include "registry/transport/client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/executor.h"
#include "core/fiber.h"
#include "core/grpc_transport.h"

namespace nsm::reg::transport {
namespace {

std::chrono::system_clock::time_point RealDeadline(absl::Duration d) {
  return std::chrono::system_clock::now() +
         absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration()));
}

void Prepare(const Context& ctx, absl::Duration default_timeout, const CallOptions& opts,
             grpc::ClientContext& cc, bool deadline_required) {
  if (auto remaining = ctx.remaining()) {
    cc.set_deadline(RealDeadline(*remaining));
  } else if (deadline_required) {
    cc.set_deadline(RealDeadline(default_timeout));
  }
  for (const auto& apply : opts.apply) apply(cc);
}

}  // namespace

template <class T>
class RegistryGrpcClient<T>::FindReader final : public grpc::ClientReadReactor<Response> {
 public:
  FindReader(const RegistryGrpcClient& client, const Context& ctx, const Query& query,
             Stream stream, std::shared_ptr<Completion> done)
      : channel_(client.channel_),
        stub_(client.stub_),
        default_timeout_(client.options_.default_timeout),
        query_(query),
        stream_(std::move(stream)),
        done_(std::move(done)),
        bridge_(&cc_) {
    bridge_.Watch(ctx);
    bridge_.Watch(stream_->context());
  }

  void Start(const Context& ctx, const CallOptions& opts) {
    Prepare(ctx, default_timeout_, opts, cc_,
            /*deadline_required=*/done_ != nullptr);  // a watch has no default deadline
    stub_->async()->Find(&cc_, &query_, this);
    this->StartRead(&response_);
    this->StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (auto s = stream_->Send(response_); !s.ok()) {
      send_error_ = s;
      cc_.TryCancel();
      return;
    }
    this->StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    bridge_.Detach();
    absl::Status result = send_error_.ok() ? FromGrpcStatus(status) : send_error_;
    if (done_) {
      done_->Set(std::move(result));
    } else {
      stream_->Finish(std::move(result));
    }
    // Not here: this runs on a gRPC callback thread, and the reader may hold the last reference
    // to the channel. Destroying a channel there can release gRPC's shared callback queue from
    // one of its own threads (a use-after-free inside gRPC 1.51, seen under ASan).
    DefaultThreadPool()->Post([this] { delete this; });
  }

 private:
  // The reader outlives the Find call (a watch) and maybe the client: it owns what it uses.
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<typename Grpc<T>::Service::Stub> stub_;
  absl::Duration default_timeout_;
  grpc::ClientContext cc_;
  Query query_;
  Response response_;
  Stream stream_;
  std::shared_ptr<Completion> done_;  // null for a watch
  absl::Status send_error_;
  CancelBridge bridge_;
};

template <class T>
RegistryGrpcClient<T>::RegistryGrpcClient(std::shared_ptr<grpc::Channel> channel,
                                          std::string target, ClientOptions options)
    : channel_(std::move(channel)),
      stub_(Grpc<T>::Service::NewStub(channel_).release()),
      target_(std::move(target)),
      options_(options) {}

template <class T>
RegistryGrpcClient<T>::~RegistryGrpcClient() {
  DropOffFiber(std::move(stub_));
  DropOffFiber(std::move(channel_));
}

template <class T>
absl::Status RegistryGrpcClient<T>::Connected(const Context& ctx) const {
  if (ctx.cancelled()) return ctx.Err();
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) return absl::OkStatus();
  if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
    // A channel waiting out gRPC's reconnect backoff (up to 5 s after a long outage) tries again
    // now: the peer may be back (a restarted nsmgr gets its registrations again without that
    // extra delay; retries are paced by the caller's own backoff, e.g. registry heal's).
    grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  }
  absl::Duration wait = options_.dial_timeout;
  if (auto remaining = ctx.remaining()) wait = std::min(wait, *remaining);
  bool connected = false;
  if (wait > absl::ZeroDuration()) {
    const auto deadline = RealDeadline(wait);
    // It blocks its thread: on a fiber, a worker's while the fiber parks.
    fiber::Blocking([&] { connected = channel_->WaitForConnected(deadline); });
  }
  if (connected) return absl::OkStatus();
  state = channel_->GetState(false);
  return absl::UnavailableError(absl::StrCat("registry at ", target_, " is not reachable within ",
                                             absl::FormatDuration(wait), " (channel ",
                                             ConnectivityStateName(state), ")"));
}

template <class T>
auto RegistryGrpcClient<T>::Register(const Context& ctx, Item& item, const Next&,
                                     const CallOptions& opts) -> absl::StatusOr<Item> {
  if (auto s = Connected(ctx); !s.ok()) return s;
  grpc::ClientContext cc;
  Prepare(ctx, options_.default_timeout, opts, cc, /*deadline_required=*/true);
  CancelBridge bridge(&cc);
  bridge.Watch(ctx);
  Item response;
  grpc::Status s;
  fiber::Blocking([&] { s = stub_->Register(&cc, item, &response); });
  bridge.Detach();
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

template <class T>
absl::Status RegistryGrpcClient<T>::Unregister(const Context& ctx, Item& item, const Next&,
                                               const CallOptions& opts) {
  if (auto s = Connected(ctx); !s.ok()) return s;
  grpc::ClientContext cc;
  Prepare(ctx, options_.default_timeout, opts, cc, /*deadline_required=*/true);
  CancelBridge bridge(&cc);
  bridge.Watch(ctx);
  google::protobuf::Empty empty;
  grpc::Status s;
  fiber::Blocking([&] { s = stub_->Unregister(&cc, item, &empty); });
  bridge.Detach();
  return FromGrpcStatus(s);
}

template <class T>
absl::Status RegistryGrpcClient<T>::Find(const Context& ctx, const Query& query,
                                         const Stream& stream, const Next&,
                                         const CallOptions& opts) {
  if (auto s = Connected(ctx); !s.ok()) return s;
  std::shared_ptr<Completion> done = query.watch() ? nullptr : Completion::Create();
  auto* reader = new FindReader(*this, ctx, query, stream, done);
  reader->Start(ctx, opts);
  if (!done) return absl::OkStatus();
  return done->Wait();
}

template class RegistryGrpcClient<NSTraits>;
template class RegistryGrpcClient<NSETraits>;

}  // namespace nsm::reg::transport

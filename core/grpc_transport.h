// gRPC transport for NetworkService chains: serve a server chain as networkservice.NetworkService
// (callback API, chain run on a bounded pool), and a client element that calls a remote server.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/admission.h"
#include "core/executor.h"
#include "core/fiber.h"
#include "core/networkservice.h"
#include "grpcpp/grpcpp.h"
#include "networkservice.grpc.pb.h"

namespace nsm {

grpc::Status ToGrpcStatus(const absl::Status& s);
absl::Status FromGrpcStatus(const grpc::Status& s);

// The Context of an incoming gRPC call on `clock`: peer, request metadata, the call's deadline,
// and a cancel function for when the call ends or the client goes away.
std::pair<Context, Context::CancelFunc> ContextFromServerContext(
    grpc::CallbackServerContext* sc, const std::shared_ptr<Clock>& clock);

// The request of a callback unary call, which gRPC keeps, mutable, until the call's reactor is
// finished: a chain run before Finish may take it over instead of a copy.
template <typename Request, typename Response>
Request& MutableRequest(grpc::CallbackServerContext* sc) {
  return *static_cast<grpc::MessageHolder<Request, Response>*>(sc->GetRpcAllocatorState())
              ->request();
}

// Gives each unary call its request on a protobuf arena (a parsed Connection is ~55 objects:
// strings, maps, path segments; on the arena they are bump allocations freed at once) and its
// response on the heap (the chain's result moves into it without a copy).
template <typename Request, typename Response>
class ArenaRequestAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder; }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(first_block_, sizeof first_block_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(&response_);
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* first, size_t size) {
      google::protobuf::ArenaOptions o;
      // The first block is part of the holder (one allocation per call, not two): a request with
      // a four-segment path fits in it; a larger one continues in blocks of its own.
      o.initial_block = first;
      o.initial_block_size = size;
      o.start_block_size = 4096;
      o.max_block_size = 16384;
      return o;
    }
    alignas(8) char first_block_[4096];  // before arena_, which uses it
    google::protobuf::Arena arena_;
    Response response_;
  };
};

// A unary reactor whose cancellation (client gone, deadline) cancels the chain's context.
// Both reactions are short and never block (a context cancellation, a delete), so gRPC may run
// them inline on the thread that completes the call: without InternalInlineable (gRPC 1.51 calls
// it "not API", its own default reactor uses it) every unary call's OnDone is a hop to gRPC's
// executor thread, a futex wake-up and two context switches. Nothing may use the reactor after
// Finish().
class CancellingUnaryReactor : public grpc::ServerUnaryReactor {
 public:
  explicit CancellingUnaryReactor(Context::CancelFunc cancel) : cancel_(std::move(cancel)) {}
  // Ends the call's context, then the call with `s`. Once: the reactor may be gone after it.
  void Answer(const absl::Status& s) {
    cancel_();
    Finish(ToGrpcStatus(s));
  }
  void OnCancel() override { cancel_(); }
  void OnDone() override { delete this; }
  bool InternalInlineable() override { return true; }

 private:
  Context::CancelFunc cancel_;
};

// Lets a context's cancellation cancel a grpc::ClientContext for as long as the call runs.
class CancelBridge {
 public:
  explicit CancelBridge(grpc::ClientContext* cc) : state_(std::make_shared<State>()) {
    state_->cc = cc;
  }
  ~CancelBridge() { Detach(); }
  CancelBridge(const CancelBridge&) = delete;
  CancelBridge& operator=(const CancelBridge&) = delete;
  void Watch(const Context& ctx) {
    if (const auto& cs = ctx.cancel_state()) {
      regs_.push_back(cs->OnCancel([state = state_] {
        absl::MutexLock lock(&state->mu);
        if (state->cc != nullptr) state->cc->TryCancel();
      }));
    }
  }
  // After this no callback touches the ClientContext (one may still be running on another
  // thread: it reaches the ClientContext only through the state, which forgets it here).
  void Detach() {
    {
      absl::MutexLock lock(&state_->mu);
      state_->cc = nullptr;
    }
    regs_.clear();
  }

 private:
  struct State {
    absl::Mutex mu;
    grpc::ClientContext* cc ABSL_GUARDED_BY(mu) = nullptr;
  };
  std::shared_ptr<State> state_;
  std::vector<std::unique_ptr<CancelState::Registration>> regs_;
};

// "IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN" for error messages.
const char* ConnectivityStateName(grpc_connectivity_state s);

// Serves `chain` over gRPC. Each call becomes a Context with the call's deadline, peer, request
// metadata and cancellation (client gone) on `clock`; the chain runs on `pool`, not on gRPC's
// callback threads (unless `admission.inline_calls`, for chains that never wait), or with
// `admission.fibers` on fibers that start on gRPC's thread and park while they wait for the next
// hop (core/fiber.h). Calls wait for a worker (or to start) in arrival order, with a backlog Closes
// first, then refreshes, then new Requests, and too many waiting calls make new work answer
// RESOURCE_EXHAUSTED at once (core/admission.h); a call whose caller gave up while it waited is
// answered with its context's error without running the chain.
class NetworkServiceGrpcServer final : public ::networkservice::NetworkService::CallbackService {
 public:
  NetworkServiceGrpcServer(std::shared_ptr<NetworkServiceServer> chain,
                           std::shared_ptr<ThreadPool> pool = DefaultThreadPool(),
                           std::shared_ptr<Clock> clock = RealClock(),
                           AdmissionOptions admission = {});

  grpc::ServerUnaryReactor* Request(grpc::CallbackServerContext* ctx,
                                    const NetworkServiceRequest* request,
                                    Connection* response) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx, const Connection* request,
                                  google::protobuf::Empty* response) override;

  const Admission& admission() const { return admission_; }

 private:
  std::shared_ptr<NetworkServiceServer> chain_;
  std::shared_ptr<Clock> clock_;
  Admission admission_;
  ArenaRequestAllocator<NetworkServiceRequest, Connection> request_allocator_;
  ArenaRequestAllocator<Connection, google::protobuf::Empty> close_allocator_;
};

// The last element of a client chain that talks to a remote NetworkService over `channel`: the
// call's deadline is the context's remaining time; call options adjust the grpc::ClientContext.
class NetworkServiceGrpcClient : public NetworkServiceClient {
 public:
  explicit NetworkServiceGrpcClient(std::shared_ptr<grpc::Channel> channel);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ClientNext& next, const CallOptions& opts) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ClientNext& next,
                     const CallOptions& opts) override;

 private:
  using Stub = ::networkservice::NetworkService::Stub;
  // A blocking unary call: `sync(cc)` off a fiber; on a fiber, `async(cc, done)` starts it and the
  // fiber parks until gRPC's callback resumes it.
  template <typename Sync, typename Async>
  static grpc::Status Unary(grpc::ClientContext* cc, Sync sync, Async async) {
    if (!fiber::OnFiber()) return sync(cc);
    auto done = fiber::Event::Create();
    grpc::Status status;
    async(cc, [done, &status](grpc::Status s) {
      status = std::move(s);
      done->Signal();
    });
    done->Wait();
    return status;
  }
  std::unique_ptr<Stub> stub_;
};

}  // namespace nsm

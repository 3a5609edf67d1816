// Registry chains: order for Register/Find/Unregister, tails, nesting, adapters, watch streams.
#include "core/registry.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsm {
namespace {

using NSE = ::registry::NetworkServiceEndpoint;
using NSEQuery = ::registry::NetworkServiceEndpointQuery;
using NSEResponse = ::registry::NetworkServiceEndpointResponse;

class LogNSEServer : public NSERegistryServer {
 public:
  LogNSEServer(std::string name, std::string* log) : name_(std::move(name)), log_(log) {}
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    *log_ += "(" + name_ + " ";
    nse.set_url(nse.url() + name_);
    auto r = next.Register(ctx, nse);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s,
                    const Next& next) override {
    *log_ += "(" + name_ + " ";
    auto r = next.Find(ctx, q, s);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    *log_ += "(" + name_ + " ";
    auto r = next.Unregister(ctx, nse);
    *log_ += name_ + ") ";
    return r;
  }

 private:
  std::string name_;
  std::string* log_;
};

class LogNSEClient : public NSERegistryClient {
 public:
  LogNSEClient(std::string name, std::string* log) : name_(std::move(name)), log_(log) {}
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next,
                               const CallOptions& opts) override {
    *log_ += "(" + name_ + " ";
    auto r = next.Register(ctx, nse, opts);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Find(const Context& ctx, const NSEQuery& q, const Stream& s, const Next& next,
                    const CallOptions& opts) override {
    *log_ += "(" + name_ + " ";
    auto r = next.Find(ctx, q, s, opts);
    *log_ += name_ + ") ";
    return r;
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next,
                          const CallOptions& opts) override {
    *log_ += "(" + name_ + " ";
    auto r = next.Unregister(ctx, nse, opts);
    *log_ += name_ + ") ";
    return r;
  }

 private:
  std::string name_;
  std::string* log_;
};

// A store-like tail: answers Find with `count` entries; with watch, keeps the stream for later.
class SendingNSEServer : public NSERegistryServer {
 public:
  explicit SendingNSEServer(int count) : count_(count) {}
  absl::StatusOr<NSE> Register(const Context& ctx, NSE& nse, const Next& next) override {
    if (watcher_) {
      NSEResponse r;
      *r.mutable_network_service_endpoint() = nse;
      (void)watcher_->Send(r);
    }
    return next.Register(ctx, nse);
  }
  absl::Status Find(const Context&, const NSEQuery& q, const Stream& s, const Next&) override {
    for (int i = 0; i < count_; ++i) {
      NSEResponse r;
      r.mutable_network_service_endpoint()->set_name("nse-" + std::to_string(i));
      if (auto st = s->Send(r); !st.ok()) return st;
    }
    if (q.watch()) watcher_ = s;
    return absl::OkStatus();
  }
  absl::Status Unregister(const Context& ctx, NSE& nse, const Next& next) override {
    if (watcher_) {
      NSEResponse r;
      *r.mutable_network_service_endpoint() = nse;
      r.set_deleted(true);
      (void)watcher_->Send(r);
    }
    return next.Unregister(ctx, nse);
  }

 private:
  int count_;
  Stream watcher_;
};

TEST(RegistryChainTest, OrderAndTailForEveryOperation) {
  std::string log;
  NSERegistryServerChain chain(
      {std::make_shared<LogNSEServer>("a", &log), std::make_shared<LogNSEServer>("b", &log)});
  NSE nse;
  nse.set_name("nse-1");
  auto registered = chain.Register(Context(), nse);
  ASSERT_TRUE(registered.ok());
  EXPECT_EQ(registered->url(), "ab");  // each element saw the request in order
  EXPECT_EQ(log, "(a (b b) a) ");

  log.clear();
  auto stream = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(chain.Find(Context(), NSEQuery(), stream).ok());
  EXPECT_EQ(log, "(a (b b) a) ");
  EXPECT_TRUE(stream->Drain().empty());  // the tail sends nothing

  log.clear();
  ASSERT_TRUE(chain.Unregister(Context(), nse).ok());
  EXPECT_EQ(log, "(a (b b) a) ");
}

TEST(RegistryChainTest, NestedChainsAndAdaptersKeepOrder) {
  std::string log;
  auto client = std::make_shared<NSERegistryClientChain>(
      NSERegistryClientChain::Elements{std::make_shared<LogNSEClient>("b", &log),
                                       std::make_shared<RegistryServerToClient<NSETraits>>(
                                           std::make_shared<LogNSEServer>("c", &log)),
                                       std::make_shared<LogNSEClient>("d", &log)});
  NSERegistryServerChain server({std::make_shared<LogNSEServer>("a", &log),
                                 std::make_shared<RegistryClientToServer<NSETraits>>(client),
                                 std::make_shared<LogNSEServer>("e", &log)});
  NSE nse;
  ASSERT_TRUE(server.Register(Context(), nse).ok());
  EXPECT_EQ(log, "(a (b (c (d (e e) d) c) b) a) ");
  log.clear();
  auto stream = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(server.Find(Context(), NSEQuery(), stream).ok());
  EXPECT_EQ(log, "(a (b (c (d (e e) d) c) b) a) ");
  log.clear();
  ASSERT_TRUE(server.Unregister(Context(), nse).ok());
  EXPECT_EQ(log, "(a (b (c (d (e e) d) c) b) a) ");
}

TEST(RegistryChainTest, NonWatchFindIsNotLimitedByABuffer) {
  // The Go adapter deadlocked above 100 buffered responses; ours has no such limit.
  NSERegistryClientChain client({std::make_shared<RegistryServerToClient<NSETraits>>(
      std::make_shared<SendingNSEServer>(1000))});
  auto stream = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(client.Find(Context(), NSEQuery(), stream).ok());
  EXPECT_EQ(stream->Drain().size(), 1000u);
}

TEST(RegistryChainTest, WatchFindReturnsAndKeepsStreaming) {
  auto store = std::make_shared<SendingNSEServer>(2);
  NSERegistryServerChain chain({store});
  auto stream = BufferedFindStream<NSEResponse>::Create(Context());
  NSEQuery query;
  query.set_watch(true);
  ASSERT_TRUE(chain.Find(Context(), query, stream).ok());
  EXPECT_EQ(stream->Recv(absl::Seconds(5))->network_service_endpoint().name(), "nse-0");
  EXPECT_EQ(stream->Recv(absl::Seconds(5))->network_service_endpoint().name(), "nse-1");

  NSE later;
  later.set_name("later");
  ASSERT_TRUE(chain.Register(Context(), later).ok());
  auto update = stream->Recv(absl::Seconds(5));
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->network_service_endpoint().name(), "later");
  EXPECT_FALSE(update->deleted());

  ASSERT_TRUE(chain.Unregister(Context(), later).ok());
  auto removal = stream->Recv(absl::Seconds(5));
  ASSERT_TRUE(removal.has_value());
  EXPECT_TRUE(removal->deleted());
}

TEST(BufferedFindStreamTest, FinishEndsTheStreamAndCancelsItsContext) {
  auto stream = BufferedFindStream<NSEResponse>::Create(Context());
  ASSERT_TRUE(stream->Send(NSEResponse()).ok());
  stream->Finish(absl::UnavailableError("upstream gone"));
  EXPECT_TRUE(stream->context().cancelled());
  EXPECT_TRUE(stream->finished());
  EXPECT_EQ(stream->final_status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(stream->Send(NSEResponse()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(stream->Recv(absl::Seconds(1)).has_value());  // buffered before Finish
  EXPECT_FALSE(stream->Recv(absl::Seconds(1)).has_value());
}

TEST(BufferedFindStreamTest, SendFailsOnceTheReceiverCancelled) {
  auto [ctx, cancel] = Context().WithCancel();
  auto stream = BufferedFindStream<NSEResponse>::Create(ctx);
  cancel();
  EXPECT_EQ(stream->Send(NSEResponse()).code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace nsm

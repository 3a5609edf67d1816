// ServerFindStream against a fake writer: one write at a time in order, finish after the queue
// drains, unbounded initial results, bounded backlog afterwards (RESOURCE_EXHAUSTED), client
// cancel and broken writes cancelling the stream's context.
#include "registry/transport/server_stream.h"

#include <vector>

#include "gtest/gtest.h"

namespace nsm::reg::transport {
namespace {

using Response = ::registry::NetworkServiceEndpointResponse;

class FakeWriter : public FindWriter<Response> {
 public:
  void Write(const Response* r) override {
    EXPECT_FALSE(writing) << "two writes outstanding";
    EXPECT_FALSE(ended) << "write after finish";
    writing = true;
    written.push_back(r->network_service_endpoint().name());
  }
  void End(const grpc::Status& s) override {
    EXPECT_FALSE(ended) << "finished twice";
    ended = true;
    status = s;
  }
  bool writing = false;
  bool ended = false;
  grpc::Status status;
  std::vector<std::string> written;
};

Response R(const std::string& name) {
  Response r;
  r.mutable_network_service_endpoint()->set_name(name);
  return r;
}

class ServerStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(1000); }
  void Make(size_t max_backlog) {
    auto [ctx, cancel] = Context().WithCancel();
    ctx_ = ctx;
    stream_ = std::make_shared<ServerFindStream<Response>>(ctx, cancel, max_backlog);
    stream_->Attach(&writer_);
  }
  // Completes the outstanding write.
  void Complete(bool ok = true) {
    ASSERT_TRUE(writer_.writing);
    writer_.writing = false;
    stream_->OnWriteDone(ok);
  }

  FakeWriter writer_;
  Context ctx_;
  std::shared_ptr<ServerFindStream<Response>> stream_;
};

TEST_F(ServerStreamTest, WritesOneAtATimeInOrder) {
  ASSERT_TRUE(stream_->Send(R("a")).ok());
  ASSERT_TRUE(stream_->Send(R("b")).ok());
  ASSERT_TRUE(stream_->Send(R("c")).ok());
  EXPECT_EQ(writer_.written, (std::vector<std::string>{"a"}));
  Complete();
  Complete();
  Complete();
  EXPECT_EQ(writer_.written, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(writer_.writing);
  ASSERT_TRUE(stream_->Send(R("d")).ok()) << "an idle stream writes at once";
  EXPECT_TRUE(writer_.writing);
}

TEST_F(ServerStreamTest, FinishWaitsForTheQueueToDrain) {
  ASSERT_TRUE(stream_->Send(R("a")).ok());
  ASSERT_TRUE(stream_->Send(R("b")).ok());
  stream_->Finish(absl::OkStatus());
  EXPECT_FALSE(writer_.ended);
  EXPECT_TRUE(ctx_.cancelled()) << "the chain stops sending at once";
  EXPECT_EQ(stream_->Send(R("c")).code(), absl::StatusCode::kFailedPrecondition);
  Complete();
  EXPECT_FALSE(writer_.ended);
  Complete();
  EXPECT_TRUE(writer_.ended);
  EXPECT_TRUE(writer_.status.ok());
  EXPECT_EQ(writer_.written, (std::vector<std::string>{"a", "b"}));
}

TEST_F(ServerStreamTest, FinishOnIdleStreamEndsAtOnce) {
  stream_->Finish(absl::NotFoundError("nope"));
  EXPECT_TRUE(writer_.ended);
  EXPECT_EQ(writer_.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(writer_.status.error_message(), "nope");
}

TEST_F(ServerStreamTest, InitialResultsAreUnboundedThenTheBacklogIsBounded) {
  Make(2);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(stream_->Send(R("s" + std::to_string(i))).ok());
  stream_->SetLive();
  EXPECT_TRUE(stream_->Send(R("u1")).ok());
  EXPECT_TRUE(stream_->Send(R("u2")).ok());
  auto s = stream_->Send(R("u3"));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(writer_.ended) << "finished now, not after the slow receiver read the backlog";
  EXPECT_EQ(writer_.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(ctx_.cancelled()) << "watchers see the end through the context";
  EXPECT_EQ(stream_->queued(), 0u) << "the backlog is dropped";
  Complete();
  EXPECT_EQ(writer_.written.size(), 1u) << "nothing more is written";
  EXPECT_EQ(stream_->Send(R("u4")).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(ServerStreamTest, TheAllowanceReturnsAsTheInitialResultsDrain) {
  Make(2);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stream_->Send(R("s")).ok());  // 1 writing, 3 queued
  stream_->SetLive();
  for (int i = 0; i < 4; ++i) Complete();    // all initial results written
  ASSERT_TRUE(stream_->Send(R("u1")).ok());  // written at once
  ASSERT_TRUE(stream_->Send(R("u2")).ok());
  ASSERT_TRUE(stream_->Send(R("u3")).ok());
  EXPECT_EQ(stream_->Send(R("u4")).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(ServerStreamTest, ClientCancelEndsTheStream) {
  ASSERT_TRUE(stream_->Send(R("a")).ok());
  stream_->OnCancel();
  EXPECT_TRUE(ctx_.cancelled());
  EXPECT_TRUE(writer_.ended);
  EXPECT_EQ(stream_->Send(R("b")).code(), absl::StatusCode::kCancelled);
  Complete(false);
  stream_->OnDone();
  EXPECT_EQ(stream_->Send(R("c")).code(), absl::StatusCode::kCancelled);
}

TEST_F(ServerStreamTest, BrokenWriteEndsTheStream) {
  ASSERT_TRUE(stream_->Send(R("a")).ok());
  ASSERT_TRUE(stream_->Send(R("b")).ok());
  Complete(false);
  EXPECT_TRUE(writer_.ended);
  EXPECT_TRUE(ctx_.cancelled());
  EXPECT_EQ(writer_.written.size(), 1u);
  EXPECT_FALSE(stream_->Send(R("c")).ok());
}

}  // namespace
}  // namespace nsm::reg::transport

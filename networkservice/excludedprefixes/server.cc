#include "networkservice/excludedprefixes/server.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "networkservice/excludedprefixes/config.h"
#include "networkservice/excludedprefixes/prefix_pool.h"

namespace nsm::excludedprefixes {
namespace {

constexpr std::streamsize kMaxFileSize = 1 << 20;

struct FileRead {
  bool exists = false;
  std::string content;
  absl::Status error;  // unreadable or too large
};

FileRead ReadFile(const std::string& path) {
  FileRead r;
  std::ifstream in(path, std::ios::binary);
  if (!in) return r;  // missing (or not openable): no prefixes
  r.exists = true;
  std::ostringstream buf;
  char chunk[4096];
  std::streamsize total = 0;
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    total += in.gcount();
    if (total > kMaxFileSize) {
      r.error = absl::ResourceExhaustedError(
          absl::StrCat(path, ": larger than ", kMaxFileSize, " bytes"));
      return r;
    }
    buf.write(chunk, in.gcount());
  }
  if (in.bad()) r.error = absl::UnavailableError(absl::StrCat(path, ": read error"));
  r.content = buf.str();
  return r;
}

}  // namespace

class Server::State : public std::enable_shared_from_this<State> {
 public:
  explicit State(Options options) : options_(std::move(options)) {}

  // Reads the file and replaces the pool if its content changed.
  void Load() {
    FileRead file = ReadFile(options_.config_path);
    absl::MutexLock lock(&mu_);
    if (!file.error.ok()) {
      last_error_ = file.error;
      return;
    }
    std::optional<std::string> content;
    if (file.exists) content = std::move(file.content);
    if (loaded_ && content == last_content_) return;
    loaded_ = true;
    last_content_ = content;
    if (!content) {
      SetPool({});
      return;
    }
    absl::StatusOr<std::vector<std::string>> parsed = ParsePrefixesYaml(*content);
    if (parsed.ok()) parsed = NormalizePrefixes(*parsed);
    if (!parsed.ok()) {
      last_error_ = absl::Status(parsed.status().code(),
                                 absl::StrCat(options_.config_path, ": ", parsed.status().message(),
                                              "; keeping the previous prefixes"));
      return;
    }
    SetPool(*std::move(parsed));
  }

  void Arm() {
    if (options_.poll_interval <= absl::ZeroDuration() || options_.clock == nullptr) return;
    std::weak_ptr<State> weak = weak_from_this();
    auto timer = options_.clock->AfterFunc(options_.poll_interval, [weak] {
      if (auto self = weak.lock()) {
        self->Load();  // a small local file: short enough for a timer callback
        self->Arm();
      }
    });
    absl::MutexLock lock(&mu_);
    timer_ = std::move(timer);
  }

  std::shared_ptr<const std::vector<std::string>> pool() const {
    absl::MutexLock lock(&mu_);
    return pool_;
  }
  absl::Status last_error() const {
    absl::MutexLock lock(&mu_);
    return last_error_;
  }
  uint64_t reloads() const {
    absl::MutexLock lock(&mu_);
    return reloads_;
  }
  void Stop() {
    std::unique_ptr<Timer> timer;
    {
      absl::MutexLock lock(&mu_);
      timer = std::move(timer_);
    }
  }

 private:
  void SetPool(std::vector<std::string> prefixes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pool_ = std::make_shared<const std::vector<std::string>>(std::move(prefixes));
    last_error_ = absl::OkStatus();
    ++reloads_;
  }

  const Options options_;
  mutable absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<std::string> last_content_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::vector<std::string>> pool_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const std::vector<std::string>>();
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<Timer> timer_ ABSL_GUARDED_BY(mu_);
};

Server::Server(Options options) : state_(std::make_shared<State>(std::move(options))) {
  state_->Load();
  state_->Arm();
}

Server::~Server() { state_->Stop(); }

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  std::shared_ptr<const std::vector<std::string>> pool = state_->pool();
  auto* ip = request.mutable_connection()->mutable_context()->mutable_ip_context();
  if (!pool->empty() || ip->excluded_prefixes_size() > 1) {
    auto* excluded = ip->mutable_excluded_prefixes();
    absl::flat_hash_set<std::string> seen;
    google::protobuf::RepeatedPtrField<std::string> merged;
    for (const std::string& p : *excluded) {
      if (seen.insert(p).second) merged.Add()->assign(p);
    }
    for (const std::string& p : *pool) {
      if (seen.insert(p).second) merged.Add()->assign(p);
    }
    excluded->Swap(&merged);
  }
  return next.Request(ctx, request);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  return next.Close(ctx, conn);
}

std::vector<std::string> Server::prefixes() const { return *state_->pool(); }
absl::Status Server::last_error() const { return state_->last_error(); }
uint64_t Server::reloads() const { return state_->reloads(); }

}  // namespace nsm::excludedprefixes

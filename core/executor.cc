#include "core/executor.h"

#include <algorithm>
#include <list>
#include <stdexcept>
#include <string>
#include <system_error>

#include "core/fiber.h"
#include "core/log.h"

namespace nsm {

namespace {
// The pool queue whose worker is running on this thread, if any.
thread_local const void* current_pool_queue = nullptr;
}  // namespace

struct ThreadPool::Queue : std::enable_shared_from_this<ThreadPool::Queue> {
  explicit Queue(Options o) : opts(std::move(o)) {
    opts.threads = std::max<size_t>(opts.threads, 1);
    if (!opts.clock) opts.clock = RealClock();
  }

  bool Wakeful() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return stopping || !tasks.empty() || retire > 0;
  }

  // Starts one more worker; false, with the reason in `error`, when the system refuses a thread.
  bool Spawn(std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto& t : exited) t.join();  // they have left the loop: no wait
    exited.clear();
    auto me = handles.emplace(handles.end());
    try {
      *me = std::thread([self = shared_from_this(), me] { self->Work(me); });
    } catch (const std::system_error& e) {
      handles.erase(me);
      error = e.what();
      return false;
    }
    ++live;  // the worker needs `mu` to start: it is counted before it runs
    return true;
  }

  // Workers waiting for work that no retirement will take (retire counts idle workers told to go).
  size_t Spare() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return idle > retire ? idle - retire : 0;
  }

  void Work(std::list<std::thread>::iterator me) {
    current_pool_queue = this;
    mu.Lock();
    for (;;) {
      ++idle;
      mu.Await(absl::Condition(this, &Queue::Wakeful));
      --idle;
      if (tasks.empty()) break;  // stopping and drained, or retired
      std::function<void()> fn = std::move(tasks.front());
      tasks.pop_front();
      min_idle = std::min(min_idle, Spare());
      WatchStall();
      mu.Unlock();
      fn();
      fn = nullptr;  // captured state goes before the next wait
      mu.Lock();
      ++finished;
    }
    --live;
    if (!stopping) {
      --retire;
      exited.splice(exited.end(), handles, me);  // joined by the next Spawn or the destructor
    }
    mu.Unlock();
  }

  // Work waits and every worker is busy: check after `stall` whether any task finished meanwhile.
  // Also while the pool is being destroyed: the destructor waits for the queue to drain, and the
  // blocked workers may be waiting for a queued task.
  void WatchStall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (stall_timer || collected || idle > 0 || tasks.empty() || live >= opts.max_threads) return;
    finished_at_watch = finished;
    stall_timer = opts.clock->AfterFunc(opts.stall, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->OnStall();
    });
  }

  void OnStall() {
    size_t now_live = 0, now_queued = 0;
    bool grew = false;
    std::string error;
    {
      absl::MutexLock lock(&mu);
      stall_timer.reset();
      const bool stalled = !collected && !tasks.empty() && idle == 0 &&
                           finished == finished_at_watch && live < opts.max_threads;
      if (!stalled) {
        WatchStall();
        return;
      }
      grew = Spawn(error);
      if (grew) {
        ++added;
        WatchLinger();
      }
      now_live = live;
      now_queued = tasks.size();
      WatchStall();
    }
    if (grew) {
      log::Default().WriteKeyed(
          log::Level::kWarn, "pool", "stall",
          "every worker blocked with work queued and none finished: one worker added",
          {{"stall", opts.stall}, {"threads", now_live}, {"queued", now_queued}});
    } else {
      log::Default().WriteKeyed(
          log::Level::kError, "pool", "spawn",
          "every worker blocked with work queued, and no worker could be added",
          {{"error", error}, {"threads", now_live}, {"queued", now_queued}});
    }
  }

  // More workers than `threads` live: retire, after `linger`, those never all needed meanwhile.
  void WatchLinger() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (linger_timer || stopping || live - retire <= opts.threads) return;
    min_idle = Spare();
    linger_timer = opts.clock->AfterFunc(opts.linger, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->OnLinger();
    });
  }

  void OnLinger() {
    absl::MutexLock lock(&mu);
    linger_timer.reset();
    if (stopping) return;
    const size_t spare = std::min(min_idle, Spare());
    retire += std::min(spare, live - retire - opts.threads);
    WatchLinger();
  }

  Options opts;
  absl::Mutex mu;
  std::deque<std::function<void()>> tasks ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // The destructor has taken the thread handles: no more workers (a detached worker that
  // destroyed the pool drains the rest alone).
  bool collected ABSL_GUARDED_BY(mu) = false;
  size_t live ABSL_GUARDED_BY(mu) = 0;
  size_t idle ABSL_GUARDED_BY(mu) = 0;
  size_t retire ABSL_GUARDED_BY(mu) = 0;    // idle workers asked to leave
  size_t min_idle ABSL_GUARDED_BY(mu) = 0;  // since the linger watch was armed
  uint64_t finished ABSL_GUARDED_BY(mu) = 0;
  uint64_t finished_at_watch ABSL_GUARDED_BY(mu) = 0;
  uint64_t added ABSL_GUARDED_BY(mu) = 0;
  std::unique_ptr<Timer> stall_timer ABSL_GUARDED_BY(mu);
  std::unique_ptr<Timer> linger_timer ABSL_GUARDED_BY(mu);
  std::list<std::thread> handles ABSL_GUARDED_BY(mu);  // live workers
  std::list<std::thread> exited ABSL_GUARDED_BY(mu);   // retired, not joined yet
};

ThreadPool::ThreadPool(size_t threads) : ThreadPool(Options{.threads = threads}) {}

ThreadPool::ThreadPool(Options options) : queue_(std::make_shared<Queue>(std::move(options))) {
  absl::MutexLock lock(&queue_->mu);
  std::string error;
  for (size_t i = 0; i < queue_->opts.threads; ++i) {
    if (!queue_->Spawn(error))
      throw std::runtime_error("thread pool: cannot start a worker: " + error);
  }
}

ThreadPool::~ThreadPool() {
  Queue& q = *queue_;
  std::list<std::thread> threads;
  {
    absl::MutexLock lock(&q.mu);
    q.stopping = true;
    q.linger_timer.reset();
    const size_t self = current_pool_queue == &q ? 1 : 0;
    auto drained = [&q, self]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(q.mu) { return q.live <= self; };
    q.mu.Await(absl::Condition(&drained));  // the stall watch may still add workers meanwhile
    q.stall_timer.reset();
    q.collected = true;
    threads.splice(threads.end(), q.handles);
    threads.splice(threads.end(), q.exited);
  }
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

void ThreadPool::Post(std::function<void()> fn) {
  absl::MutexLock lock(&queue_->mu);
  queue_->tasks.push_back(std::move(fn));
  queue_->WatchStall();
}

ThreadPool::Stats ThreadPool::stats() const {
  absl::MutexLock lock(&queue_->mu);
  return Stats{.threads = queue_->live,
               .idle = queue_->idle,
               .queued = queue_->tasks.size(),
               .added = queue_->added};
}

std::shared_ptr<ThreadPool> NewChainPool(size_t threads) {
  if (threads == 0) threads = std::max(4u, 2 * std::thread::hardware_concurrency());
  return std::make_shared<ThreadPool>(
      ThreadPool::Options{.threads = threads, .max_threads = kMaxPoolThreads});
}

std::shared_ptr<ThreadPool> DefaultThreadPool() {
  static auto* pool = new std::shared_ptr<ThreadPool>(NewChainPool());
  return *pool;
}

void Completion::Set(absl::Status s) {
  std::vector<std::shared_ptr<fiber::Event>> fibers;
  {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    done_ = true;
    status_ = std::move(s);
    fibers.swap(fibers_);
  }
  // Not here: the setter may hold locks of its own, and a fiber runs on until it parks again.
  for (auto& f : fibers) DefaultThreadPool()->Post([f = std::move(f)] { f->Signal(); });
}

bool Completion::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

absl::Status Completion::Wait() const {
  if (fiber::OnFiber()) {  // parks; Set resumes it on a worker
    std::shared_ptr<fiber::Event> event;
    {
      absl::MutexLock lock(&mu_);
      if (done_) return status_;
      event = fiber::Event::Create();
      fibers_.push_back(event);
    }
    event->Wait();
    return status();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  return status_;
}

bool Completion::WaitFor(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
}

absl::Status Completion::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

// --- SerialExecutor -------------------------------------------------------------------------

struct SerialExecutor::State : std::enable_shared_from_this<SerialExecutor::State> {
  struct Waiter {
    absl::Mutex mu;
    bool go ABSL_GUARDED_BY(mu) = false;
    std::shared_ptr<fiber::Event> fiber;  // a fiber waits: it parks until its turn
  };
  struct Item {
    std::function<void()> fn;        // async item
    std::shared_ptr<Waiter> waiter;  // sync item (shared: the waker may outlive the wait)
  };

  explicit State(std::shared_ptr<ThreadPool> p) : pool(std::move(p)) {}

  // Called by whoever holds the turn when its function is finished.
  void Done() {
    Item next;
    {
      absl::MutexLock lock(&mu);
      if (queue.empty()) {
        running = false;
        return;
      }
      next = std::move(queue.front());
      queue.pop_front();
    }
    Dispatch(std::move(next));
  }

  void Dispatch(Item item) {
    if (item.waiter && item.waiter->fiber) {
      // Resumed here, as a waiting thread would be woken: no worker needed. This thread ended its
      // turn outside any lock of ours and goes on when the fiber parks or ends its own turn.
      item.waiter->fiber->Signal();
      return;
    }
    if (item.waiter) {
      absl::MutexLock lock(&item.waiter->mu);
      item.waiter->go = true;
      return;
    }
    pool->Post([self = shared_from_this(), fn = std::move(item.fn)] {
      fn();
      self->Done();
    });
  }

  std::shared_ptr<ThreadPool> pool;
  absl::Mutex mu;
  bool running ABSL_GUARDED_BY(mu) = false;
  std::deque<Item> queue ABSL_GUARDED_BY(mu);
};

SerialExecutor::SerialExecutor(std::shared_ptr<ThreadPool> pool)
    : state_(std::make_shared<State>(std::move(pool))) {}

void SerialExecutor::RunSync(const std::function<void()>& fn) {
  std::shared_ptr<State::Waiter> waiter;
  std::shared_ptr<fiber::Event> event;  // the waiter is a fiber
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->running) {
      waiter = std::make_shared<State::Waiter>();
      if (fiber::OnFiber()) event = waiter->fiber = fiber::Event::Create();
      state_->queue.push_back(State::Item{nullptr, waiter});
    } else {
      state_->running = true;
    }
  }
  if (event) {
    event->Wait();
  } else if (waiter) {
    absl::MutexLock lock(&waiter->mu);
    waiter->mu.Await(absl::Condition(&waiter->go));
  }
  fn();
  state_->Done();
}

void SerialExecutor::Async(std::function<void()> fn) {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->running) {
      state_->queue.push_back(State::Item{std::move(fn), nullptr});
      return;
    }
    state_->running = true;
  }
  state_->Dispatch(State::Item{std::move(fn), nullptr});
}

// --- MultiExecutor --------------------------------------------------------------------------

MultiExecutor::MultiExecutor(std::shared_ptr<ThreadPool> pool) : pool_(std::move(pool)) {}

MultiExecutor::Slot* MultiExecutor::Acquire(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto& slot = slots_[key];
  if (!slot) slot = std::make_unique<Slot>(Slot{SerialExecutor(pool_), 0});
  ++slot->users;
  return slot.get();
}

void MultiExecutor::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(key);
  if (it != slots_.end() && --it->second->users == 0) slots_.erase(it);
}

void MultiExecutor::RunSync(const std::string& key, const std::function<void()>& fn) {
  Slot* slot = Acquire(key);
  slot->executor.RunSync(fn);
  Release(key);
}

void MultiExecutor::Async(const std::string& key, std::function<void()> fn) {
  Slot* slot = Acquire(key);
  slot->executor.Async([this, key, fn = std::move(fn)] {
    fn();
    Release(key);
  });
}

size_t MultiExecutor::active_keys() const {
  absl::MutexLock lock(&mu_);
  return slots_.size();
}

}  // namespace nsm

#include "core/fiber.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/executor.h"

#if defined(__SANITIZE_ADDRESS__)
#define NSM_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSM_FIBER_ASAN 1
#endif
#endif
#ifdef NSM_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace nsm::fiber {

// A chain with its gRPC calls and logging needs far less; only touched pages cost memory.
constexpr size_t kStackSize = 256 * 1024;
// Stacks kept for reuse; beyond that they are unmapped.
constexpr size_t kCachedStacks = 32;

enum State : int {
  kRunning = 0,   // on a thread, or switching out to park
  kSignaled = 1,  // running, and resumed before it could park
  kParked = 2,    // off every thread, waiting for Resume
};

struct Fiber {
  std::function<void()> fn;
  char* stack = nullptr;  // lowest address of the usable stack (above the guard page)
  ucontext_t context;     // the fiber's, while it is off a thread
  ucontext_t caller;      // the thread's that runs it, while it runs
  std::atomic<int> state{kRunning};
  bool finished = false;
#ifdef NSM_FIBER_ASAN
  void* fake_stack = nullptr;
  const void* caller_bottom = nullptr;
  size_t caller_size = 0;
#endif
};

namespace {

thread_local Fiber* current = nullptr;
std::atomic<size_t> alive{0};

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

struct StackCache {
  absl::Mutex mu;
  std::vector<char*> free ABSL_GUARDED_BY(mu);
};
StackCache& Stacks() {
  static auto* cache = new StackCache();
  return *cache;
}

char* NewStack() {
  {
    StackCache& c = Stacks();
    absl::MutexLock lock(&c.mu);
    if (!c.free.empty()) {
      char* s = c.free.back();
      c.free.pop_back();
      return s;
    }
  }
  const size_t page = PageSize();
  void* base = mmap(nullptr, kStackSize + page, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    std::perror("nsm fiber: mmap of a stack");
    std::abort();
  }
  if (mprotect(base, page, PROT_NONE) != 0) {  // an overflow faults instead of writing over memory
    std::perror("nsm fiber: mprotect of a stack's guard page");
    std::abort();
  }
  return static_cast<char*>(base) + page;
}

void FreeStack(char* stack) {
  {
    StackCache& c = Stacks();
    absl::MutexLock lock(&c.mu);
    if (c.free.size() < kCachedStacks) {
      c.free.push_back(stack);
      return;
    }
  }
  munmap(stack - PageSize(), kStackSize + PageSize());
}

// Code on the fiber's side after it gets a thread (first entry, or back from a park).
void Arrived([[maybe_unused]] Fiber* f) {
#ifdef NSM_FIBER_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &f->caller_bottom, &f->caller_size);
#endif
}

// Gives the thread back to the code that resumed the fiber: to park, or for good.
void Leave(Fiber* f) {
#ifdef NSM_FIBER_ASAN
  __sanitizer_start_switch_fiber(f->finished ? nullptr : &f->fake_stack, f->caller_bottom,
                                 f->caller_size);
#endif
  swapcontext(&f->context, &f->caller);
}

void Trampoline() {
  Fiber* f = current;
  Arrived(f);
  f->fn();
  f->fn = nullptr;  // what it holds goes while the fiber still exists
  f->finished = true;
  Leave(f);  // never returns
  std::abort();
}

// Runs `f` on this thread until it parks or finishes.
void Resume(Fiber* f) {
  for (;;) {
    Fiber* outer = current;  // a fiber that resumes another one
    current = f;
#ifdef NSM_FIBER_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack, kStackSize);
#endif
    swapcontext(&f->caller, &f->context);
#ifdef NSM_FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    current = outer;
    if (f->finished) {
      FreeStack(f->stack);
      delete f;
      alive.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    // It is parking: from here on another thread may resume it, unless a signal came first.
    int expected = kRunning;
    if (f->state.compare_exchange_strong(expected, kParked, std::memory_order_acq_rel)) return;
    f->state.store(kRunning, std::memory_order_relaxed);  // signalled meanwhile: go on
  }
}

// Parks the current fiber until Unpark (which may already have come).
void Park(Fiber* f) {
  int expected = kSignaled;
  if (f->state.compare_exchange_strong(expected, kRunning, std::memory_order_acq_rel)) return;
  Leave(f);
  Arrived(f);
}

void Unpark(Fiber* f) {
  int s = f->state.load(std::memory_order_acquire);
  for (;;) {
    if (s == kParked) {
      if (f->state.compare_exchange_weak(s, kRunning, std::memory_order_acq_rel)) {
        Resume(f);
        return;
      }
    } else if (f->state.compare_exchange_weak(s, kSignaled, std::memory_order_acq_rel)) {
      return;  // it has not parked yet: Park or Resume sees the signal
    }
  }
}

}  // namespace

void Run(std::function<void()> fn) {
  auto* f = new Fiber();
  alive.fetch_add(1, std::memory_order_relaxed);
  f->fn = std::move(fn);
  f->stack = NewStack();
  getcontext(&f->context);
  f->context.uc_stack.ss_sp = f->stack;
  f->context.uc_stack.ss_size = kStackSize;
  f->context.uc_link = nullptr;
  makecontext(&f->context, &Trampoline, 0);
  // Trampoline reads `current`, which Resume sets to `f` before the first switch.
  Resume(f);
}

// Not inlined: a caller on a fiber may have moved threads since it last read `current`.
__attribute__((noinline)) bool OnFiber() {
  asm volatile("" ::: "memory");  // nor taken for a const function and its result reused
  return current != nullptr;
}

void Blocking(const std::function<void()>& fn) {
  if (!OnFiber()) {
    fn();
    return;
  }
  auto done = Event::Create();
  DefaultThreadPool()->Post([&fn, done] {
    fn();
    done->Signal();
  });
  done->Wait();
}

size_t Alive() { return alive.load(std::memory_order_relaxed); }

void Event::Wait() {
  Fiber* f = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (signaled_) return;
    f = current;
    if (f == nullptr) {
      mu_.Await(absl::Condition(&signaled_));
      return;
    }
    if (fiber_ != nullptr) {
      std::fprintf(stderr, "nsm fiber: a second fiber waits on a one-shot event\n");
      std::abort();
    }
    fiber_ = f;
  }
  Park(f);
}

void Event::Signal() {
  Fiber* f = nullptr;
  {
    absl::MutexLock lock(&mu_);
    signaled_ = true;
    f = fiber_;
  }
  if (f != nullptr) Unpark(f);
}

}  // namespace nsm::fiber

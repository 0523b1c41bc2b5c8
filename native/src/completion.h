// Resolving JS promises when a stream reaches a point: an event is recorded behind the stream's
// work, a waiter thread of the queue waits for it and hands the completion to the JS thread
// through a thread-safe function, so the event loop never blocks on the GPU. (A waiting thread
// notices the event within microseconds; cudaLaunchHostFunc's callback thread took tens.)
// Waking the JS thread that way costs it about 13 µs per completion on the H100 machine, so the JS
// side may also poll (Poll(), from setImmediate while it expects a short run to finish): whichever
// of the two sees an event first claims its item and settles the promise, the other leaves it.
#pragma once

#include <cuda_runtime.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "device_state.h"

namespace fxrt {

// Produces the value the promise resolves with; runs on the JS thread. May throw to reject.
using CompletionFn = std::function<Napi::Value(Napi::Env)>;

class CompletionQueue;

struct CompletionItem {
  CompletionItem(Napi::Env env, CompletionQueue* q, std::shared_ptr<StreamState> s, CompletionFn fn, const char* o)
      : deferred(Napi::Promise::Deferred::New(env)), queue(q), stream(std::move(s)), onDone(std::move(fn)), op(o) {}
  Napi::Promise::Deferred deferred;
  CompletionQueue* queue;
  std::shared_ptr<StreamState> stream;  // kept alive until the callback ran
  CompletionFn onDone;
  const char* op;
  std::atomic<bool> claimed{false};  // set by whichever of the waiter thread and Poll() settles it
};

class CompletionQueue {
 public:
  explicit CompletionQueue(Napi::Env env);
  // Stops the waiter thread (the environment synchronized the device before).
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // A promise resolved with onDone(env) (undefined when onDone is empty) once everything enqueued
  // on `stream` so far has run; rejected when the stream reports a CUDA error.
  Napi::Promise Enqueue(Napi::Env env, const std::shared_ptr<StreamState>& stream, CompletionFn onDone, const char* op);

  // Completions waiting for their stream (the event loop stays alive while there are any).
  size_t pending() const { return pending_; }
  // Completions Poll() settled (the rest were settled through the waiter thread), since start.
  size_t polled() const { return polled_; }
  // On the JS thread: settles the items whose events have completed (those the waiter thread has
  // not claimed yet); returns how many completions are still pending.
  size_t Poll(Napi::Env env);
  // Stops the waiter thread once it handed over every pending item (call after the device was
  // synchronized, before the thread-safe function is torn down). Idempotent.
  void Shutdown() noexcept;

 private:
  static void CallJs(Napi::Env env, Napi::Function, CompletionQueue* queue, std::shared_ptr<CompletionItem>* item);
  // Settles a claimed item's promise on the JS thread and releases what it holds (its stream and
  // onDone's captures), so that the shell left to the waiter thread frees nothing of the device.
  void Settle(Napi::Env env, CompletionItem& item);
  // The waiter thread: waits for the recorded events and posts each finished one's item to JS.
  void Wait(int device);

  using Tsfn = Napi::TypedThreadSafeFunction<CompletionQueue, std::shared_ptr<CompletionItem>, CallJs>;
  Tsfn tsfn_;
  size_t pending_ = 0;  // JS thread only
  size_t polled_ = 0;   // JS thread only

  struct Waiting {
    cudaEvent_t event;
    std::shared_ptr<CompletionItem> item;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiting> waiting_;    // guarded by mu_
  std::atomic<size_t> queued_{0};  // waiting_.size(), for the waiter's spin without the mutex
  std::vector<cudaEvent_t> idle_;  // recycled events, guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::thread waiter_;             // started on the first completion
};

}  // namespace fxrt

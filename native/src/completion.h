// Resolving JS promises when a stream reaches a point: cudaLaunchHostFunc enqueues a host
// function behind the stream's work; it hands the completion to the JS thread through a
// thread-safe function, so the event loop never blocks on the GPU.
#pragma once

#include <cuda_runtime.h>
#include <napi.h>

#include <cstddef>
#include <functional>
#include <memory>

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
};

class CompletionQueue {
 public:
  explicit CompletionQueue(Napi::Env env);
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // A promise resolved with onDone(env) (undefined when onDone is empty) once everything enqueued
  // on `stream` so far has run; rejected when the stream reports a CUDA error.
  Napi::Promise Enqueue(Napi::Env env, const std::shared_ptr<StreamState>& stream, CompletionFn onDone, const char* op);

  // Completions waiting for their stream (the event loop stays alive while there are any).
  size_t pending() const { return pending_; }

 private:
  static void CallJs(Napi::Env env, Napi::Function, CompletionQueue* queue, CompletionItem* item);
  static void CUDART_CB OnStreamReached(void* data);

  using Tsfn = Napi::TypedThreadSafeFunction<CompletionQueue, CompletionItem, CallJs>;
  Tsfn tsfn_;
  size_t pending_ = 0;
};

}  // namespace fxrt

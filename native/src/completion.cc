#include "completion.h"

#include <chrono>
#include <exception>
#include <string>

#include "cuda_check.h"

namespace fxrt {

CompletionQueue::CompletionQueue(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "fxrt_cuda_completion", 0, 1, this);
  tsfn_.Unref(env);  // referenced only while completions are pending
}

CompletionQueue::~CompletionQueue() {
  Shutdown();
  for (cudaEvent_t e : idle_) cudaEventDestroy(e);
}

Napi::Promise CompletionQueue::Enqueue(Napi::Env env, const std::shared_ptr<StreamState>& stream, CompletionFn onDone,
                                       const char* op) {
  cudaEvent_t event = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      event = idle_.back();
      idle_.pop_back();
    }
  }
  if (event == nullptr) FXRT_CUDA_CHECK(env, op, cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  cudaError_t err = cudaEventRecord(event, stream->stream());
  if (err != cudaSuccess) {
    cudaEventDestroy(event);
    ThrowCuda(env, err, op, "cudaEventRecord");
  }
  if (!waiter_.joinable()) {
    int device = 0;
    cudaGetDevice(&device);
    waiter_ = std::thread([this, device]() { Wait(device); });
  }
  auto item = std::make_shared<CompletionItem>(env, this, stream, std::move(onDone), op);
  Napi::Promise promise = item->deferred.Promise();
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_.push_back(Waiting{event, item});
    queued_.store(waiting_.size(), std::memory_order_release);
  }
  cv_.notify_one();
  if (pending_++ == 0) tsfn_.Ref(env);
  return promise;
}

void CompletionQueue::Shutdown() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (waiter_.joinable()) waiter_.join();
}

// Runs on the waiter thread: it polls the pending events (streams finish in any order), hands the
// items of finished ones to JS, and never touches JS values. With one event pending it blocks in
// cudaEventSynchronize, which notices completion within microseconds.
void CompletionQueue::Wait(int device) {
  cudaSetDevice(device);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Back-to-back runs are the common case (a serving loop, a benchmark): after a completion the
    // thread polls for new work for a short while before it parks, so the next run's completion
    // does not pay a thread wake-up (tens of microseconds per call). Bounded: an idle process
    // parks the thread after kSpinFor.
    // The spin reads an atomic count, not the list under the mutex, so it does not contend with
    // the JS thread's Enqueue and Poll.
    if (waiting_.empty() && !stop_) {
      constexpr auto kSpinFor = std::chrono::microseconds(200);
      const auto until = std::chrono::steady_clock::now() + kSpinFor;
      lock.unlock();
      while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
      lock.lock();
    }
    cv_.wait(lock, [this]() { return stop_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, nothing left
    // Only this thread removes entries; the JS thread appends: the first n stay put while unlocked.
    const size_t n = waiting_.size();
    std::vector<Waiting> snapshot(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    std::vector<bool> done(n, false);
    bool any = false;
    if (n == 1) {
      cudaEventSynchronize(snapshot[0].event);  // an error (a fault) is reported by Settle from the stream
      done[0] = any = true;
    } else {
      for (size_t i = 0; i < n; i++) {
        done[i] = cudaEventQuery(snapshot[i].event) != cudaErrorNotReady;
        any = any || done[i];
      }
    }
    if (!any) std::this_thread::yield();
    for (size_t i = 0; i < n; i++) {
      // An item Poll() claimed first was settled on the JS thread (a shell is left). napi_closing
      // means the environment is being torn down: the item is then dropped (a small leak at exit),
      // since freeing it here would touch JS handles off the JS thread.
      if (done[i] && !snapshot[i].item->claimed.exchange(true)) {
        tsfn_.NonBlockingCall(new std::shared_ptr<CompletionItem>(snapshot[i].item));
      }
    }
    lock.lock();
    for (size_t i = n; i-- > 0;) {
      if (!done[i]) continue;
      idle_.push_back(waiting_[i].event);
      waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    queued_.store(waiting_.size(), std::memory_order_release);
  }
}

void CompletionQueue::CallJs(Napi::Env env, Napi::Function, CompletionQueue* queue, std::shared_ptr<CompletionItem>* raw) {
  std::unique_ptr<std::shared_ptr<CompletionItem>> item(raw);
  if (env == nullptr) return;  // teardown: release the item without settling its promise
  queue->Settle(env, **item);
}

size_t CompletionQueue::Poll(Napi::Env env) {
  std::vector<Waiting> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Waiting& w : waiting_) {
      if (!w.item->claimed.load()) snapshot.push_back(w);
    }
  }
  // Events are recorded on this thread only, so none of these is re-recorded meanwhile (a
  // recycled one reads as complete, and its item is claimed already).
  for (const Waiting& w : snapshot) {
    if (cudaEventQuery(w.event) == cudaErrorNotReady) continue;
    if (!w.item->claimed.exchange(true)) {
      polled_++;
      Settle(env, *w.item);
    }
  }
  return pending_;
}

void CompletionQueue::Settle(Napi::Env env, CompletionItem& item) {
  if (--pending_ == 0) tsfn_.Unref(env);
  // A fault in earlier work (illegal address, ...) is sticky: the query reports it.
  const cudaError_t err = cudaStreamQuery(item.stream->stream());
  if (err != cudaSuccess && err != cudaErrorNotReady) {
    item.deferred.Reject(CudaError(env, err, item.op, "stream execution").Value());
  } else {
    try {
      item.deferred.Resolve(item.onDone ? item.onDone(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      item.deferred.Reject(e.Value());
    } catch (const std::exception& e) {
      item.deferred.Reject(Napi::Error::New(env, std::string("fxrt cuda: ") + item.op + ": " + e.what()).Value());
    }
  }
  item.onDone = nullptr;
  item.stream.reset();
}

}  // namespace fxrt

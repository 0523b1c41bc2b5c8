#include "completion.h"

#include <exception>
#include <string>

#include "cuda_check.h"

namespace fxrt {

CompletionQueue::CompletionQueue(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "fxrt_cuda_completion", 0, 1, this);
  tsfn_.Unref(env);  // referenced only while completions are pending
}

Napi::Promise CompletionQueue::Enqueue(Napi::Env env, const std::shared_ptr<StreamState>& stream, CompletionFn onDone,
                                       const char* op) {
  auto* item = new CompletionItem(env, this, stream, std::move(onDone), op);
  Napi::Promise promise = item->deferred.Promise();
  cudaError_t err = cudaLaunchHostFunc(stream->stream(), &CompletionQueue::OnStreamReached, item);
  if (err != cudaSuccess) {
    delete item;
    ThrowCuda(env, err, op, "cudaLaunchHostFunc");
  }
  if (pending_++ == 0) tsfn_.Ref(env);
  return promise;
}

// Runs on a CUDA-owned thread: it must not call CUDA or touch JS values, only hand the item over.
void CUDART_CB CompletionQueue::OnStreamReached(void* data) {
  auto* item = static_cast<CompletionItem*>(data);
  // napi_closing means the environment is being torn down: the item is then dropped (a small
  // leak at exit), since freeing it here could run CUDA calls on this thread.
  item->queue->tsfn_.NonBlockingCall(item);
}

void CompletionQueue::CallJs(Napi::Env env, Napi::Function, CompletionQueue* queue, CompletionItem* raw) {
  std::unique_ptr<CompletionItem> item(raw);
  if (env == nullptr) return;  // teardown: release the item without settling its promise
  if (--queue->pending_ == 0) queue->tsfn_.Unref(env);
  // A fault in earlier work (illegal address, ...) is sticky: the query reports it.
  cudaError_t err = cudaStreamQuery(item->stream->stream());
  if (err != cudaSuccess && err != cudaErrorNotReady) {
    item->deferred.Reject(CudaError(env, err, item->op, "stream execution").Value());
    return;
  }
  try {
    item->deferred.Resolve(item->onDone ? item->onDone(env) : env.Undefined());
  } catch (const Napi::Error& e) {
    item->deferred.Reject(e.Value());
  } catch (const std::exception& e) {
    item->deferred.Reject(Napi::Error::New(env, std::string("fxrt cuda: ") + item->op + ": " + e.what()).Value());
  }
}

}  // namespace fxrt

// The JS Stream object: a handle on a StreamState with synchronize() and destroy().
#pragma once

#include <napi.h>

#include <memory>

#include "device_state.h"

namespace fxrt {

class Stream : public Napi::ObjectWrap<Stream> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps `state` in a new JS Stream object.
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<StreamState> state, bool isDefault);
  // The stream passed as argument `arg` of `op`; undefined or null selects the default stream.
  static std::shared_ptr<StreamState> From(Napi::Env env, Napi::Value v, const char* op, const char* arg);

  explicit Stream(const Napi::CallbackInfo& info);

 private:
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  Napi::Value Query(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value IsDestroyed(const Napi::CallbackInfo& info);

  std::shared_ptr<StreamState> state_;
  bool isDefault_ = false;
};

// createStream(): a new non-blocking stream.
Napi::Value CreateStream(const Napi::CallbackInfo& info);
// defaultStream(): the stream used when none is given (one per environment, never destroyed).
Napi::Value DefaultStream(const Napi::CallbackInfo& info);
// pollCompletions(): settles the pending promises (runs, synchronize, downloads) whose streams have
// reached their point, on the calling JS thread; returns how many are still pending.
Napi::Value PollCompletions(const Napi::CallbackInfo& info);

}  // namespace fxrt

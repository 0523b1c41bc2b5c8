// The JS face of the plan executor (src/backends/cuda/executor.ts drives it):
//   loadPlan(constants: Uint8Array) → ExecPlan          constants uploaded once
//   plan.createContext(memoryBytes) → ExecContext       own stream and device memory
//   plan.tacticDevice() / importTactics(entries) / exportTactics() / tacticStats()
//                                                       the plan's tactic cache and the
//                                                       persistent timing cache (timing_cache.h)
//   context.prepare(spec) → ExecProgram                 ops for one set of input shapes
//   context.run(program, inputs, outputs?, profile, timedRuns?)
//                                                       one call enqueues a whole execution (with
//                                                       timedRuns: that many, back to back, timed
//                                                       by events: runMs, each run's GPU ms);
//       → Promise<{ outputs, stepMs, runMs }>           resolved by a completion callback; rejected
//                                                       with code 'FXRT_DATA_ERROR' and `step` when
//                                                       a kernel reported bad data (kernels/data_error.h)
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "exec/program.h"

namespace fxrt::exec {

class ExecPlan : public Napi::ObjectWrap<ExecPlan> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ExecPlan(const Napi::CallbackInfo& info);

 private:
  Napi::Value CreateContext(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value TacticDevice(const Napi::CallbackInfo& info);
  Napi::Value ImportTactics(const Napi::CallbackInfo& info);
  Napi::Value ExportTactics(const Napi::CallbackInfo& info);
  Napi::Value TacticStats(const Napi::CallbackInfo& info);
  // The plan state, or a thrown error naming `op` once the plan was disposed.
  PlanState& Live(Napi::Env env, const char* op) const;
  std::shared_ptr<PlanState> state_;
};

class ExecContext : public Napi::ObjectWrap<ExecContext> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ExecContext(const Napi::CallbackInfo& info);

 private:
  Napi::Value Prepare(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value MemoryBytes(const Napi::CallbackInfo& info);
  Napi::Value GetStream(const Napi::CallbackInfo& info);
  std::shared_ptr<ContextState> state_;
};

class ExecProgram : public Napi::ObjectWrap<ExecProgram> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ExecProgram(const Napi::CallbackInfo& info);
  const std::shared_ptr<Program>& program() const { return program_; }

 private:
  Napi::Value Tactics(const Napi::CallbackInfo& info);
  Napi::Value GraphState(const Napi::CallbackInfo& info);
  Napi::Value ChainedLaunches(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  std::shared_ptr<Program> program_;
  std::vector<TacticSource> sources_;  // per op: where its implementation came from
};

// loadPlan(constants: Uint8Array): uploads the constants (once) and returns an ExecPlan.
Napi::Value LoadPlan(const Napi::CallbackInfo& info);

}  // namespace fxrt::exec

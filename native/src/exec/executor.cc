#include "exec/executor.h"

#include <algorithm>
#include <cstring>

#include "addon_state.h"
#include "args.h"
#include "buffer.h"
#include "cuda_check.h"
#include "exec/op_factory.h"
#include "exec/timing_cache.h"
#include "stream.h"

namespace fxrt::exec {

namespace {

// Scratch of a prepare (cuDNN tries algorithms on it), and the smaller one taken when that much
// device memory is not free.
constexpr size_t kBuildWorkspace = size_t{256} << 20;
constexpr size_t kFallbackBuildWorkspace = size_t{32} << 20;

template <typename T>
struct Init {
  std::shared_ptr<T> state;
};

template <typename T>
std::shared_ptr<T> TakeInit(const Napi::CallbackInfo& info, const char* what) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), what, "objects of this class are created by the addon");
  return info[0].As<Napi::External<Init<T>>>().Data()->state;
}

struct ProgramInit {
  std::shared_ptr<Program> program;
  std::vector<TacticSource> sources;
};

// Releases a context for the next run when a run's completion item goes, whether it resolved,
// rejected or was dropped at teardown.
struct RunGuard {
  explicit RunGuard(std::shared_ptr<ContextState> c) : ctx(std::move(c)) { ctx->busy = true; }
  ~RunGuard() { ctx->busy = false; }
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;
  std::shared_ptr<ContextState> ctx;
};

// The events of a timed run (run(..., timedRuns)): one before each run and one after the last.
struct RunTimer {
  std::vector<cudaEvent_t> events;
  RunTimer() = default;
  RunTimer(const RunTimer&) = delete;
  RunTimer& operator=(const RunTimer&) = delete;
  ~RunTimer() {
    for (cudaEvent_t e : events) cudaEventDestroy(e);
  }
};

// The largest timedRuns a run takes: one call creates at most 100001 events (one per run and one
// after the last), all destroyed when its completion is read.
constexpr int kMaxTimedRuns = 100000;

}  // namespace

// ---- ExecPlan ----

Napi::Function ExecPlan::Define(Napi::Env env) {
  return DefineClass(env, "ExecPlan", {
    InstanceMethod<&ExecPlan::CreateContext>("createContext"),
    InstanceMethod<&ExecPlan::Dispose>("dispose"),
    InstanceMethod<&ExecPlan::TacticDevice>("tacticDevice"),
    InstanceMethod<&ExecPlan::ImportTactics>("importTactics"),
    InstanceMethod<&ExecPlan::ExportTactics>("exportTactics"),
    InstanceMethod<&ExecPlan::TacticStats>("tacticStats"),
    InstanceAccessor<&ExecPlan::ByteLength>("constantBytes"),
  });
}

ExecPlan::ExecPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecPlan>(info) {
  state_ = TakeInit<PlanState>(info, "ExecPlan");
}

Napi::Value ExecPlan::CreateContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "createContext";
  if (!state_) ThrowError(env, op, "the plan was disposed");
  size_t bytes = ParseSize(env, info[0], op, "memoryBytes");
  Init<ContextState> init{ContextState::Create(env, state_, bytes)};
  return AddonState::Of(env).execContextClass.New({Napi::External<Init<ContextState>>::New(env, &init)});
}

Napi::Value ExecPlan::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();  // contexts keep the constants alive until they go too
  return info.Env().Undefined();
}

Napi::Value ExecPlan::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state_ ? static_cast<double>(state_->bytes()) : 0.0);
}

PlanState& ExecPlan::Live(Napi::Env env, const char* op) const {
  if (!state_) ThrowError(env, op, "the plan was disposed");
  return *state_;
}

// { name, computeCapability, multiprocessors, cublasLtVersion, cudnnVersion, tacticFormat }
Napi::Value ExecPlan::TacticDevice(const Napi::CallbackInfo& info) {
  return exec::TacticDevice(info.Env(), Live(info.Env(), "tacticDevice").device()->device());
}

// importTactics([{ key, data: Uint8Array }]) → how many were accepted
Napi::Value ExecPlan::ImportTactics(const Napi::CallbackInfo& info) {
  PlanState& plan = Live(info.Env(), "importTactics");
  return Napi::Number::New(info.Env(), static_cast<double>(exec::ImportTactics(info.Env(), info[0], plan.cache())));
}

// exportTactics() → [{ key, tactic, ms, data: Uint8Array }] timed since the plan was loaded
Napi::Value ExecPlan::ExportTactics(const Napi::CallbackInfo& info) {
  return exec::ExportTactics(info.Env(), Live(info.Env(), "exportTactics").cache());
}

// tacticStats() → { hits, misses, timed, rejected }
Napi::Value ExecPlan::TacticStats(const Napi::CallbackInfo& info) {
  return TacticStatsValue(info.Env(), Live(info.Env(), "tacticStats").cache().stats());
}

Napi::Value LoadPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "loadPlan";
  if (!info[0].IsTypedArray()) ThrowType(env, op, "argument 'constants' must be a Uint8Array");
  Napi::TypedArray src = info[0].As<Napi::TypedArray>();
  const size_t bytes = src.ByteLength();
  const std::shared_ptr<DeviceState>& device = AddonState::Of(env).Device(env);
  cudaStream_t stream = device->defaultStream()->stream();
  // At least one byte, so that every plan has a valid constants pointer.
  char* weights = static_cast<char*>(device->Allocate(env, bytes > 0 ? bytes : 1, stream, op));
  auto state = std::make_shared<PlanState>(device, weights, bytes > 0 ? bytes : 1);
  if (bytes > 0) {
    PinnedBlock* block = device->AcquireStaging(env, bytes, op);
    std::memcpy(block->host, static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset(), bytes);
    cudaError_t err = cudaMemcpyAsync(weights, block->host, bytes, cudaMemcpyHostToDevice, stream);
    device->ReleaseStaging(block, err == cudaSuccess ? stream : nullptr);
    CheckCuda(env, err, op, "cudaMemcpyAsync(HostToDevice)");
  }
  Init<PlanState> init{state};
  return AddonState::Of(env).execPlanClass.New({Napi::External<Init<PlanState>>::New(env, &init)});
}

// ---- ExecContext ----

Napi::Function ExecContext::Define(Napi::Env env) {
  return DefineClass(env, "ExecContext", {
    InstanceMethod<&ExecContext::Prepare>("prepare"),
    InstanceMethod<&ExecContext::Run>("run"),
    InstanceMethod<&ExecContext::Dispose>("dispose"),
    InstanceAccessor<&ExecContext::MemoryBytes>("memoryBytes"),
    InstanceAccessor<&ExecContext::GetStream>("stream"),
  });
}

ExecContext::ExecContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecContext>(info) {
  state_ = TakeInit<ContextState>(info, "ExecContext");
}

Napi::Value ExecContext::MemoryBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state_ ? static_cast<double>(state_->memoryBytes()) : 0.0);
}

// The context's stream, as a Stream handle: buffers allocated on it (the run's outputs) are used
// by the run without any cross-stream wait.
Napi::Value ExecContext::GetStream(const Napi::CallbackInfo& info) {
  if (!state_) ThrowError(info.Env(), "stream", "the context was disposed");
  return Stream::Wrap(info.Env(), state_->stream(), false);
}

Napi::Value ExecContext::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();  // memory is freed once programs and runs in flight let go
  return info.Env().Undefined();
}

// prepare({ ops, inputs: [{offset, bytes}], outputs, stepNames, tune, graphs, deterministic })
Napi::Value ExecContext::Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "prepare";
  if (!state_) ThrowError(env, op, "the context was disposed");
  if (state_->busy) ThrowError(env, op, "a run is in flight on this context");
  SpecReader spec(env, info[0], "program");
  std::vector<SpecReader> opSpecs = spec.Objs("ops");
  std::vector<std::string> stepNames;
  Napi::Value namesValue = info[0].As<Napi::Object>().Get("stepNames");
  if (!namesValue.IsArray()) spec.Fail("field 'stepNames' must be an array of strings");
  Napi::Array names = namesValue.As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); i++) stepNames.push_back(names.Get(i).ToString().Utf8Value());
  const bool tune = spec.Bool("tune");
  auto program = std::make_shared<Program>(state_, spec.Bool("graphs"), spec.Bool("graphCopies"), std::move(stepNames));
  auto slots = [&](const char* key) {
    std::vector<IoSlot> out;
    for (const SpecReader& s : spec.Objs(key)) {
      int64_t offset = s.Int("offset"), bytes = s.Int("bytes");
      if (offset < 0 || bytes < 0) s.Fail("offset and bytes must be non-negative");
      out.push_back(IoSlot{static_cast<size_t>(offset), static_cast<size_t>(bytes)});
    }
    return out;
  };
  program->SetIo(env, slots("inputs"), slots("outputs"));

  PlanState& plan = *state_->plan();
  const std::shared_ptr<DeviceState>& device = plan.device();
  BuildContext ctx{env};
  ctx.mem = Memories{state_->memory(), state_->memoryBytes(), plan.weights(), plan.bytes(), {}};
  // bind: { inputs, outputs } of (DeviceBuffer | null): slots the program addresses in those
  // buffers (no copies); runs must pass the same buffers there.
  Napi::Value bindValue = info[0].As<Napi::Object>().Get("bind");
  if (!bindValue.IsUndefined() && !bindValue.IsNull()) {
    if (!bindValue.IsObject()) spec.Fail("field 'bind' must be an object");
    auto bindList = [&](const char* key, const std::vector<IoSlot>& list) {
      std::vector<char*> ptrs(list.size(), nullptr);
      Napi::Value v = bindValue.As<Napi::Object>().Get(key);
      if (!v.IsArray() || v.As<Napi::Array>().Length() != list.size()) {
        spec.Fail(std::string("bind.") + key + " must be an array of " + std::to_string(list.size()) + " DeviceBuffer or null");
      }
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value b = a.Get(i);
        if (b.IsNull() || b.IsUndefined()) continue;
        const std::string arg = std::string("bind.") + key + "[" + std::to_string(i) + "]";
        DeviceBuffer* buf = DeviceBuffer::From(env, b, op, arg.c_str());
        buf->RequireBytes(env, list[i].bytes, op, arg.c_str());
        ptrs[i] = static_cast<char*>(buf->data());
        if (list[i].bytes > 0) ctx.mem.bound.push_back(SlotBinding{list[i].offset, list[i].offset + list[i].bytes, ptrs[i]});
      }
      return ptrs;
    };
    std::vector<char*> ins = bindList("inputs", program->inputs());
    std::vector<char*> outs = bindList("outputs", program->outputs());
    program->SetBound(std::move(ins), std::move(outs));
  }
  ctx.stream = state_->stream()->stream();
  ctx.tune = tune;
  ctx.deterministic = spec.Bool("deterministic");
  ctx.fp8FastAccumulation = spec.Has("fp8FastAccumulation") && spec.Bool("fp8FastAccumulation");
  ctx.cache = &plan.cache();
  ctx.device = device.get();
#ifdef FXRT_HAVE_CUBLASLT
  ctx.cublasLt = device->cublasLt();
#endif
#ifdef FXRT_HAVE_CUDNN
  for (const SpecReader& s : opSpecs) {
    const std::string kind = s.Str("op");
    if (kind == "conv" || kind == "deconv") {
      ctx.cudnn = state_->Cudnn(env);
      break;
    }
  }
#endif
  // Scratch for choosing library algorithms (cuDNN tries them on the real buffers). As large when
  // taking cached choices as when timing them: a choice timed with a large workspace must pass its
  // trial launch again; with a smaller scratch it is refused and the heuristic's choice, which
  // fits, may be slower (every program after the tuned one: other contexts, bound programs).
  size_t scratchBytes = kBuildWorkspace;
  try {
    ctx.workspace = device->AllocateWorkspace(env, scratchBytes, ctx.stream, op);
  } catch (const Napi::Error&) {
    scratchBytes = kFallbackBuildWorkspace;
    ctx.workspace = device->AllocateWorkspace(env, scratchBytes, ctx.stream, op);
  }
  ctx.workspaceBytes = scratchBytes;
  std::vector<TacticSource> sources;
  sources.reserve(opSpecs.size());
  try {
    for (const SpecReader& s : opSpecs) {
      int64_t step = s.Int("step");
      ctx.source = TacticSource::Fixed;
      program->AddOp(BuildOp(s, ctx), static_cast<int>(step));
      sources.push_back(ctx.source);
    }
  } catch (...) {
    device->FreeWorkspace(ctx.workspace, scratchBytes, ctx.stream);
    throw;
  }
  device->FreeWorkspace(ctx.workspace, scratchBytes, ctx.stream);
  state_->EnsureWorkspace(env, program->WorkspaceBytes());
  // Timing or trial launches may have failed on purpose: leave no error behind for the runs.
  cudaGetLastError();

  ProgramInit init{program, std::move(sources)};
  return AddonState::Of(env).execProgramClass.New({Napi::External<ProgramInit>::New(env, &init)});
}

// run(program, inputs: (Uint8Array | DeviceBuffer)[], outputs: (DeviceBuffer | null)[], profile, timedRuns?)
// timedRuns n > 0: the run is enqueued n times back to back, an event recorded before each and
// after the last, and the result's runMs has each run's GPU ms (trtexec's GPU compute time).
Napi::Value ExecContext::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "run";
  if (!state_) ThrowError(env, op, "the context was disposed");
  AddonState& addon = AddonState::Of(env);
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(addon.execProgramClass.Value())) {
    ThrowType(env, op, "argument 'program' must be an ExecProgram");
  }
  ExecProgram* handle = ExecProgram::Unwrap(info[0].As<Napi::Object>());
  std::shared_ptr<Program> program = handle->program();
  if (!program) ThrowError(env, op, "the program was disposed");
  if (program->context() != state_) ThrowError(env, op, "the program was prepared on another context");
  if (state_->busy) ThrowError(env, op, "a run is already in flight on this context (await it first)");
  if (!info[1].IsArray()) ThrowType(env, op, "argument 'inputs' must be an array");
  Napi::Array inputs = info[1].As<Napi::Array>();
  if (inputs.Length() != program->inputs().size()) {
    ThrowRange(env, op, "expected " + std::to_string(program->inputs().size()) + " inputs, got " + std::to_string(inputs.Length()));
  }
  Napi::Array outputs = info[2].IsArray() ? info[2].As<Napi::Array>() : Napi::Array::New(env, 0);
  if (outputs.Length() != 0 && outputs.Length() != program->outputs().size()) {
    ThrowRange(env, op, "expected " + std::to_string(program->outputs().size()) + " output buffers, got " + std::to_string(outputs.Length()));
  }
  const bool profile = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  int timedRuns = 0;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    const double n = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : -1.0;
    if (!(n >= 1 && n <= kMaxTimedRuns) || n != static_cast<double>(static_cast<int>(n))) {
      ThrowRange(env, op, "argument 'timedRuns' must be an integer from 1 to " + std::to_string(kMaxTimedRuns));
    }
    if (profile) ThrowRange(env, op, "a profiled run cannot be a timed one (profile and timedRuns)");
    timedRuns = static_cast<int>(n);
  }
  const std::shared_ptr<StreamState>& stream = state_->stream();
  cudaStream_t s = stream->stream();
  char* memory = state_->memory();

  // Check every argument before enqueueing anything.
  std::vector<DeviceBuffer*> inBuffers(inputs.Length(), nullptr), outBuffers(program->outputs().size(), nullptr);
  for (uint32_t i = 0; i < inputs.Length(); i++) {
    const IoSlot& slot = program->inputs()[i];
    Napi::Value v = inputs.Get(i);
    const std::string arg = "inputs[" + std::to_string(i) + "]";
    if (v.IsTypedArray()) {
      if (v.As<Napi::TypedArray>().ByteLength() != slot.bytes) {
        ThrowRange(env, op, arg + " has " + std::to_string(v.As<Napi::TypedArray>().ByteLength()) + " bytes, expected " + std::to_string(slot.bytes));
      }
    } else {
      inBuffers[i] = DeviceBuffer::From(env, v, op, arg.c_str());
      inBuffers[i]->RequireBytes(env, slot.bytes, op, arg.c_str());
    }
  }
  for (uint32_t i = 0; i < outputs.Length(); i++) {
    Napi::Value v = outputs.Get(i);
    if (v.IsNull() || v.IsUndefined()) continue;
    const std::string arg = "outputs[" + std::to_string(i) + "]";
    outBuffers[i] = DeviceBuffer::From(env, v, op, arg.c_str());
    outBuffers[i]->RequireBytes(env, program->outputs()[i].bytes, op, arg.c_str());
  }

  std::vector<IoCopy> inCopies(inputs.Length()), outCopies(program->outputs().size());
  // A bound program addresses its slots in exactly the buffers it was prepared with.
  auto checkBound = [&](const std::vector<DeviceBuffer*>& given, bool inputSide) {
    for (size_t i = 0; i < given.size(); i++) {
      char* bound = inputSide ? program->boundInput(i) : program->boundOutput(i);
      if (bound != nullptr && (given[i] == nullptr || given[i]->data() != bound)) {
        ThrowError(env, op, std::string(inputSide ? "inputs[" : "outputs[") + std::to_string(i) + "]: the program " +
                                (inputSide ? "reads this input in place from" : "writes this output in place into") + " another device buffer");
      }
    }
  };
  checkBound(inBuffers, true);
  checkBound(outBuffers, false);
  for (uint32_t i = 0; i < inputs.Length(); i++) {
    const IoSlot& slot = program->inputs()[i];
    IoCopy& c = inCopies[i];
    c.dst = memory + slot.offset;
    c.bytes = program->boundInput(i) != nullptr ? 0 : slot.bytes;  // a bound slot is read in place
    if (inBuffers[i] != nullptr) {
      inBuffers[i]->UseOn(env, stream, op);
      c.src = inBuffers[i]->data();
      c.kind = cudaMemcpyDeviceToDevice;
    } else {
      Napi::TypedArray t = inputs.Get(i).As<Napi::TypedArray>();
      if (slot.bytes > 0) std::memcpy(program->pinnedInput(i), static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), slot.bytes);
      c.src = program->pinnedInput(i);
      c.kind = cudaMemcpyHostToDevice;
    }
  }
  std::vector<bool> toHost(program->outputs().size(), false);
  for (size_t i = 0; i < program->outputs().size(); i++) {
    const IoSlot& slot = program->outputs()[i];
    IoCopy& c = outCopies[i];
    c.src = memory + slot.offset;
    c.bytes = program->boundOutput(i) != nullptr ? 0 : slot.bytes;  // a bound slot is written in place
    if (outBuffers[i] != nullptr) {
      outBuffers[i]->UseOn(env, stream, op);
      c.dst = outBuffers[i]->data();
      c.kind = cudaMemcpyDeviceToDevice;
    } else {
      toHost[i] = true;
      c.dst = program->pinnedOutput(i);
      c.kind = cudaMemcpyDeviceToHost;
    }
  }
  ExecEnv exec;
  exec.stream = s;
  exec.workspace = state_->workspace();
  exec.workspaceBytes = state_->workspaceBytes();
#ifdef FXRT_HAVE_CUBLASLT
  exec.cublasLt = state_->plan()->device()->cublasLt();
#endif
#ifdef FXRT_HAVE_CUDNN
  exec.cudnn = state_->cudnnIfCreated();
#endif
  std::shared_ptr<RunTimer> timer;
  if (timedRuns > 0) {
    timer = std::make_shared<RunTimer>();
    timer->events.reserve(static_cast<size_t>(timedRuns) + 1);
    for (int i = 0; i <= timedRuns; i++) {
      cudaEvent_t e = nullptr;
      const cudaError_t made = cudaEventCreate(&e);
      if (made != cudaSuccess) ThrowError(env, op, std::string("cudaEventCreate failed: ") + cudaGetErrorString(made));
      timer->events.push_back(e);
    }
  }
  for (int r = 0; r < std::max(timedRuns, 1); r++) {
    if (timer) FXRT_CUDA_CHECK(env, op, cudaEventRecord(timer->events[static_cast<size_t>(r)], s));
    std::string err = program->Enqueue(exec, profile, inCopies, outCopies);
    if (!err.empty()) ThrowError(env, op, err);
  }
  if (timer) FXRT_CUDA_CHECK(env, op, cudaEventRecord(timer->events.back(), s));
  auto guard = std::make_shared<RunGuard>(state_);
  return addon.completions().Enqueue(env, stream, [program, guard, toHost, profile, timer](Napi::Env e) -> Napi::Value {
    const DataErrorReport bad = program->TakeDataError();
    if (bad.found) {
      Napi::Error error = Napi::Error::New(e, std::string("fxrt cuda: run: ") + bad.message);
      error.Set("code", Napi::String::New(e, "FXRT_DATA_ERROR"));
      error.Set("step", Napi::Number::New(e, bad.step));
      throw error;
    }
    Napi::Object result = Napi::Object::New(e);
    Napi::Array outs = Napi::Array::New(e, toHost.size());
    for (size_t i = 0; i < toHost.size(); i++) {
      if (!toHost[i]) {
        outs.Set(static_cast<uint32_t>(i), e.Null());
        continue;
      }
      const size_t bytes = program->outputs()[i].bytes;
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(e, bytes);
      if (bytes > 0) std::memcpy(ab.Data(), program->pinnedOutput(i), bytes);
      outs.Set(static_cast<uint32_t>(i), ab);
    }
    result.Set("outputs", outs);
    if (profile) {
      std::vector<double> ms = program->StepTimes();
      Napi::Float64Array times = Napi::Float64Array::New(e, ms.size());
      for (size_t i = 0; i < ms.size(); i++) times[i] = ms[i];
      result.Set("stepMs", times);
    } else {
      result.Set("stepMs", e.Null());
    }
    if (timer) {
      Napi::Float64Array runMs = Napi::Float64Array::New(e, timer->events.size() - 1);
      for (size_t i = 0; i + 1 < timer->events.size(); i++) {
        float t = 0.f;
        const cudaError_t got = cudaEventElapsedTime(&t, timer->events[i], timer->events[i + 1]);
        if (got != cudaSuccess) throw Napi::Error::New(e, std::string("fxrt cuda: run: cudaEventElapsedTime failed: ") + cudaGetErrorString(got));
        runMs[i] = t;
      }
      result.Set("runMs", runMs);
    } else {
      result.Set("runMs", e.Null());
    }
    return result;
  }, op);
}

// ---- ExecProgram ----

Napi::Function ExecProgram::Define(Napi::Env env) {
  return DefineClass(env, "ExecProgram", {
    InstanceMethod<&ExecProgram::Tactics>("tactics"),
    InstanceMethod<&ExecProgram::Dispose>("dispose"),
    InstanceAccessor<&ExecProgram::GraphState>("graphState"),
    InstanceAccessor<&ExecProgram::ChainedLaunches>("chainedLaunches"),
  });
}

ExecProgram::ExecProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecProgram>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "ExecProgram", "programs are created by prepare()");
  ProgramInit* init = info[0].As<Napi::External<ProgramInit>>().Data();
  program_ = init->program;
  sources_ = init->sources;
}

// [{ step, tactic, source }] per op, in order.
Napi::Value ExecProgram::Tactics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!program_) ThrowError(env, "tactics", "the program was disposed");
  Napi::Array out = Napi::Array::New(env, program_->ops().size());
  for (size_t i = 0; i < program_->ops().size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("step", program_->opSteps()[i]);
    o.Set("tactic", program_->ops()[i]->Tactic());
    o.Set("source", TacticSourceName(i < sources_.size() ? sources_[i] : TacticSource::Fixed));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value ExecProgram::GraphState(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), program_ ? program_->graphState() : std::string("disposed"));
}

Napi::Value ExecProgram::ChainedLaunches(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), program_ ? program_->chainedLaunches() : -1);
}

Napi::Value ExecProgram::Dispose(const Napi::CallbackInfo& info) {
  program_.reset();
  return info.Env().Undefined();
}

}  // namespace fxrt::exec

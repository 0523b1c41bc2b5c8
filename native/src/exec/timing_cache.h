// The native side of the persistent timing cache (TensorRT's ITimingCache). The file format, the
// device check and loading/saving live in TypeScript (src/backends/cuda/timing_cache.ts); here a
// loaded plan's TacticCache exchanges its timed entries with it as { key, tactic, ms, data }
// objects, `data` being the record bytes of tactics.h, and names the device they are valid on.
#pragma once

#include <napi.h>

#include "exec/tactics.h"

namespace fxrt::exec {

// { name, computeCapability: [major, minor], multiprocessors, cublasLtVersion, cudnnVersion,
//   tacticFormat }: what a timed choice depends on besides the op (null: library not built in).
Napi::Value TacticDevice(Napi::Env env, int device);

// Imports [{ key, data: Uint8Array }] as timed entries; malformed records are counted as rejected.
// Returns how many were accepted.
size_t ImportTactics(Napi::Env env, Napi::Value entries, TacticCache& cache);

// The entries timed since the plan was loaded as [{ key, tactic, ms, data: Uint8Array }], sorted by key.
Napi::Value ExportTactics(Napi::Env env, const TacticCache& cache);

// { hits, misses, timed, rejected }.
Napi::Value TacticStatsValue(Napi::Env env, const TacticStats& stats);

}  // namespace fxrt::exec

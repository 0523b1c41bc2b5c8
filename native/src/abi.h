// Version of the interface between the addon and src/backends/cuda/addon.ts. Bump it whenever a
// native function's name, arguments or results change, so a stale build is reported as such.
#pragma once

#define FXRT_NATIVE_ABI 10

// A GPU activity trace for machines without Nsight Systems. CUDA loads this library into a process
// when CUDA_INJECTION64_PATH names it (CUPTI's injection entry point, InitializeInjection); it
// records every kernel, copy and memset through CUPTI's activity API, those of CUDA graph replays
// node by node, and at exit writes them, ordered by start, as CSV to $FXRT_TRACE_CSV (default
// /tmp/fxrt-trace.csv) with the columns scripts/gpu/trace_summary.py reads:
//   Start (ns),Duration (ns),Graph,Name
// Graph is the CUDA graph's id (0 outside graphs). Build and run with scripts/gpu/cupti_trace.sh.
//
// Kernels chained by programmatic dependent launch start before the kernel they depend on ends
// (their blocks wait in griddepcontrol.wait), so a chained kernel's duration includes that wait and
// activities may overlap: read a run's span (first start to last end), not the sum of durations.
#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Record {
  uint64_t start;
  uint64_t end;
  uint32_t graph;
  uint32_t name;
};

std::mutex mu;
std::vector<Record> records;
std::vector<std::string> names;
std::unordered_map<std::string, uint32_t> nameIds;
std::size_t dropped = 0;
constexpr std::size_t kBufferBytes = 8u << 20;
constexpr std::size_t kMaxRecords = 20u << 20;  // about 480 MB at most; later records are counted, not kept

uint32_t Intern(const std::string& s) {
  auto it = nameIds.find(s);
  if (it != nameIds.end()) return it->second;
  names.push_back(s);
  return nameIds[s] = static_cast<uint32_t>(names.size() - 1);
}

std::string Demangled(const char* raw) {
  if (raw == nullptr) return "(unnamed kernel)";
  int status = 0;
  char* d = abi::__cxa_demangle(raw, nullptr, nullptr, &status);
  std::string s = status == 0 && d != nullptr ? d : raw;
  std::free(d);
  // CSV: commas and quotes would split or break the name's field.
  std::replace(s.begin(), s.end(), ',', ';');
  std::replace(s.begin(), s.end(), '"', '\'');
  return s;
}

void Keep(uint64_t start, uint64_t end, uint32_t graph, const std::string& name) {
  if (records.size() >= kMaxRecords) {
    ++dropped;
    return;
  }
  records.push_back({start, end, graph, Intern(name)});
}

const char* CopyKind(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "memcpy HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "memcpy DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "memcpy DtoD";
    default: return "memcpy";
  }
}

void CUPTIAPI BufferRequested(uint8_t** buffer, size_t* size, size_t* maxRecords) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer != nullptr ? kBufferBytes : 0;
  *maxRecords = 0;
}

void CUPTIAPI BufferCompleted(CUcontext context, uint32_t streamId, uint8_t* buffer, size_t, size_t valid) {
  std::lock_guard<std::mutex> lock(mu);
  CUpti_Activity* r = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &r) == CUPTI_SUCCESS) {
    switch (r->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
        Keep(k->start, k->end, k->graphId, Demangled(k->name));
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(r);
        Keep(m->start, m->end, m->graphId, std::string(CopyKind(m->copyKind)) + " " + std::to_string(m->bytes) + " B");
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(r);
        Keep(m->start, m->end, m->graphId, "memset " + std::to_string(m->bytes) + " B");
        break;
      }
      default:
        break;
    }
  }
  std::size_t lost = 0;
  if (cuptiActivityGetNumDroppedRecords(context, streamId, &lost) == CUPTI_SUCCESS) dropped += lost;
  std::free(buffer);
}

void Write() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard<std::mutex> lock(mu);
  const char* path = std::getenv("FXRT_TRACE_CSV");
  if (path == nullptr || *path == '\0') path = "/tmp/fxrt-trace.csv";
  std::FILE* f = std::fopen(path, "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cupti_trace: cannot write %s\n", path);
    return;
  }
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) { return a.start < b.start; });
  std::fprintf(f, "Start (ns),Duration (ns),Graph,Name\n");
  for (const Record& r : records) {
    std::fprintf(f, "%llu,%llu,%u,%s\n", static_cast<unsigned long long>(r.start),
                 static_cast<unsigned long long>(r.end - r.start), r.graph, names[r.name].c_str());
  }
  std::fclose(f);
  std::fprintf(stderr, "cupti_trace: %zu activities to %s%s\n", records.size(), path,
               dropped > 0 ? (" (" + std::to_string(dropped) + " dropped)").c_str() : "");
}

bool Check(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return true;
  const char* msg = nullptr;
  cuptiGetResultString(r, &msg);
  std::fprintf(stderr, "cupti_trace: %s failed: %s\n", what, msg != nullptr ? msg : "unknown error");
  return false;
}

}  // namespace

extern "C" int InitializeInjection() {
  if (!Check(cuptiActivityRegisterCallbacks(BufferRequested, BufferCompleted), "cuptiActivityRegisterCallbacks")) return 0;
  // CONCURRENT_KERNEL, not KERNEL: the latter serializes kernels, which would change what is measured.
  if (!Check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enable kernels")) return 0;
  Check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "enable copies");
  Check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET), "enable memsets");
  // Deliver buffers every 100 ms, so that exit finds most records already kept.
  Check(cuptiActivityFlushPeriod(100), "cuptiActivityFlushPeriod");
  std::atexit(Write);
  return 1;
}

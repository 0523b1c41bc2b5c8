// Implementation choices of library ops (cuDNN algorithms, cuBLASLt algos), remembered per loaded
// plan and keyed by an op's full signature (shapes, dtypes, strides, alignments, epilogue), so
// that every context and every shape seen again reuses what was timed or looked up once. Timed
// choices travel to and from the persistent timing cache (src/backends/cuda/timing_cache.ts,
// bridged by timing_cache.h), which adds the device to the key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fxrt::exec {

// Version of the signature keys and of the record bytes below. It is part of the timing cache's
// device key: a cache written with other keys or records is ignored, never misread.
constexpr int kTacticFormatVersion = 1;

enum class TacticKind : uint8_t { ConvForward = 1, ConvBackwardData = 2, Matmul = 3, Igemm = 4, Attention = 5 };

// Where an op's implementation came from.
enum class TacticSource : uint8_t {
  Fixed,      // the backend's own kernel: nothing to choose
  Heuristic,  // the library's heuristic (not timed)
  Cache,      // a timed choice reused (this plan's, or the persistent timing cache's)
  Timed,      // candidates timed on the device now
};

inline const char* TacticSourceName(TacticSource s) {
  switch (s) {
    case TacticSource::Heuristic: return "heuristic";
    case TacticSource::Cache: return "cache";
    case TacticSource::Timed: return "timed";
    default: return "fixed";
  }
}

// The largest power of two (at most 256) dividing a pointer: library kernels may depend on it,
// so it is part of a tactic key.
inline uint32_t PointerAlignment(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a != 0) a >>= 1;
  return a;
}

// One library choice.
struct Tactic {
  TacticKind kind = TacticKind::ConvForward;
  int32_t algo = 0;          // cuDNN: the algorithm's enum value; igemm: the tile configuration; attention: the kernel configuration
  bool fused = false;        // cuDNN forward: inside cudnnConvolutionBiasActivationForward
  uint64_t words[8] = {};    // cuBLASLt: the opaque cublasLtMatmulAlgo_t
  float ms = -1.f;           // device time measured when it was chosen (negative: not timed)
  std::string name;          // readable, for layer info and the cache file
};

// The bytes the timing cache stores for a tactic (fixed size, little-endian):
//   u8 format (kTacticFormatVersion), u8 kind, i32 algo, u8 fused, 8 x u64 words, f32 ms.
constexpr size_t kTacticRecordBytes = 1 + 1 + 4 + 1 + 8 * 8 + 4;
std::vector<uint8_t> EncodeTactic(const Tactic& t);
// False (and `out` untouched) when the bytes are not a record of this format.
bool DecodeTactic(const uint8_t* data, size_t size, Tactic& out);

// Counts since the plan was loaded.
struct TacticStats {
  int64_t hits = 0;      // choices reused from a timed entry
  int64_t misses = 0;    // choices made without one (timed now, or by the heuristic)
  int64_t timed = 0;     // choices timed on the device now
  int64_t rejected = 0;  // cached entries refused (malformed, or the library no longer accepts them)
};

class TacticCache {
 public:
  // The entry an op may reuse: a timed one; when not tuning also a heuristic one. Null if none.
  const Tactic* Lookup(const std::string& key, bool tune) const {
    auto it = entries_.find(key);
    if (it == entries_.end() || (tune && !it->second.timed)) return nullptr;
    return &it->second.tactic;
  }
  // Records that an op reused the entry of `key` (found by Lookup); returns where it came from.
  TacticSource Reuse(const std::string& key) {
    auto it = entries_.find(key);
    const bool timed = it != entries_.end() && it->second.timed;
    (timed ? stats_.hits : stats_.misses)++;
    return timed ? TacticSource::Cache : TacticSource::Heuristic;
  }
  // Drops an entry that its op refused on validation.
  void Reject(const std::string& key) {
    if (entries_.erase(key) > 0) stats_.rejected++;
  }
  // Records a new choice; returns where it came from.
  TacticSource Record(const std::string& key, Tactic t, bool timed) {
    stats_.misses++;
    if (timed) stats_.timed++;
    entries_[key] = Entry{std::move(t), timed, timed};
    return timed ? TacticSource::Timed : TacticSource::Heuristic;
  }
  // A timed entry from the persistent cache (replaces what the plan holds for `key`).
  void Import(const std::string& key, Tactic t) { entries_[key] = Entry{std::move(t), true, false}; }
  void CountRejected() { stats_.rejected++; }

  // Every entry timed since the plan was loaded (not imported), for the persistent cache.
  template <typename F>
  void ForEachNew(F&& f) const {
    for (const auto& [key, e] : entries_) {
      if (e.fresh) f(key, e.tactic);
    }
  }
  const TacticStats& stats() const { return stats_; }

 private:
  struct Entry {
    Tactic tactic;
    bool timed = false;
    bool fresh = false;  // timed since the plan was loaded (not imported)
  };
  std::map<std::string, Entry> entries_;
  TacticStats stats_;
};

}  // namespace fxrt::exec

"""Summary of the last runs of an Nsight Systems GPU trace (scripts/gpu_trace.ts): per kernel (or
copy/memset) name, how many and the median duration; and the median idle time between one GPU
activity's end and the next one's start, over the trace's last activities (--runs runs of
--per-run activities each; per-run defaults to the number of distinct names among the last 50).

    python3 scripts/gpu/trace_summary.py TRACE_cuda_gpu_trace.csv [--runs 100] [--per-run N]
"""
import argparse
import csv
import statistics
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--per-run", type=int, default=0)
    a = ap.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{a.csv}: no GPU activities")
    start_key = next(k for k in rows[0] if k.startswith("Start"))
    dur_key = next(k for k in rows[0] if k.startswith("Duration"))
    acts = sorted(((int(r[start_key]), int(r[dur_key]), r["Name"]) for r in rows), key=lambda t: t[0])
    per_run = a.per_run or len({n for _, _, n in acts[-50:]})
    tail = acts[-a.runs * per_run:]
    by_name: dict[str, list[int]] = {}
    for _, d, n in tail:
        by_name.setdefault(n, []).append(d)
    print(f"last {len(tail)} activities ({a.runs} runs x {per_run}):")
    total = 0.0
    for n, ds in by_name.items():
        med = statistics.median(ds) / 1000
        total += med * len(ds) / a.runs
        print(f"  {len(ds):5d} x {med:8.2f} us  {n[:150]}")
    gaps = [tail[i + 1][0] - (tail[i][0] + tail[i][1]) for i in range(len(tail) - 1)]
    span = (tail[-1][0] + tail[-1][1] - tail[0][0]) / 1000 / a.runs
    print(f"per run: busy {total:.2f} us (sum of medians), span {span:.2f} us; median gap between activities {statistics.median(gaps) / 1000:.2f} us")


if __name__ == "__main__":
    main()

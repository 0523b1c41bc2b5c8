"""Summary of the last runs of a GPU activity trace of scripts/gpu_trace.ts: either CUPTI's
(scripts/gpu/cupti_trace.sh) or Nsight Systems' (`nsys stats --report cuda_gpu_trace --format csv`).

Over the trace's last --runs runs of --per-run activities each (per-run defaults to the number of
distinct names among the last 50 activities):
- per activity of a run (by its position in the run): its name and median duration;
- per run: the median span (first start to last end) and period (start to the next run's start:
  what the GPU time per run measures), the median gap between runs (one run's last end to the next
  one's first start), and per step of a run the median time from one activity's end to the next
  one's start (negative where a chained kernel started before the one it depends on had ended).

    python3 scripts/gpu/trace_summary.py TRACE.csv [--runs 100] [--per-run N]
"""
import argparse
import csv
import statistics
import sys


def us(ns: float) -> str:
    return f"{ns / 1000:8.2f} us"


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
    if len(acts) < a.runs * per_run:
        sys.exit(f"{a.csv}: {len(acts)} activities, fewer than --runs {a.runs} x --per-run {per_run}")
    tail = acts[-a.runs * per_run:]
    runs = [tail[i * per_run:(i + 1) * per_run] for i in range(a.runs)]
    layouts = {tuple(n for _, _, n in r) for r in runs}
    if len(layouts) > 1:
        print(f"warning: the last {a.runs} runs do not all have the same {per_run} activities in the same order "
              f"({len(layouts)} layouts): pass --per-run")
    print(f"last {len(tail)} activities ({a.runs} runs x {per_run}), medians:")
    for j in range(per_run):
        print(f"  {j}: {us(statistics.median(r[j][1] for r in runs))}  {runs[-1][j][2][:150]}")
        if j + 1 < per_run:
            step = [r[j + 1][0] - (r[j][0] + r[j][1]) for r in runs]
            print(f"     end -> next start {us(statistics.median(step))}")
    spans = [max(s + d for s, d, _ in r) - r[0][0] for r in runs]
    periods = [runs[i + 1][0][0] - runs[i][0][0] for i in range(len(runs) - 1)]
    gaps = [runs[i + 1][0][0] - max(s + d for s, d, _ in runs[i]) for i in range(len(runs) - 1)]
    print(f"per run: span {us(statistics.median(spans))}, period {us(statistics.median(periods))}, "
          f"gap between runs {us(statistics.median(gaps))}")


if __name__ == "__main__":
    main()

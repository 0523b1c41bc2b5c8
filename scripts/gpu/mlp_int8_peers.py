"""What PyTorch's own int8 paths reach on the seed-000 MLP's two GEMMs (a study tool, GPU machine).

The MLP's int8 engine runs three kernels: the quantize of the float16 input x [10240, 512], fc1
(x W1^T, int32 accumulation, rescale, bias, relu, requantize to int8: [10240, 2048]) and fc2
(h W2^T, rescale, bias, float16 out: [10240, 512]). This script times the same three steps as
PyTorch runs them, to say how far from a practical ceiling our kernels are:

- eager: torch._int_mm (cuBLASLt, int32 out) and the epilogue as separate kernels;
- torch.compile (max-autotune, no CUDA graphs): Inductor's Triton templates for the int8 GEMM,
  with the epilogue fused into them where Inductor can;
- fp16 F.linear (cuBLAS) for scale, as our fp16 engine runs the MLP.

Each variant is timed as GPU time: 20 calls captured in one CUDA graph, replayed, timed with
events, median of rounds (no launch gaps or Python in the numbers). The epilogue arithmetic is
PyTorch's (its rounding is not our fused requantize's), so only the times compare.

  python3 scripts/gpu/mlp_int8_peers.py [--out results.json] [--no-compile]
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

M, K, N = 10240, 512, 2048


def gpu_us(fn, rounds=7, calls=20, replays=20):
    """Median over rounds of the GPU time per call (µs): `calls` calls in a CUDA graph, replayed."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(rounds):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(replays):
            graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0 / (replays * calls))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    dev = "cuda"
    x16 = torch.randn(M, K, device=dev, dtype=torch.float16)
    w1 = torch.randint(-127, 128, (N, K), device=dev, dtype=torch.int8)
    w2 = torch.randint(-127, 128, (K, N), device=dev, dtype=torch.int8)
    x8 = torch.randint(-127, 128, (M, K), device=dev, dtype=torch.int8)
    h8 = torch.randint(0, 128, (M, N), device=dev, dtype=torch.int8)
    inv_sx = torch.tensor(1.0 / 0.03, device=dev)
    a1 = torch.rand(N, device=dev) * 1e-4  # sx * sw[c] / so
    b1 = torch.randn(N, device=dev)  # bias / so
    a2 = torch.rand(K, device=dev) * 1e-4  # sh * sw[c]
    b2 = torch.randn(K, device=dev)
    w1t, w2t = w1.t(), w2.t()  # [K, N] views: cuBLASLt's TN int8 layout
    w1h = torch.randn(N, K, device=dev, dtype=torch.float16) * 0.02
    w2h = torch.randn(K, N, device=dev, dtype=torch.float16) * 0.02
    b1h = torch.randn(N, device=dev, dtype=torch.float16)
    b2h = torch.randn(K, device=dev, dtype=torch.float16)

    def quantize(x):
        return torch.clamp(torch.round(x.float() * inv_sx), -128, 127).to(torch.int8)

    def fc1(x):
        acc = torch._int_mm(x, w1t)
        return torch.clamp(torch.round(torch.relu(acc.float() * a1 + b1)), 0, 127).to(torch.int8)

    def fc2(h):
        acc = torch._int_mm(h, w2t)
        return (acc.float() * a2 + b2).half()

    def mlp_int8(x):
        return fc2(fc1(quantize(x)))

    def gemm1(x):
        return torch._int_mm(x, w1t)

    def gemm2(h):
        return torch._int_mm(h, w2t)

    def fp16_fc1(x):
        return F.relu(F.linear(x, w1h, b1h))

    def fp16_fc2(h):
        return F.linear(h, w2h, b2h)

    def fp16_mlp(x):
        return fp16_fc2(fp16_fc1(x))

    hh = torch.randn(M, N, device=dev, dtype=torch.float16)
    rows = []

    def row(name, fn, arg):
        try:
            us = gpu_us(lambda: fn(arg))
            rows.append({"variant": name, "us": round(us, 2)})
            print(f"{name:58s} {us:8.2f} us", flush=True)
        except Exception as e:  # a variant PyTorch cannot run here: say so, go on
            rows.append({"variant": name, "error": str(e).splitlines()[0][:200]})
            print(f"{name:58s} failed: {str(e).splitlines()[0][:200]}", flush=True)

    row("eager quantize (x fp16 -> int8)", quantize, x16)
    row("eager _int_mm fc1 (int32 out)", gemm1, x8)
    row("eager _int_mm fc2 (int32 out)", gemm2, h8)
    row("eager fc1 (_int_mm + epilogue kernels, int8 out)", fc1, x8)
    row("eager fc2 (_int_mm + epilogue kernels, fp16 out)", fc2, h8)
    row("eager int8 MLP", mlp_int8, x16)
    row("fp16 fc1 (F.linear + relu)", fp16_fc1, x16)
    row("fp16 fc2 (F.linear)", fp16_fc2, hh)
    row("fp16 MLP", fp16_mlp, x16)
    if not args.no_compile:
        import torch._inductor.config as ic

        for key, value in [("max_autotune_gemm_backends", "TRITON,ATEN"), ("force_fuse_int_mm_with_mul", True), ("epilogue_fusion", True)]:
            try:
                setattr(ic, key, value)
            except Exception as e:  # an option this PyTorch does not have
                print(f"  (inductor option {key}: {e})", flush=True)
        for name, fn, arg in [
            ("compiled quantize", quantize, x16),
            ("compiled fc1 (int8 out)", fc1, x8),
            ("compiled fc2 (fp16 out)", fc2, h8),
            ("compiled int8 MLP", mlp_int8, x16),
            ("compiled fp16 MLP", fp16_mlp, x16),
        ]:
            t0 = time.perf_counter()
            try:
                cfn = torch.compile(fn, mode="max-autotune-no-cudagraphs", dynamic=False)
                cfn(arg)
                torch.cuda.synchronize()
            except Exception as e:
                rows.append({"variant": name, "error": str(e).splitlines()[0][:200]})
                print(f"{name:58s} failed to compile: {str(e).splitlines()[0][:200]}", flush=True)
                continue
            print(f"  ({name}: compiled in {time.perf_counter() - t0:.1f} s)", flush=True)
            row(name, cfn, arg)
    result = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "problem": {"m": M, "k": K, "n": N},
        "rows": rows,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch peers of fxrt's bundled models, on the same GPU.

Two commands:

  reference --model NAME --weights W.bin --input X.bin --output Y.bin
      Builds the PyTorch model (torchvision's ResNets, an MLP and a BERT layer with fxrt's
      parameter names), loads the weights fxrt exported, runs the input in float32 (TF32 off) and
      writes the output: the GPU tests compare fxrt's CUDA results with it.

  profile --model NAME --shape 32,128,768 [--iters N] [--rows N]
      The kernels PyTorch runs for one eager fp16 forward and their GPU time per forward (torch
      profiler), slowest first: to set beside scripts/profile_workload.ts's steps of ours.

  bench --workloads WORKLOADS.json --out PEERS.json [--compile]
      Times each workload {"name", "model", "shape"} in float16: eager, eager replayed as a CUDA
      graph, and torch.compile when --compile is given. Median wall-clock ms per call around a
      synchronized forward, after warm-up (scripts/bench_gpu.ts times fxrt the same way).

Tensor files: u32 header length, a JSON header {"tensors": [{"name", "dtype", "shape", "offset"}]}
then the raw little-endian data (written by test/gpu/tensor_file.ts).
"""
import argparse
import json
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DTYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64}


def read_tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack_from("<I", data, 0)
    header = json.loads(data[4:4 + length].decode("utf-8"))
    base = 4 + length
    out = {}
    for t in header["tensors"]:
        dtype = np.dtype(DTYPES[t["dtype"]])
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=base + t["offset"]).reshape(t["shape"])
        out[t["name"]] = arr
    return out


def write_tensors(path, tensors):
    entries, blobs, offset = [], [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr.astype(np.float32))
        entries.append({"name": name, "dtype": "float32", "shape": list(arr.shape), "offset": offset})
        blobs.append(arr.tobytes())
        offset += arr.nbytes
    header = json.dumps({"tensors": entries}).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(header)))
        f.write(header)
        for b in blobs:
            f.write(b)


class MLP(nn.Module):
    """fxrt's MLP (src/models/mlp.ts): lin1 -> ReLU -> lin2."""

    def __init__(self, d_model=512, d_ff=2048):
        super().__init__()
        self.lin1 = nn.Linear(d_model, d_ff)
        self.activation = nn.ReLU()
        self.lin2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.lin2(self.activation(self.lin1(x)))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden=768, heads=12):
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.heads = heads

    def _split(self, x):
        b, s, h = x.shape
        return x.view(b, s, self.heads, h // self.heads).transpose(1, 2)

    def forward(self, x):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return y.transpose(1, 2).flatten(2)


class BertResidualOutput(nn.Module):
    def __init__(self, d_in, hidden=768, eps=1e-12):
        super().__init__()
        self.dense = nn.Linear(d_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self = BertSelfAttention()
        self.output = BertResidualOutput(768)

    def forward(self, x):
        return self.output(self.self(x), x)


class BertIntermediate(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(768, 3072)

    def forward(self, x):
        return torch.nn.functional.gelu(self.dense(x))


class BertLayer(nn.Module):
    """HuggingFace's BertLayer with fxrt's parameter names (src/models/bert.ts), no mask."""

    def __init__(self):
        super().__init__()
        self.attention = BertAttention()
        self.intermediate = BertIntermediate()
        self.output = BertResidualOutput(3072)

    def forward(self, x):
        a = self.attention(x)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    """The 12-layer BERT-base encoder on hidden states (src/models/bert.ts bertEncoder), no mask."""

    def __init__(self, layers=12):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer() for _ in range(layers)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class CenterNetHead(nn.Module):
    """CenterNet's upsampling head with fxrt's parameter names (src/models/centernet.ts): three
    ConvTranspose2d (4x4, stride 2) + BatchNorm2d + ReLU stages, then hm/wh/reg branches."""

    def __init__(self, in_channels=512, deconv_channels=(256, 256, 256), head_conv=64, num_classes=80):
        super().__init__()
        stages, c = [], in_channels
        for planes in deconv_channels:
            stages += [nn.ConvTranspose2d(c, planes, 4, stride=2, padding=1, output_padding=0, bias=False), nn.BatchNorm2d(planes), nn.ReLU()]
            c = planes

        def branch(out):
            return nn.Sequential(nn.Conv2d(c, head_conv, 3, padding=1), nn.ReLU(), nn.Conv2d(head_conv, out, 1))

        self.deconv_layers = nn.Sequential(*stages)
        self.hm = branch(num_classes)
        self.wh = branch(2)
        self.reg = branch(2)

    def forward(self, x):
        f = self.deconv_layers(x)
        return self.hm(f), self.wh(f), self.reg(f)


def build_model(name):
    import torchvision

    if name == "mlp":
        return MLP()
    if name == "resnet18":
        return torchvision.models.resnet18(weights=None)
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None)
    if name == "resnet18Cifar":
        m = torchvision.models.resnet18(weights=None, num_classes=10)
        m.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
        return m
    if name == "bertEncoderLayer":
        return BertLayer()
    if name == "bertEncoder":
        return BertEncoder()
    if name == "centerNetHead":
        return CenterNetHead()
    raise SystemExit(f"unknown model '{name}'")


def cmd_reference(args):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = build_model(args.model).eval()
    weights = {k: torch.from_numpy(v.copy()) for k, v in read_tensors(args.weights).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match the PyTorch {args.model}: missing {missing}, unexpected {unexpected}")
    x = torch.from_numpy(read_tensors(args.input)["input"].copy())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.no_grad():
        y = model.to(device)(x.to(device)).float().cpu().numpy()
    write_tensors(args.output, {"output": y})


WARMUP_S = 0.3  # warm-up before every timed loop, at least: the GPU's clocks ramp up under load (as scripts/bench_gpu.ts)


def median_ms(fn, iters, warmup):
    start = time.perf_counter()
    done = 0
    while done < warmup or time.perf_counter() - start < WARMUP_S:
        fn()
        torch.cuda.synchronize()
        done += 1
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_modes(model, x, iters):
    """Eager and CUDA-graph median ms of `model` on `x`."""
    result = {}
    result["eager_ms"] = median_ms(lambda: model(x), iters, 10)
    static_x = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model(static_x)
    result["graph_ms"] = median_ms(graph.replay, iters, 10)
    return result


def bench_one(spec, iters, use_compile):
    model = build_model(spec["model"]).eval().half().cuda()
    x = torch.randn(*spec["shape"], device="cuda", dtype=torch.float16)
    result = {}
    with torch.inference_mode():
        # The peer gets its best layout: for 4-D (image) inputs both NCHW and channels_last are timed
        # and the faster is reported per mode, with the layout recorded.
        layouts = {"nchw": (model, x)}
        if x.dim() == 4:
            cl_model = build_model(spec["model"]).eval().half().cuda().to(memory_format=torch.channels_last)
            cl_model.load_state_dict(model.state_dict())
            layouts["channels_last"] = (cl_model, x.contiguous(memory_format=torch.channels_last))
        for layout, (m, inp) in layouts.items():
            for mode, ms in time_modes(m, inp, iters).items():
                if mode not in result or ms < result[mode]:
                    result[mode] = ms
                    result[mode.replace("_ms", "_layout")] = layout
        if use_compile:
            t0 = time.perf_counter()
            compiled = torch.compile(model)
            compiled(x)
            torch.cuda.synchronize()
            result["compile_build_s"] = time.perf_counter() - t0
            result["compile_ms"] = median_ms(lambda: compiled(x), iters, 10)
    del model
    torch.cuda.empty_cache()
    return result


def cmd_bench(args):
    torch.backends.cudnn.benchmark = True
    with open(args.workloads) as f:
        workloads = json.load(f)
    out = {
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "device": torch.cuda.get_device_name(0),
        "results": {},
    }
    for spec in workloads:
        t0 = time.perf_counter()
        out["results"][spec["name"]] = bench_one(spec, args.iters, args.compile)
        print(f"peers: {spec['name']}: {json.dumps(out['results'][spec['name']])} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


def cmd_profile(args):
    from torch.profiler import ProfilerActivity, profile

    torch.backends.cudnn.benchmark = True
    model = build_model(args.model).eval().half().cuda()
    x = torch.randn(*[int(d) for d in args.shape.split(",")], device="cuda", dtype=torch.float16)
    with torch.inference_mode():
        for _ in range(10):
            model(x)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(args.iters):
                model(x)
            torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "device_time_total", None)
        if us is None:
            us = e.cuda_time_total
        if us > 0 and e.count > 0:
            rows.append((us / args.iters, e.count / args.iters, e.key))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print(f"{args.model} [{args.shape}] torch {torch.__version__} eager fp16: kernels {total / 1e3:.4f} ms per forward")
    for us, calls, key in rows[: args.rows]:
        print(f"{us / 1e3:8.4f} ms  x{calls:g}  {key[:150]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference")
    r.add_argument("--model", required=True)
    r.add_argument("--weights", required=True)
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--workloads", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--iters", type=int, default=50)
    b.add_argument("--compile", action="store_true")
    f = sub.add_parser("profile")
    f.add_argument("--model", required=True)
    f.add_argument("--shape", required=True)
    f.add_argument("--iters", type=int, default=20)
    f.add_argument("--rows", type=int, default=25)
    args = p.parse_args()
    {"reference": cmd_reference, "bench": cmd_bench, "profile": cmd_profile}[args.cmd](args)


if __name__ == "__main__":
    main()

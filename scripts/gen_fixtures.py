#!/usr/bin/env python3
"""Golden fixtures for every acc op (docs/ACC_OPS.md), computed with PyTorch.

    python3 scripts/gen_fixtures.py --out test/fixtures/acc_ops

Writes one JSON file per acc op; test/acc_golden.test.ts runs our reference kernels on the
same inputs and compares. Arguments use the acc op's keyword names (PyTorch's names).

Everything runs on the CPU with fixed seeds. Float ops are evaluated in float64 and the
result cast to the dtype PyTorch itself returns (the golden is then the correctly rounded
answer); ops whose result is a discrete function of the input (rounding, comparisons,
integer arithmetic, selection) are evaluated natively so they match PyTorch bit for bit.
Works with torch >= 1.13: APIs that differ between versions are guarded.

File format:
  { "op", "torch_version", "cases": [{ "name", "kwargs", "expected", "rtol", "atol" }], "tensors": [...] }
  A value is JSON, {"tensor": i} (an entry of "tensors") or {"float": "nan" | "inf" | "-inf"}.
  A tensor is { "dtype", "shape", "data": base64 of little-endian bytes, "qparams"? }:
  float16/bfloat16 as 16-bit patterns, int64 as 8-byte integers, bool as bytes; quantized
  tensors hold their integer representation and qparams { "scale", "zero_point", "axis" }.
  A case passes when max|ours - golden| <= rtol * max|golden| + atol over finite values,
  with NaN and infinities in the same places; integer and bool results compare exactly.
"""
import argparse
import base64
import json
import math
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F

DTYPES = {
    'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16, 'int8': torch.int8,
    'uint8': torch.uint8, 'int32': torch.int32, 'int64': torch.int64, 'bool': torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
QDTYPES = {'int8': torch.qint8, 'uint8': torch.quint8, 'int32': torch.qint32}
QDTYPE_NAMES = {v: k for k, v in QDTYPES.items()}
FLOATS = (torch.float32, torch.float16, torch.bfloat16)
DEFAULT_RTOL = {'float32': 1e-5, 'float16': 1e-3, 'bfloat16': 1e-2}
# struct format and the integer view that holds each dtype's raw bits.
PACK = {
    torch.float32: ('i', torch.int32), torch.float16: ('h', torch.int16), torch.bfloat16: ('h', torch.int16),
    torch.int8: ('b', None), torch.uint8: ('B', None), torch.int32: ('i', None), torch.int64: ('q', None),
    torch.bool: ('B', torch.uint8),
}

G = torch.Generator()
SKIPPED = []


# ---------------------------------------------------------------- encoding

def encode_tensor(t):
    """A tensor as its fixture JSON record (quantized tensors: integer representation + qparams)."""
    qparams = None
    shape = list(t.shape)
    if t.is_quantized:
        if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            qparams = {'scale': [float(t.q_scale())], 'zero_point': [int(t.q_zero_point())], 'axis': None}
        else:
            qparams = {
                'scale': [float(s) for s in t.q_per_channel_scales().tolist()],
                'zero_point': [int(z) for z in t.q_per_channel_zero_points().tolist()],
                'axis': int(t.q_per_channel_axis()),
            }
        name = QDTYPE_NAMES[t.dtype]
        t = t.int_repr()
    else:
        name = DTYPE_NAMES[t.dtype]
    t = t.detach().contiguous().reshape(-1)
    fmt, view = PACK[t.dtype]
    if view is torch.uint8:
        t = t.to(torch.uint8)
    elif view is not None:
        t = t.view(view)
    values = t.tolist()
    data = struct.pack('<%d%s' % (len(values), fmt), *values)
    rec = {'dtype': name, 'shape': shape, 'data': base64.b64encode(data).decode('ascii')}
    if qparams is not None:
        rec['qparams'] = qparams
    return rec


class Fixture:
    """The cases and tensors of one acc op's fixture file."""

    def __init__(self, op):
        self.op = op
        self.cases = []
        self.tensors = []

    def value(self, v):
        """A kwarg or expected value as JSON, registering tensors."""
        if isinstance(v, torch.Tensor):
            self.tensors.append(encode_tensor(v))
            return {'tensor': len(self.tensors) - 1}
        if isinstance(v, (list, tuple, torch.Size)):
            return [self.value(x) for x in v]
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if math.isnan(v):
                return {'float': 'nan'}
            if math.isinf(v):
                return {'float': 'inf' if v > 0 else '-inf'}
            return v
        raise TypeError('%s: cannot encode %r' % (self.op, v))

    def add(self, name, kwargs, expected, rtol, atol):
        if any(c['name'] == name for c in self.cases):
            raise ValueError('%s: duplicate case name %s' % (self.op, name))
        self.cases.append({
            'name': name,
            'kwargs': {k: self.value(v) for k, v in kwargs.items()},
            'expected': self.value(expected),
            'rtol': rtol,
            'atol': atol,
        })

    def dumps(self):
        lines = ['{', ' "op": %s,' % json.dumps(self.op), ' "torch_version": %s,' % json.dumps(torch.__version__),
                 ' "cases": [']
        lines.append(',\n'.join('  ' + json.dumps(c, allow_nan=False) for c in self.cases))
        lines.append(' ],')
        lines.append(' "tensors": [')
        lines.append(',\n'.join('  ' + json.dumps(t, allow_nan=False) for t in self.tensors))
        lines.append(' ]')
        lines.append('}')
        return '\n'.join(lines) + '\n'


FIXTURES = {}


# ---------------------------------------------------------------- golden evaluation

def tensors_in(v):
    if isinstance(v, torch.Tensor):
        yield v
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from tensors_in(x)


def map_tensors(v, f):
    if isinstance(v, torch.Tensor):
        return f(v)
    if isinstance(v, (list, tuple)):
        return type(v)(map_tensors(x, f) for x in v)
    return v


def clone_kwargs(kw):
    return {k: map_tensors(v, lambda t: t.clone()) for k, v in kw.items()}


def upcast_kwargs(kw, dtype=torch.float64):
    up = lambda t: t.to(dtype) if (not t.is_quantized and t.dtype in FLOATS) else t.clone()
    return {k: map_tensors(v, up) for k, v in kw.items()}


def float_dtype_of(kw):
    """The floating dtype PyTorch's promotion gives the float inputs (float32 when there are none)."""
    found = None
    for v in kw.values():
        for t in tensors_in(v):
            if not t.is_quantized and t.dtype in FLOATS:
                found = t.dtype if found is None else torch.promote_types(found, t.dtype)
    return found or torch.float32


def evaluate(fn, kw, exact):
    """PyTorch's result for `fn(**kw)`: natively when exact, else in float64 cast to the native dtype."""
    if exact:
        try:
            return fn(**clone_kwargs(kw))
        except (RuntimeError, NotImplementedError):
            # No float16/bfloat16 kernel in this torch: the op is exact in float32 for these values.
            lo = fn(**upcast_kwargs(kw, torch.float32))
            target = float_dtype_of(kw)
            return map_tensors(lo, lambda t: t.to(target) if t.dtype == torch.float32 else t)
    dtypes = None
    try:
        native = fn(**clone_kwargs(kw))
        dtypes = [t.dtype for t in tensors_in(native)]
    except (RuntimeError, NotImplementedError):
        pass  # e.g. no float16 kernel on the CPU in this torch: the dtype follows promotion
    hi = fn(**upcast_kwargs(kw))
    outs = list(tensors_in(hi))
    if dtypes is None:
        fallback = float_dtype_of(kw)
        dtypes = [fallback if t.dtype == torch.float64 else t.dtype for t in outs]
    it = iter(dtypes)
    return map_tensors(hi, lambda t: t.to(next(it)))


def case(op, name, kw, fn=None, exact=False):
    """Adds a case: computes the golden with PyTorch and records inputs, kwargs and tolerance
    (exact cases compare bit for bit; others get the default rtol of their float outputs)."""
    fn = fn or GOLDEN[op]
    expected = evaluate(fn, kw, exact)
    rtol = 0.0
    if not exact:
        for t in tensors_in(expected):
            rtol = max(rtol, DEFAULT_RTOL.get(DTYPE_NAMES.get(t.dtype), 0.0))
    FIXTURES.setdefault(op, Fixture(op)).add(name, kw, expected, rtol, 0.0)


def try_case(op, name, kw, **opts):
    """A case whose PyTorch behaviour depends on the version: skipped (and reported) where unsupported."""
    try:
        case(op, name, kw, **opts)
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as e:
        SKIPPED.append('%s/%s: %s' % (op, name, str(e).splitlines()[0]))


# ---------------------------------------------------------------- inputs

def seed(op):
    G.manual_seed(zlib.crc32(op.encode()))


def randn(*shape, dtype=torch.float32, scale=1.0):
    return (torch.randn(shape, generator=G, dtype=torch.float64) * scale).to(dtype)


def rand(*shape, lo=0.0, hi=1.0, dtype=torch.float32):
    return (lo + (hi - lo) * torch.rand(shape, generator=G, dtype=torch.float64)).to(dtype)


def randint(lo, hi, *shape, dtype=torch.int64):
    return torch.randint(lo, hi, shape, generator=G, dtype=torch.int64).to(dtype)


def tensor(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


NAN, INF = float('nan'), float('inf')


# ---------------------------------------------------------------- golden functions (acc kwargs -> torch)

def _dt(name):
    return None if name is None else DTYPES[name]


def _as_tensor(v):
    """A Python scalar as a 0-dim tensor (wrapped-number promotion) for ops that want tensors."""
    return v if isinstance(v, torch.Tensor) else torch.tensor(v)


def _where(condition, input, other):
    try:
        return torch.where(condition, input, other)
    except (TypeError, RuntimeError):
        a = input if isinstance(input, torch.Tensor) else torch.tensor(input, dtype=_scalar_dtype(input, other))
        b = other if isinstance(other, torch.Tensor) else torch.tensor(other, dtype=_scalar_dtype(other, input))
        return torch.where(condition, a, b)


def _scalar_dtype(v, peer):
    if isinstance(peer, torch.Tensor):
        return peer.dtype if (peer.dtype.is_floating_point or not isinstance(v, float)) else torch.float32
    if isinstance(v, bool):
        return torch.bool
    return torch.float32 if isinstance(v, float) or isinstance(peer, float) else torch.int64


def _all_dims(input, dim):
    if dim is None:
        return list(range(input.dim()))
    return dim if isinstance(dim, list) else [dim]


def _sum(input, dim=None, keepdim=False, dtype=None):
    dims = _all_dims(input, dim)
    if not dims:  # a 0-dim input
        return torch.sum(input, dtype=_dt(dtype))
    return torch.sum(input, dim=dims, keepdim=keepdim, dtype=_dt(dtype))


def _mean(input, dim=None, keepdim=False, dtype=None):
    dims = _all_dims(input, dim)
    if not dims:
        return torch.mean(input, dtype=_dt(dtype))
    return torch.mean(input, dim=dims, keepdim=keepdim, dtype=_dt(dtype))


def _prod(input, dim=None, keepdim=False, dtype=None):
    """torch.prod reduces one dim at a time; a list of dims is reduced innermost first."""
    if dim is None:
        r = torch.prod(input, dtype=_dt(dtype))
        return r.reshape([1] * input.dim()) if keepdim else r
    dims = sorted([d % input.dim() for d in _all_dims(input, dim)], reverse=True)
    r = input
    for i, d in enumerate(dims):
        r = torch.prod(r, dim=d, keepdim=keepdim, dtype=_dt(dtype) if i == 0 else None)
    return r


def _amax(input, dim=None, keepdim=False):
    return torch.amax(input, dim=_all_dims(input, dim), keepdim=keepdim)


def _amin(input, dim=None, keepdim=False):
    return torch.amin(input, dim=_all_dims(input, dim), keepdim=keepdim)


def _topk(input, k, dim=-1, largest=True, sorted=True):
    """torch.topk's values; among equal values the lower index comes first (a stable sort), which
    torch.topk does not promise, so the golden pins that order and checks the values agree."""
    values, _ = torch.topk(input, k, dim=dim, largest=largest, sorted=sorted)
    key = input.double()
    key = torch.where(torch.isnan(key), torch.tensor(INF if largest else -INF, dtype=torch.float64), key)
    if largest:
        key = -key
    order = _stable_argsort(key, dim)
    idx = order.narrow(dim, 0, k)
    stable_values = torch.gather(input, dim, idx)
    if not torch.equal(torch.isnan(stable_values), torch.isnan(values)) or not torch.equal(
            torch.nan_to_num(stable_values), torch.nan_to_num(values)):
        raise AssertionError('topk: stable order disagrees with torch.topk values')
    return stable_values, idx


def _stable_argsort(key, dim):
    try:
        return torch.sort(key, dim=dim, stable=True).indices
    except TypeError:  # very old torch: argsort on (key, index) pairs
        n = key.shape[dim]
        pos = torch.arange(n, dtype=torch.float64).reshape([-1 if d == dim % key.dim() else 1 for d in range(key.dim())])
        return torch.argsort(key * (n + 1) + pos / (n + 1), dim=dim)


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    fn = getattr(F, 'scaled_dot_product_attention', None)
    if fn is not None:
        extra = {} if scale is None else {'scale': scale}
        try:
            return fn(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, **extra)
        except TypeError:
            pass  # torch 2.0 has no `scale`
    L, S = query.shape[-2], key.shape[-2]
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = torch.matmul(query, key.transpose(-2, -1)) * s
    if is_causal:
        keep = torch.ones(L, S, dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, -INF)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, -INF)
        else:
            scores = scores + attn_mask
    return torch.matmul(torch.softmax(scores, dim=-1), value)


def _slice(input, dim=0, start=None, end=None, step=1):
    index = [slice(None)] * input.dim()
    index[dim] = slice(start, end, step)
    return input[tuple(index)]


def _pad(input, pad, mode='constant', value=0.0):
    if mode == 'constant':
        return F.pad(input, pad, mode='constant', value=value)
    return F.pad(input, pad, mode=mode)


def _avg_pool1d(input, kernel_size, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None):
    if divisor_override is None:
        return F.avg_pool1d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)
    out = F.avg_pool2d(input.unsqueeze(-2), [1] + list(kernel_size), [1] + list(stride), [0] + list(padding),
                       ceil_mode, count_include_pad, divisor_override)
    return out.squeeze(-2)


def _quantize_per_tensor(input, scale, zero_point, dtype):
    return torch.quantize_per_tensor(input, scale, zero_point, QDTYPES[dtype])


def _quantize_per_channel(input, scales, zero_points, axis, dtype):
    return torch.quantize_per_channel(input, scales.double(), zero_points, axis, QDTYPES[dtype])


def _transposed_matmul(input, other, transpose_input=False, transpose_other=False):
    a = input.transpose(-1, -2) if transpose_input else input
    b = other.transpose(-1, -2) if transpose_other else other
    return torch.matmul(a, b)


GOLDEN = {
    'add': lambda input, other: torch.add(input, other),
    'sub': lambda input, other: torch.sub(input, other),
    'mul': lambda input, other: torch.mul(input, other),
    'div': lambda input, other, rounding_mode=None: torch.div(input, other, rounding_mode=rounding_mode),
    'floor_div': lambda input, other: torch.div(input, other, rounding_mode='floor'),
    'pow': lambda input, exponent: torch.pow(input, exponent),
    'maximum': lambda input, other: torch.maximum(input, _as_tensor(other)),
    'minimum': lambda input, other: torch.minimum(input, _as_tensor(other)),
    'fmod': lambda input, other: torch.fmod(input, other),
    'remainder': lambda input, other: torch.remainder(input, other),
    'eq': torch.eq, 'ne': torch.ne, 'gt': torch.gt, 'ge': torch.ge, 'lt': torch.lt, 'le': torch.le,
    'logical_and': torch.logical_and, 'logical_or': torch.logical_or, 'logical_xor': torch.logical_xor,
    'logical_not': torch.logical_not,
    'abs': torch.abs, 'neg': torch.neg, 'exp': torch.exp, 'log': torch.log, 'sqrt': torch.sqrt,
    'rsqrt': torch.rsqrt, 'reciprocal': torch.reciprocal, 'sin': torch.sin, 'cos': torch.cos, 'tan': torch.tan,
    'asin': torch.asin, 'acos': torch.acos, 'atan': torch.atan, 'sinh': torch.sinh, 'cosh': torch.cosh,
    'erf': torch.erf, 'floor': torch.floor, 'ceil': torch.ceil, 'round': torch.round, 'trunc': torch.trunc,
    'sign': torch.sign, 'isnan': torch.isnan,
    'where': _where,
    'clamp': lambda input, min=None, max=None: torch.clamp(input, min=min, max=max),
    'to_dtype': lambda input, dtype: input.to(DTYPES[dtype]),
    'relu': F.relu, 'sigmoid': torch.sigmoid, 'tanh': torch.tanh, 'silu': F.silu, 'selu': F.selu,
    'softsign': F.softsign, 'hardsigmoid': F.hardsigmoid,
    'leaky_relu': lambda input, negative_slope=0.01: F.leaky_relu(input, negative_slope),
    'elu': lambda input, alpha=1.0: F.elu(input, alpha),
    'gelu': lambda input, approximate='none': F.gelu(input, approximate=approximate),
    'softplus': lambda input, beta=1.0, threshold=20.0: F.softplus(input, beta, threshold),
    'hardtanh': lambda input, min_val=-1.0, max_val=1.0: F.hardtanh(input, min_val, max_val),
    'prelu': lambda input, weight: F.prelu(input, weight),
    'dropout': lambda input, p=0.5, training=False: F.dropout(input, p, training),
    'sum': _sum, 'mean': _mean, 'prod': _prod, 'amax': _amax, 'amin': _amin,
    'argmax': lambda input, dim=None, keepdim=False: torch.argmax(input, dim=dim, keepdim=keepdim),
    'argmin': lambda input, dim=None, keepdim=False: torch.argmin(input, dim=dim, keepdim=keepdim),
    'softmax': lambda input, dim: F.softmax(input, dim=dim),
    'log_softmax': lambda input, dim: F.log_softmax(input, dim=dim),
    'cumsum': lambda input, dim: torch.cumsum(input, dim=dim),
    'topk': _topk,
    'batch_norm': lambda input, running_mean, running_var, weight=None, bias=None, eps=1e-5: F.batch_norm(
        input, running_mean, running_var, weight, bias, False, 0.1, eps),
    'layer_norm': lambda input, normalized_shape, weight=None, bias=None, eps=1e-5: F.layer_norm(
        input, normalized_shape, weight, bias, eps),
    'group_norm': lambda input, num_groups, weight=None, bias=None, eps=1e-5: F.group_norm(
        input, num_groups, weight, bias, eps),
    'instance_norm': lambda input, weight=None, bias=None, eps=1e-5: F.instance_norm(
        input, weight=weight, bias=bias, eps=eps),
    'linear': lambda input, weight, bias=None: F.linear(input, weight, bias),
    'matmul': lambda input, other: torch.matmul(input, other),
    'transposed_matmul': _transposed_matmul,
    'einsum': lambda equation, operands: torch.einsum(equation, *operands),
    'scaled_dot_product_attention': _sdpa,
    'conv1d': F.conv1d, 'conv2d': F.conv2d, 'conv3d': F.conv3d,
    'conv_transpose1d': F.conv_transpose1d, 'conv_transpose2d': F.conv_transpose2d,
    'conv_transpose3d': F.conv_transpose3d,
    'max_pool1d': F.max_pool1d, 'max_pool2d': F.max_pool2d, 'max_pool3d': F.max_pool3d,
    'avg_pool1d': _avg_pool1d, 'avg_pool2d': F.avg_pool2d, 'avg_pool3d': F.avg_pool3d,
    'adaptive_avg_pool1d': F.adaptive_avg_pool1d, 'adaptive_avg_pool2d': F.adaptive_avg_pool2d,
    'adaptive_avg_pool3d': F.adaptive_avg_pool3d,
    'adaptive_max_pool2d': lambda input, output_size: F.adaptive_max_pool2d(input, output_size),
    'pad': _pad,
    'interpolate': lambda input, size=None, scale_factor=None, mode='nearest', align_corners=None: F.interpolate(
        input, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners),
    'reshape': lambda input, shape: torch.reshape(input, shape),
    'permute': lambda input, permutation: input.permute(*permutation),
    'flatten': lambda input, start_dim=0, end_dim=-1: torch.flatten(input, start_dim, end_dim),
    'squeeze': lambda input, dim=None: torch.squeeze(input) if dim is None else torch.squeeze(input, dim),
    'unsqueeze': lambda input, dim: torch.unsqueeze(input, dim),
    'expand': lambda input, sizes: input.expand(*sizes),
    'tile': lambda input, dims: torch.tile(input, dims),
    'cat': lambda tensors, dim=0: torch.cat(tensors, dim),
    'stack': lambda tensors, dim=0: torch.stack(tensors, dim),
    'split': lambda input, split_size_or_sections, dim=0: torch.split(input, split_size_or_sections, dim),
    'chunk': lambda input, chunks, dim=0: torch.chunk(input, chunks, dim),
    'slice': _slice,
    'size': lambda input, dim=None: list(input.shape) if dim is None else input.shape[dim],
    'getitem': lambda input, index: input[index],
    'index_select': lambda input, dim, index: torch.index_select(input, dim, index),
    'gather': lambda input, dim, index: torch.gather(input, dim, index),
    'embedding': lambda input, weight, padding_idx=None: F.embedding(input, weight, padding_idx),
    'quantize_per_tensor': _quantize_per_tensor,
    'quantize_per_channel': _quantize_per_channel,
    'dequantize': lambda input: input.dequantize(),
}

# ---------------------------------------------------------------- cases: elementwise

HALF = (('fp16', torch.float16), ('bf16', torch.bfloat16))


def gen_binary_arith():
    for op in ('add', 'sub', 'mul', 'div'):
        seed(op)
        case(op, 'same_shape', {'input': randn(2, 3), 'other': randn(2, 3)})
        case(op, 'broadcast_rank_mismatch', {'input': randn(2, 3, 4), 'other': randn(4)})
        case(op, 'broadcast_size1_dims', {'input': randn(2, 1, 4), 'other': randn(3, 1)})
        case(op, 'zero_dim_tensor', {'input': randn(3), 'other': randn()})
        case(op, 'scalar_float', {'input': randn(2, 3), 'other': 1.5})
        case(op, 'int32_tensor_float_scalar', {'input': randint(-5, 6, 2, 3, dtype=torch.int32), 'other': 2.5})
        case(op, 'int32_and_float32', {'input': randint(-5, 6, 2, 3, dtype=torch.int32), 'other': rand(2, 3, lo=0.5, hi=2)})
        for tag, dt in HALF:
            case(op, tag, {'input': randn(3, 4, dtype=dt), 'other': randn(4, dtype=dt)})
        case(op, 'fp16_and_float32', {'input': randn(2, 3, dtype=torch.float16), 'other': randn(2, 3)})
        case(op, 'fp16_and_bf16', {'input': randn(2, 3, dtype=torch.float16), 'other': randn(2, 3, dtype=torch.bfloat16)})
    for op in ('add', 'sub', 'mul'):
        case(op, 'int64', {'input': randint(-100, 100, 3, 4), 'other': randint(-100, 100, 4)}, exact=True)
        case(op, 'int32_int_scalar', {'input': randint(-100, 100, 5, dtype=torch.int32), 'other': 7}, exact=True)
        case(op, 'uint8_and_int32', {'input': tensor([0, 200, 255], torch.uint8),
                                     'other': tensor([-1, 100, -128], torch.int32)}, exact=True)
        if op != 'sub':  # PyTorch refuses bool subtraction
            case(op, 'bool_and_int32', {'input': tensor([True, False, True], torch.bool),
                                        'other': tensor([3, -4, 5], torch.int32)}, exact=True)
    big = 2 ** 53
    case('add', 'int64_beyond_2p53', {'input': tensor([big, -big, 2 ** 62], torch.int64), 'other': tensor([1, -3, 5], torch.int64)}, exact=True)
    case('sub', 'uint8_wraps', {'input': tensor([2, 0, 250], torch.uint8), 'other': tensor([5, 1, 6], torch.uint8)}, exact=True)
    case('mul', 'int8_wraps', {'input': tensor([100, -100, 64], torch.int8), 'other': tensor([3, 3, 2], torch.int8)}, exact=True)
    case('add', 'inf_nan', {'input': tensor([INF, -INF, NAN, 1.0]), 'other': tensor([-INF, -INF, 1.0, INF])})
    case('div', 'int_true_division', {'input': randint(-9, 10, 2, 4), 'other': tensor([3, -2, 4, 7])})
    case('div', 'by_zero', {'input': tensor([1.0, -1.0, 0.0, 2.0]), 'other': tensor([0.0, 0.0, 0.0, -0.0])})
    for mode in ('trunc', 'floor'):
        case('div', 'rounding_%s_float' % mode, {'input': tensor([-7.0, 7.0, -7.5, 7.5, -0.5, 5.0]),
                                                 'other': tensor([2.0, -2.0, 2.0, 2.0, 3.0, 2.5]),
                                                 'rounding_mode': mode}, exact=True)
        case('div', 'rounding_%s_int64' % mode, {'input': tensor([-7, 7, -8, 9, 0, -1], torch.int64),
                                                 'other': tensor([2, -2, 3, -4, 5, 3], torch.int64),
                                                 'rounding_mode': mode}, exact=True)
        case('div', 'rounding_%s_int32_scalar' % mode, {'input': tensor([-7, 7, -8, 9], torch.int32), 'other': 3,
                                                        'rounding_mode': mode}, exact=True)
    case('div', 'rounding_none_explicit', {'input': randn(4), 'other': rand(4, lo=1, hi=2), 'rounding_mode': None})


def gen_int_arith():
    op = 'floor_div'
    seed(op)
    a = tensor([-7.0, 7.0, -7.0, 7.0, 5.5, -5.5, 0.0, -0.25, 1e-3])
    b = tensor([2.0, -2.0, -2.0, 2.0, 2.0, 2.0, 3.0, 1.0, -1.0])
    case(op, 'float_negatives', {'input': a, 'other': b}, exact=True)
    case(op, 'int64_negatives', {'input': tensor([-7, 7, -7, 7, -1, 0, 9], torch.int64),
                                 'other': tensor([2, -2, -2, 2, 5, -3, 3], torch.int64)}, exact=True)
    case(op, 'int32_scalar', {'input': tensor([-7, -6, -5, 5, 6, 7], torch.int32), 'other': 3}, exact=True)
    case(op, 'int32_negative_scalar', {'input': tensor([-7, -6, -5, 5, 6, 7], torch.int32), 'other': -4}, exact=True)
    case(op, 'float_scalar_broadcast', {'input': randn(2, 3, scale=5), 'other': 0.75}, exact=True)
    case(op, 'broadcast', {'input': randn(2, 1, 3, scale=5), 'other': tensor([[1.5], [-2.0]])}, exact=True)
    case(op, 'int8', {'input': tensor([-128, 127, -5, 5], torch.int8), 'other': tensor([3, -3, 2, -2], torch.int8)}, exact=True)
    case(op, 'by_zero_float', {'input': tensor([1.0, -1.0, 0.0]), 'other': tensor([0.0, 0.0, 0.0])}, exact=True)
    case(op, 'fp16', {'input': randn(6, scale=4, dtype=torch.float16), 'other': tensor([1.5, -2, 3, -0.5, 0.25, 7], torch.float16)}, exact=True)

    for op in ('fmod', 'remainder'):
        seed(op)
        case(op, 'float_negatives', {'input': tensor([-7.0, 7.0, -7.0, 7.0, 5.5, -5.5, 0.0, -0.0, 3.0]),
                                     'other': tensor([2.0, -2.0, -2.0, 2.0, 2.5, 2.5, 3.0, 3.0, 3.0])}, exact=True)
        case(op, 'int64_negatives', {'input': tensor([-7, 7, -7, 7, -1, 0, 9], torch.int64),
                                     'other': tensor([2, -2, -2, 2, 5, -3, 3], torch.int64)}, exact=True)
        case(op, 'int32_scalar', {'input': tensor([-7, -6, -5, 5, 6, 7], torch.int32), 'other': 3}, exact=True)
        case(op, 'int32_negative_scalar', {'input': tensor([-7, -6, -5, 5, 6, 7], torch.int32), 'other': -4}, exact=True)
        case(op, 'float_scalar', {'input': randn(2, 4, scale=5), 'other': 1.5}, exact=True)
        case(op, 'float_negative_scalar', {'input': randn(2, 4, scale=5), 'other': -1.5}, exact=True)
        case(op, 'broadcast', {'input': randn(2, 1, 3, scale=5), 'other': tensor([[1.5], [-2.0]])}, exact=True)
        case(op, 'by_zero_and_inf', {'input': tensor([1.0, -1.0, INF, 3.0, -3.0, NAN]),
                                     'other': tensor([0.0, 0.0, 2.0, INF, INF, 1.0])}, exact=True)
        case(op, 'int32_tensor_float_scalar', {'input': tensor([-7, -3, 4, 9], torch.int32), 'other': 2.5}, exact=True)
        case(op, 'fp16', {'input': randn(6, scale=4, dtype=torch.float16), 'other': tensor([1.5, -2, 3, -0.5, 0.25, 7], torch.float16)}, exact=True)

    op = 'pow'
    seed(op)
    case(op, 'float_tensor_exponent', {'input': rand(2, 3, lo=0.1, hi=3), 'exponent': randn(2, 3)})
    for e in (2.0, 0.5, -1.0, 3.0, 0.0):
        case(op, 'scalar_exponent_%s' % str(e).replace('.', 'p').replace('-', 'm'), {'input': randn(2, 3), 'exponent': e})
    case(op, 'negative_base_fractional_exponent', {'input': tensor([-2.0, -0.5, 2.0, 0.0]), 'exponent': 0.5})
    case(op, 'zero_base', {'input': tensor([0.0, 0.0, 0.0, -0.0]), 'exponent': tensor([0.0, -1.0, 2.0, -1.0])})
    case(op, 'broadcast', {'input': rand(3, 1, lo=0.5, hi=2), 'exponent': tensor([1.0, 2.0, -0.5])})
    case(op, 'int64_int64', {'input': tensor([2, -3, 0, 5, -1, 7], torch.int64),
                             'exponent': tensor([10, 3, 0, 2, 7, 1], torch.int64)}, exact=True)
    case(op, 'int32_int_scalar', {'input': tensor([2, -3, 0, 5, -1], torch.int32), 'exponent': 3}, exact=True)
    case(op, 'int32_float_scalar', {'input': tensor([1, 4, 9, 2], torch.int32), 'exponent': 0.5})
    case(op, 'int_tensor_float_tensor', {'input': tensor([1, 2, 3], torch.int32), 'exponent': tensor([0.5, 2.0, -1.0])})
    for tag, dt in HALF:
        case(op, tag, {'input': rand(3, 4, lo=0.1, hi=2, dtype=dt), 'exponent': 2.0})


def gen_min_max():
    for op in ('maximum', 'minimum'):
        seed(op)
        case(op, 'same_shape', {'input': randn(2, 3), 'other': randn(2, 3)}, exact=True)
        case(op, 'broadcast', {'input': randn(2, 1, 4), 'other': randn(3, 1)}, exact=True)
        case(op, 'nan_propagates', {'input': tensor([NAN, 1.0, NAN, -INF]), 'other': tensor([1.0, NAN, NAN, 0.0])}, exact=True)
        case(op, 'signed_zero', {'input': tensor([0.0, -0.0]), 'other': tensor([-0.0, 0.0])}, exact=True)
        case(op, 'int32', {'input': randint(-9, 9, 5, dtype=torch.int32), 'other': randint(-9, 9, 5, dtype=torch.int32)}, exact=True)
        case(op, 'int32_and_float32', {'input': randint(-3, 3, 4, dtype=torch.int32), 'other': randn(4)}, exact=True)
        case(op, 'float_scalar', {'input': randn(5), 'other': 0.25}, exact=True)
        for tag, dt in HALF:
            case(op, tag, {'input': randn(2, 3, dtype=dt), 'other': randn(3, dtype=dt)}, exact=True)


def gen_compare_logical():
    for op in ('eq', 'ne', 'gt', 'ge', 'lt', 'le'):
        seed(op)
        a = randint(-2, 3, 3, 4).float()
        case(op, 'same_shape', {'input': a, 'other': randint(-2, 3, 3, 4).float()}, exact=True)
        case(op, 'broadcast', {'input': a, 'other': randint(-2, 3, 3, 1).float()}, exact=True)
        case(op, 'scalar', {'input': a, 'other': 1.0}, exact=True)
        case(op, 'int32_vs_float_scalar', {'input': tensor([1, 2, 3], torch.int32), 'other': 2.5}, exact=True)
        case(op, 'int64_vs_float32', {'input': tensor([1, 2, 3]).long(), 'other': tensor([1.0, 2.5, 2.0])}, exact=True)
        case(op, 'nan', {'input': tensor([NAN, 1.0, NAN, INF]), 'other': tensor([NAN, NAN, 1.0, INF])}, exact=True)
        case(op, 'signed_zero', {'input': tensor([0.0, -0.0]), 'other': tensor([-0.0, 0.0])}, exact=True)
        case(op, 'int64_beyond_2p53', {'input': tensor([2 ** 53, 2 ** 53 + 1, -2 ** 60], torch.int64),
                                       'other': tensor([2 ** 53 + 1, 2 ** 53, -2 ** 60 + 1], torch.int64)}, exact=True)
        case(op, 'bool', {'input': tensor([True, False, True, False], torch.bool),
                          'other': tensor([True, True, False, False], torch.bool)}, exact=True)
        case(op, 'fp16', {'input': a.half(), 'other': randint(-2, 3, 4).half()}, exact=True)
    for op in ('logical_and', 'logical_or', 'logical_xor'):
        seed(op)
        case(op, 'bool', {'input': tensor([True, False, True, False], torch.bool),
                          'other': tensor([True, True, False, False], torch.bool)}, exact=True)
        case(op, 'float_truthiness', {'input': tensor([0.0, -0.0, 2.0, NAN, 0.0]),
                                      'other': tensor([1.0, 1.0, 0.0, 1.0, 0.0])}, exact=True)
        case(op, 'int_broadcast', {'input': randint(-1, 2, 2, 3, dtype=torch.int32),
                                   'other': tensor([[1], [0]], torch.int64)}, exact=True)
        case(op, 'mixed_bool_float', {'input': tensor([True, False, True], torch.bool), 'other': tensor([0.0, 3.0, 1.0])}, exact=True)
    op = 'logical_not'
    seed(op)
    case(op, 'bool', {'input': tensor([True, False], torch.bool)}, exact=True)
    case(op, 'float', {'input': tensor([0.0, -0.0, 2.0, NAN, -INF])}, exact=True)
    case(op, 'int32', {'input': tensor([[0, 1], [-3, 0]], torch.int32)}, exact=True)


UNARY_DOMAIN = {
    'exp': (-5, 5), 'log': (0.01, 10), 'sqrt': (0, 10), 'rsqrt': (0.01, 10), 'reciprocal': (0.1, 5),
    'asin': (-1, 1), 'acos': (-1, 1), 'sinh': (-4, 4), 'cosh': (-4, 4), 'tan': (-1.5, 1.5),
}
UNARY_SPECIAL = {
    'abs': [-0.0, 0.0, -INF, NAN, -3.5], 'neg': [0.0, -0.0, INF, NAN, 2.0],
    'exp': [-INF, INF, NAN, 0.0, 88.0, -104.0, 89.0], 'log': [0.0, -1.0, INF, NAN, 1.0, 1e-30],
    'sqrt': [0.0, -0.0, -1.0, INF, NAN, 4.0], 'rsqrt': [0.0, -1.0, INF, NAN, 4.0],
    'reciprocal': [0.0, -0.0, INF, NAN, 3.0], 'sin': [0.0, -0.0, INF, NAN, 100.0], 'cos': [0.0, INF, NAN, 100.0],
    'tan': [0.0, NAN, 1.5], 'asin': [1.0, -1.0, 1.5, NAN], 'acos': [1.0, -1.0, -1.5, NAN], 'atan': [INF, -INF, NAN, 1e10],
    'sinh': [0.0, INF, -INF, NAN, 20.0], 'cosh': [0.0, INF, -INF, NAN, -20.0], 'erf': [0.0, INF, -INF, NAN, 3.0, -6.0],
    'floor': [-0.5, 0.5, -0.0, INF, NAN, 2.0, -2.0, 1e20], 'ceil': [-0.5, 0.5, -0.0, INF, NAN, 2.0, -2.0, 1e20],
    'trunc': [-0.5, 0.5, -1.7, 1.7, INF, NAN, -2.0],
    'round': [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997, 2.4999998, 3.5000002, 1e20, INF, NAN,
              8388609.0, -8388609.0, 4194304.5],
    'sign': [0.0, -0.0, 3.0, -2.0, INF, -INF, NAN, 1e-40],
    'isnan': [NAN, 0.0, INF, -INF, -NAN, 1.0],
}
UNARY_EXACT = ('abs', 'neg', 'floor', 'ceil', 'round', 'trunc', 'sign', 'isnan')
UNARY_HALF = ('abs', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'sin', 'erf', 'floor', 'round', 'sign', 'isnan', 'reciprocal')


def gen_unary():
    for op in ('abs', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan',
               'sinh', 'cosh', 'erf', 'floor', 'ceil', 'round', 'trunc', 'sign', 'isnan'):
        seed(op)
        lo, hi = UNARY_DOMAIN.get(op, (-4, 4))
        exact = op in UNARY_EXACT
        case(op, 'random', {'input': rand(3, 4, lo=lo, hi=hi)}, exact=exact)
        case(op, 'special_values', {'input': tensor(UNARY_SPECIAL[op])}, exact=exact)
        case(op, 'zero_dim', {'input': rand(lo=lo, hi=hi)}, exact=exact)
        if op in UNARY_HALF:
            for tag, dt in HALF:
                case(op, tag, {'input': rand(2, 5, lo=max(lo, -60), hi=min(hi, 60), dtype=dt)}, exact=exact)
        if op in ('abs', 'neg', 'sign'):
            case(op, 'int32', {'input': tensor([-5, 0, 7, -2147483647], torch.int32)}, exact=True)
            case(op, 'int64', {'input': tensor([-5, 0, 7, 9007199254740993], torch.int64)}, exact=True)
        if op in ('floor', 'ceil', 'round', 'trunc'):
            try_case(op, 'int32_identity', {'input': tensor([-5, 0, 7], torch.int32)}, exact=True)
        if op in ('exp', 'sqrt', 'sin', 'log', 'erf', 'reciprocal'):
            case(op, 'int64_to_float32', {'input': tensor([1, 2, 3, 4], torch.int64)})
            case(op, 'bool_to_float32', {'input': tensor([True, False], torch.bool)})
        if op == 'isnan':
            case(op, 'int32', {'input': tensor([1, 0, -3], torch.int32)}, exact=True)
    op = 'round'
    for tag, dt in HALF:
        case(op, 'ties_' + tag, {'input': tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 1000.5], dt)}, exact=True)


def gen_where_clamp_cast():
    op = 'where'
    seed(op)
    cond = randint(0, 2, 2, 3).bool()
    case(op, 'same_shape', {'condition': cond, 'input': randn(2, 3), 'other': randn(2, 3)}, exact=True)
    case(op, 'broadcast_three_way', {'condition': randint(0, 2, 3, 1).bool(), 'input': randn(1, 4), 'other': randn(2, 1, 1)}, exact=True)
    case(op, 'scalar_other_neg_inf', {'condition': cond, 'input': randn(2, 3), 'other': -INF}, exact=True)
    case(op, 'scalar_input', {'condition': cond, 'input': 0.0, 'other': randn(2, 3)}, exact=True)
    # JSON (and JS) cannot tell 1.0 from 1: float scalars here are non-integral so both agree on float32.
    try_case(op, 'both_scalars', {'condition': cond, 'input': 1.5, 'other': -0.5}, exact=True)
    case(op, 'int32_and_float32_promote', {'condition': cond, 'input': randint(-5, 5, 2, 3, dtype=torch.int32),
                                           'other': randn(2, 3)}, exact=True)
    case(op, 'int64', {'condition': cond, 'input': randint(-5, 5, 2, 3), 'other': randint(-5, 5, 3)}, exact=True)
    case(op, 'fp16', {'condition': cond, 'input': randn(2, 3, dtype=torch.float16), 'other': randn(2, 3, dtype=torch.float16)}, exact=True)
    case(op, 'nan_passthrough', {'condition': tensor([True, False], torch.bool), 'input': tensor([NAN, 1.0]),
                                 'other': tensor([0.0, NAN])}, exact=True)

    op = 'clamp'
    seed(op)
    x = randn(3, 4, scale=2)
    case(op, 'min_and_max', {'input': x, 'min': -0.5, 'max': 0.75}, exact=True)
    case(op, 'min_only', {'input': x, 'min': 0.0, 'max': None}, exact=True)
    case(op, 'max_only', {'input': x, 'min': None, 'max': 1.0}, exact=True)
    case(op, 'min_greater_than_max', {'input': x, 'min': 1.0, 'max': -1.0}, exact=True)
    case(op, 'nan_propagates', {'input': tensor([NAN, -INF, INF, 0.5]), 'min': -1.0, 'max': 1.0}, exact=True)
    case(op, 'int32', {'input': tensor([-10, -3, 0, 4, 100], torch.int32), 'min': -3, 'max': 5}, exact=True)
    case(op, 'int64_min_only', {'input': tensor([-10, -3, 0, 4, 100], torch.int64), 'min': 0, 'max': None}, exact=True)
    for tag, dt in HALF:
        case(op, tag, {'input': randn(2, 5, dtype=dt), 'min': -0.5, 'max': 0.5}, exact=True)
    case(op, 'relu6_form', {'input': randn(8, scale=5), 'min': 0.0, 'max': 6.0}, exact=True)

    op = 'to_dtype'
    f16_values = [1.0, 1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11, 1.0 + 2 ** -11 + 2 ** -20, -(1.0 + 2 ** -11), 2049.0, 2051.0,
                  65504.0, 65519.0, 65520.0, 65536.0, 1e5, -1e5, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26,
                  1.5 * 2 ** -24, 2.5 * 2 ** -24, 5 * 2 ** -26, 1e-8, -1e-8, 0.0, -0.0, INF, -INF, NAN, 0.1, 3.14159265]
    case(op, 'float32_to_float16_rne_overflow_subnormal', {'input': tensor(f16_values), 'dtype': 'float16'}, exact=True)
    bf16_values = [1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -8 + 2 ** -20, -(1.0 + 3 * 2 ** -8), 257.0, 259.0,
                   3.3895314e38, 3.4028235e38, -3.4028235e38, 2 ** -126, 2 ** -130, 2 ** -133 + 2 ** -140, 1e-45,
                   0.0, -0.0, INF, -INF, NAN, 0.1, 3.14159265]
    case(op, 'float32_to_bfloat16_rne_overflow_subnormal', {'input': tensor(bf16_values), 'dtype': 'bfloat16'}, exact=True)
    case(op, 'float32_to_int32_truncates', {'input': tensor([2.7, -2.7, 0.5, -0.5, 1e9, -1e9, 0.0]), 'dtype': 'int32'}, exact=True)
    case(op, 'float32_to_int64', {'input': tensor([2.7, -2.7, 3e12, -3e12]), 'dtype': 'int64'}, exact=True)
    case(op, 'float32_to_int8_in_range', {'input': tensor([127.9, -128.9, 5.5, -5.5]), 'dtype': 'int8'}, exact=True)
    case(op, 'float32_to_uint8_in_range', {'input': tensor([255.9, 0.9, 5.5, 128.0]), 'dtype': 'uint8'}, exact=True)
    case(op, 'float32_to_bool', {'input': tensor([0.0, -0.0, 0.1, NAN, -INF]), 'dtype': 'bool'}, exact=True)
    case(op, 'int64_to_float32_rounds', {'input': tensor([16777217, -16777219, 3, 2 ** 40 + 1], torch.int64), 'dtype': 'float32'}, exact=True)
    case(op, 'int32_to_float16', {'input': tensor([2049, 2051, 65519, 65520, 70000, -3], torch.int32), 'dtype': 'float16'}, exact=True)
    case(op, 'int64_to_int32_wraps', {'input': tensor([2 ** 32 + 5, -2 ** 31 - 1, 2 ** 53 + 1], torch.int64), 'dtype': 'int32'}, exact=True)
    case(op, 'int32_to_int8_wraps', {'input': tensor([300, -129, 127, -128, 256], torch.int32), 'dtype': 'int8'}, exact=True)
    case(op, 'uint8_to_int8_wraps', {'input': tensor([200, 127, 128, 255], torch.uint8), 'dtype': 'int8'}, exact=True)
    case(op, 'int8_to_uint8_wraps', {'input': tensor([-1, -128, 5], torch.int8), 'dtype': 'uint8'}, exact=True)
    case(op, 'bool_to_float32', {'input': tensor([True, False], torch.bool), 'dtype': 'float32'}, exact=True)
    case(op, 'int32_to_bool', {'input': tensor([0, 3, -1], torch.int32), 'dtype': 'bool'}, exact=True)
    case(op, 'float16_to_float32', {'input': tensor([65504.0, 2 ** -24, -0.0, INF, NAN, 0.1], torch.float16), 'dtype': 'float32'}, exact=True)
    case(op, 'bfloat16_to_float16', {'input': tensor([1.0078125, 70000.0, 1e-6, 2 ** -30, -3.0], torch.bfloat16), 'dtype': 'float16'}, exact=True)
    case(op, 'float16_to_bfloat16', {'input': tensor([1.0 + 2 ** -10, 1.0 + 3 * 2 ** -10, 65504.0, 2 ** -24], torch.float16), 'dtype': 'bfloat16'}, exact=True)
    case(op, 'float16_to_int32', {'input': tensor([2.5, -2.5, 1000.7], torch.float16), 'dtype': 'int32'}, exact=True)
    case(op, 'same_dtype', {'input': tensor([1.5, -2.0]), 'dtype': 'float32'}, exact=True)


# ---------------------------------------------------------------- cases: activations

def gen_activations():
    plain = ('relu', 'sigmoid', 'tanh', 'silu', 'selu', 'softsign', 'hardsigmoid')
    half = ('relu', 'sigmoid', 'tanh', 'silu', 'hardsigmoid')
    for op in plain:
        seed(op)
        exact = op == 'relu'
        case(op, 'random', {'input': randn(2, 3, 4, scale=3)}, exact=exact)
        case(op, 'special_values', {'input': tensor([0.0, -0.0, 100.0, -100.0, INF, -INF, NAN, 3.0, -3.0, 1e-8])}, exact=exact)
        if op in half:
            for tag, dt in HALF:
                case(op, tag, {'input': randn(2, 8, scale=3, dtype=dt)}, exact=exact)
    op = 'leaky_relu'
    seed(op)
    case(op, 'default_slope', {'input': randn(3, 4), 'negative_slope': 0.01}, exact=True)
    case(op, 'slope_0p2', {'input': randn(3, 4), 'negative_slope': 0.2})
    case(op, 'negative_slope', {'input': randn(6), 'negative_slope': -0.5}, exact=True)
    case(op, 'nan', {'input': tensor([NAN, -INF, INF]), 'negative_slope': 0.1})
    case(op, 'fp16', {'input': randn(8, dtype=torch.float16), 'negative_slope': 0.125}, exact=True)
    op = 'elu'
    seed(op)
    case(op, 'alpha_1', {'input': randn(3, 4, scale=3), 'alpha': 1.0})
    case(op, 'alpha_0p5', {'input': randn(3, 4, scale=3), 'alpha': 0.5})
    case(op, 'special', {'input': tensor([-INF, INF, NAN, 0.0, -50.0]), 'alpha': 1.5})
    op = 'gelu'
    seed(op)
    for approx in ('none', 'tanh'):
        case(op, approx, {'input': randn(3, 5, scale=3), 'approximate': approx})
        case(op, approx + '_special', {'input': tensor([-INF, INF, NAN, 0.0, -10.0, 10.0]), 'approximate': approx})
        for tag, dt in HALF:
            case(op, approx + '_' + tag, {'input': randn(2, 8, scale=3, dtype=dt), 'approximate': approx})
    op = 'softplus'
    seed(op)
    case(op, 'default', {'input': randn(3, 4, scale=4), 'beta': 1.0, 'threshold': 20.0})
    case(op, 'beta2_threshold5', {'input': tensor([-3.0, -1.0, 0.0, 1.0, 2.4, 2.6, 4.0, 10.0]), 'beta': 2.0, 'threshold': 5.0})
    case(op, 'large_values', {'input': tensor([30.0, 100.0, -100.0, 19.5, 20.5]), 'beta': 1.0, 'threshold': 20.0})
    op = 'hardtanh'
    seed(op)
    case(op, 'default', {'input': randn(3, 4, scale=2), 'min_val': -1.0, 'max_val': 1.0}, exact=True)
    case(op, 'relu6', {'input': randn(3, 4, scale=5), 'min_val': 0.0, 'max_val': 6.0}, exact=True)
    case(op, 'nan', {'input': tensor([NAN, INF, -INF]), 'min_val': -2.0, 'max_val': 2.0}, exact=True)
    case(op, 'fp16', {'input': randn(8, scale=2, dtype=torch.float16), 'min_val': -0.5, 'max_val': 0.5}, exact=True)
    op = 'prelu'
    seed(op)
    case(op, 'per_channel_4d', {'input': randn(2, 3, 2, 2), 'weight': tensor([0.25, -0.5, 2.0])})
    case(op, 'single_weight', {'input': randn(2, 3, 4), 'weight': tensor([0.1])})
    case(op, 'per_channel_2d', {'input': randn(4, 3), 'weight': tensor([0.25, 0.5, 0.75])})
    case(op, 'per_channel_3d', {'input': randn(2, 3, 5), 'weight': rand(3)})
    op = 'dropout'
    seed(op)
    case(op, 'eval_identity', {'input': randn(3, 4), 'p': 0.5, 'training': False}, exact=True)
    case(op, 'training_p0_identity', {'input': randn(3, 4), 'p': 0.0, 'training': True}, exact=True)
    case(op, 'training_p1_zeros', {'input': randn(3, 4), 'p': 1.0, 'training': True}, exact=True)
    case(op, 'int_passthrough_eval', {'input': randn(2, 2, dtype=torch.float16), 'p': 0.3, 'training': False}, exact=True)


# ---------------------------------------------------------------- cases: reductions

def gen_reductions():
    for op in ('sum', 'mean', 'prod'):
        seed(op)
        x = randn(2, 3, 4) if op != 'prod' else rand(2, 3, 4, lo=0.5, hi=1.5)
        case(op, 'all', {'input': x, 'dim': None, 'keepdim': False, 'dtype': None})
        case(op, 'all_keepdim', {'input': x, 'dim': None, 'keepdim': True, 'dtype': None})
        case(op, 'dim1', {'input': x, 'dim': 1, 'keepdim': False, 'dtype': None})
        case(op, 'negative_dim_keepdim', {'input': x, 'dim': -1, 'keepdim': True, 'dtype': None})
        case(op, 'dim_list', {'input': x, 'dim': [0, 2], 'keepdim': False, 'dtype': None})
        case(op, 'dim_list_negative_keepdim', {'input': x, 'dim': [-1, -3], 'keepdim': True, 'dtype': None})
        case(op, 'zero_dim_input', {'input': randn(), 'dim': None, 'keepdim': False, 'dtype': None})
        case(op, 'size1_dim', {'input': randn(3, 1, 2), 'dim': 1, 'keepdim': False, 'dtype': None})
        for tag, dt in HALF:
            case(op, tag, {'input': (x if op == 'prod' else randn(4, 16)).to(dt), 'dim': -1, 'keepdim': False, 'dtype': None})
        if op != 'prod':
            case(op, 'long_reduction', {'input': randn(3, 1000, scale=10) + 5, 'dim': 1, 'keepdim': False, 'dtype': None})
            case(op, 'long_reduction_fp16', {'input': rand(2, 512, dtype=torch.float16), 'dim': 1, 'keepdim': False, 'dtype': None})
        case(op, 'fp16_input_dtype_float32', {'input': randn(3, 8, dtype=torch.float16), 'dim': 1, 'keepdim': False, 'dtype': 'float32'})
        case(op, 'int32_input_dtype_float32', {'input': randint(-5, 6, 3, 4, dtype=torch.int32), 'dim': 0, 'keepdim': False, 'dtype': 'float32'})
        case(op, 'nan_inf', {'input': tensor([[1.0, NAN, 2.0], [INF, 1.0, 2.0], [INF, -INF, 0.5]]), 'dim': 1, 'keepdim': False, 'dtype': None})
        case(op, 'empty_dim', {'input': torch.zeros(2, 0), 'dim': 1, 'keepdim': False, 'dtype': None})
    for op in ('sum', 'prod'):
        case(op, 'int32_to_int64', {'input': randint(-4, 5, 3, 4, dtype=torch.int32), 'dim': 1, 'keepdim': False, 'dtype': None}, exact=True)
        case(op, 'uint8_all_to_int64', {'input': tensor([200, 100, 3], torch.uint8), 'dim': None, 'keepdim': False, 'dtype': None}, exact=True)
        case(op, 'bool_to_int64', {'input': tensor([[True, False, True], [True, True, True]], torch.bool), 'dim': 1, 'keepdim': False, 'dtype': None}, exact=True)
        case(op, 'int64_keepdim', {'input': randint(-9, 9, 2, 3), 'dim': [0], 'keepdim': True, 'dtype': None}, exact=True)
        case(op, 'int64_beyond_2p53', {'input': tensor([[2 ** 53, 1, 1], [3, 2 ** 40, 5]], torch.int64), 'dim': 1,
                                       'keepdim': False, 'dtype': None}, exact=True)
        case(op, 'int32_dtype_int32', {'input': randint(-9, 9, 2, 3, dtype=torch.int32), 'dim': 1, 'keepdim': False, 'dtype': 'int32'}, exact=True)

    for op in ('amax', 'amin'):
        seed(op)
        x = randn(2, 3, 4)
        case(op, 'all', {'input': x, 'dim': None, 'keepdim': False}, exact=True)
        case(op, 'dim1', {'input': x, 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'negative_dim_keepdim', {'input': x, 'dim': -1, 'keepdim': True}, exact=True)
        case(op, 'dim_list', {'input': x, 'dim': [0, -1], 'keepdim': False}, exact=True)
        case(op, 'all_keepdim', {'input': x, 'dim': None, 'keepdim': True}, exact=True)
        case(op, 'nan_propagates', {'input': tensor([[1.0, NAN, 2.0], [INF, -INF, 0.5], [-INF, -INF, -INF]]), 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'int32', {'input': randint(-50, 50, 3, 5, dtype=torch.int32), 'dim': 0, 'keepdim': False}, exact=True)
        case(op, 'uint8', {'input': tensor([[200, 3], [7, 255]], torch.uint8), 'dim': 1, 'keepdim': True}, exact=True)
        for tag, dt in HALF:
            case(op, tag, {'input': randn(3, 7, dtype=dt), 'dim': 1, 'keepdim': False}, exact=True)

    for op in ('argmax', 'argmin'):
        seed(op)
        x = randn(3, 4, 5)
        case(op, 'flattened', {'input': x, 'dim': None, 'keepdim': False}, exact=True)
        case(op, 'dim1', {'input': x, 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'negative_dim_keepdim', {'input': x, 'dim': -1, 'keepdim': True}, exact=True)
        case(op, 'dim0', {'input': x, 'dim': 0, 'keepdim': False}, exact=True)
        case(op, 'ties_first_index', {'input': tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, 5.0, -1.0]]), 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'nan_wins', {'input': tensor([[1.0, NAN, 3.0, NAN], [INF, 2.0, -INF, 0.0]]), 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'nan_flattened', {'input': tensor([[1.0, 2.0], [NAN, 0.0]]), 'dim': None, 'keepdim': False}, exact=True)
        case(op, 'int32', {'input': tensor([[3, 9, 9], [-1, -5, -5]], torch.int32), 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'fp16', {'input': randn(2, 6, dtype=torch.float16), 'dim': 1, 'keepdim': False}, exact=True)
        case(op, 'size1_dim', {'input': randn(3, 1), 'dim': 1, 'keepdim': True}, exact=True)

    for op in ('softmax', 'log_softmax'):
        seed(op)
        case(op, 'last_dim', {'input': randn(2, 3, 5), 'dim': -1})
        case(op, 'dim0', {'input': randn(3, 4), 'dim': 0})
        case(op, 'middle_dim', {'input': randn(2, 4, 3), 'dim': 1})
        case(op, 'large_values_stable', {'input': tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -999.0]]), 'dim': 1})
        case(op, 'neg_inf_masked', {'input': tensor([[1.0, -INF, 2.0], [-INF, 0.0, -INF]]), 'dim': 1})
        case(op, 'all_neg_inf_row_nan', {'input': tensor([[-INF, -INF], [0.0, 1.0]]), 'dim': 1})
        case(op, 'nan', {'input': tensor([[NAN, 1.0], [0.0, 1.0]]), 'dim': 1})
        case(op, 'long_row', {'input': randn(2, 700, scale=3), 'dim': 1})
        for tag, dt in HALF:
            case(op, tag, {'input': randn(3, 16, scale=2, dtype=dt), 'dim': -1})

    op = 'cumsum'
    seed(op)
    case(op, 'dim0', {'input': randn(4, 3), 'dim': 0})
    case(op, 'negative_dim', {'input': randn(2, 3, 5), 'dim': -1})
    case(op, 'long', {'input': randn(2, 600), 'dim': 1})
    case(op, 'int32_to_int64', {'input': randint(-9, 9, 2, 5, dtype=torch.int32), 'dim': 1}, exact=True)
    case(op, 'bool_to_int64', {'input': tensor([True, False, True, True], torch.bool), 'dim': 0}, exact=True)
    case(op, 'int64', {'input': randint(-99, 99, 3, 3), 'dim': -2}, exact=True)
    case(op, 'int64_beyond_2p53', {'input': tensor([2 ** 53, 1, 1, -3], torch.int64), 'dim': 0}, exact=True)
    case(op, 'nan_inf', {'input': tensor([1.0, NAN, 2.0, INF, -INF]), 'dim': 0})
    case(op, 'zero_dim', {'input': randn(), 'dim': 0})
    for tag, dt in HALF:
        case(op, tag, {'input': rand(2, 16, dtype=dt), 'dim': 1})

    op = 'topk'
    seed(op)
    x = randn(3, 8)
    case(op, 'largest_last_dim', {'input': x, 'k': 3, 'dim': -1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'smallest', {'input': x, 'k': 3, 'dim': -1, 'largest': False, 'sorted': True}, exact=True)
    case(op, 'dim0', {'input': randn(5, 3, 2), 'k': 2, 'dim': 0, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'middle_dim', {'input': randn(2, 5, 3), 'k': 4, 'dim': 1, 'largest': False, 'sorted': True}, exact=True)
    case(op, 'k_equals_size', {'input': randn(2, 4), 'k': 4, 'dim': 1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'ties_lower_index_first', {'input': tensor([[1.0, 3.0, 3.0, 2.0, 3.0, 0.0], [5.0, 5.0, 5.0, 5.0, 1.0, 1.0]]),
                                        'k': 4, 'dim': 1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'ties_smallest', {'input': tensor([[1.0, 0.0, 0.0, 2.0, 0.0, 1.0]]), 'k': 4, 'dim': 1, 'largest': False, 'sorted': True}, exact=True)
    case(op, 'nan_is_largest', {'input': tensor([[1.0, NAN, 3.0, 2.0]]), 'k': 2, 'dim': 1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'int32', {'input': tensor([[4, 9, -2, 9, 0]], torch.int32), 'k': 3, 'dim': 1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'fp16', {'input': randn(2, 9, dtype=torch.float16), 'k': 3, 'dim': -1, 'largest': True, 'sorted': True}, exact=True)
    case(op, 'k0', {'input': randn(2, 3), 'k': 0, 'dim': 1, 'largest': True, 'sorted': True}, exact=True)


# ---------------------------------------------------------------- cases: norms

def gen_norms():
    op = 'batch_norm'
    seed(op)
    C = 3
    stats = lambda dt=torch.float32: {'running_mean': randn(C).to(dt), 'running_var': rand(C, lo=0.5, hi=2).to(dt)}
    case(op, 'nchw_affine', dict({'input': randn(2, C, 3, 3)}, **stats(), weight=randn(C), bias=randn(C), eps=1e-5))
    case(op, 'no_affine', dict({'input': randn(2, C, 2, 2)}, **stats(), weight=None, bias=None, eps=1e-5))
    case(op, 'weight_only', dict({'input': randn(2, C, 4)}, **stats(), weight=randn(C), bias=None, eps=1e-3))
    case(op, 'bias_only_2d_input', dict({'input': randn(4, C)}, **stats(), weight=None, bias=randn(C), eps=1e-5))
    case(op, 'ncdhw', dict({'input': randn(1, C, 2, 2, 3)}, **stats(), weight=randn(C), bias=randn(C), eps=0.1))
    case(op, 'zero_variance', {'input': randn(1, 2, 3), 'running_mean': tensor([0.5, -0.5]), 'running_var': tensor([0.0, 1.0]),
                               'weight': None, 'bias': None, 'eps': 1e-5})
    for tag, dt in HALF:
        case(op, tag, dict({'input': randn(2, C, 2, 2, dtype=dt)}, **stats(dt), weight=randn(C).to(dt), bias=randn(C).to(dt), eps=1e-5))

    op = 'layer_norm'
    seed(op)
    case(op, 'last_dim_affine', {'input': randn(2, 3, 8), 'normalized_shape': [8], 'weight': randn(8), 'bias': randn(8), 'eps': 1e-5})
    case(op, 'last_two_dims', {'input': randn(2, 3, 4), 'normalized_shape': [3, 4], 'weight': randn(3, 4), 'bias': randn(3, 4), 'eps': 1e-5})
    case(op, 'no_affine', {'input': randn(4, 6), 'normalized_shape': [6], 'weight': None, 'bias': None, 'eps': 1e-5})
    case(op, 'weight_only_eps', {'input': randn(3, 5), 'normalized_shape': [5], 'weight': randn(5), 'bias': None, 'eps': 0.1})
    case(op, 'all_dims', {'input': randn(2, 3), 'normalized_shape': [2, 3], 'weight': None, 'bias': None, 'eps': 1e-5})
    case(op, 'constant_row', {'input': torch.full((2, 4), 3.0), 'normalized_shape': [4], 'weight': None, 'bias': None, 'eps': 1e-5})
    case(op, 'offset_long_row', {'input': randn(2, 768) + 100, 'normalized_shape': [768], 'weight': randn(768), 'bias': randn(768), 'eps': 1e-12})
    for tag, dt in HALF:
        case(op, tag, {'input': randn(2, 16, dtype=dt), 'normalized_shape': [16], 'weight': randn(16).to(dt), 'bias': randn(16).to(dt), 'eps': 1e-5})

    op = 'group_norm'
    seed(op)
    case(op, 'groups2_affine', {'input': randn(2, 4, 3, 3), 'num_groups': 2, 'weight': randn(4), 'bias': randn(4), 'eps': 1e-5})
    case(op, 'groups1_layer_norm_like', {'input': randn(2, 4, 3), 'num_groups': 1, 'weight': None, 'bias': None, 'eps': 1e-5})
    case(op, 'groups_eq_channels', {'input': randn(1, 6, 2, 2), 'num_groups': 6, 'weight': randn(6), 'bias': None, 'eps': 1e-5})
    case(op, 'input_2d', {'input': randn(3, 6), 'num_groups': 3, 'weight': None, 'bias': randn(6), 'eps': 1e-3})
    case(op, 'input_5d', {'input': randn(1, 4, 2, 2, 2), 'num_groups': 2, 'weight': randn(4), 'bias': randn(4), 'eps': 1e-5})
    for tag, dt in HALF:
        case(op, tag, {'input': randn(2, 4, 4, dtype=dt), 'num_groups': 2, 'weight': randn(4).to(dt), 'bias': randn(4).to(dt), 'eps': 1e-5})

    op = 'instance_norm'
    seed(op)
    case(op, 'nchw_affine', {'input': randn(2, 3, 4, 4), 'weight': randn(3), 'bias': randn(3), 'eps': 1e-5})
    case(op, 'ncl_no_affine', {'input': randn(2, 3, 5), 'weight': None, 'bias': None, 'eps': 1e-5})
    case(op, 'ncdhw', {'input': randn(1, 2, 2, 3, 2), 'weight': randn(2), 'bias': None, 'eps': 1e-3})
    case(op, 'constant_plane', {'input': torch.full((1, 2, 2, 2), -1.5), 'weight': None, 'bias': randn(2), 'eps': 1e-5})


# ---------------------------------------------------------------- cases: linear algebra

def gen_linalg():
    op = 'linear'
    seed(op)
    case(op, 'bias', {'input': randn(4, 5), 'weight': randn(3, 5), 'bias': randn(3)})
    case(op, 'no_bias', {'input': randn(4, 5), 'weight': randn(3, 5), 'bias': None})
    case(op, 'batched_3d', {'input': randn(2, 3, 6), 'weight': randn(4, 6), 'bias': randn(4)})
    case(op, 'input_1d', {'input': randn(5), 'weight': randn(3, 5), 'bias': randn(3)})
    case(op, 'long_k', {'input': randn(3, 300), 'weight': randn(2, 300), 'bias': randn(2)})
    for tag, dt in HALF:
        case(op, tag, {'input': randn(3, 32, dtype=dt), 'weight': randn(8, 32, dtype=dt), 'bias': randn(8, dtype=dt)})

    op = 'matmul'
    seed(op)
    case(op, 'mm_2d', {'input': randn(3, 4), 'other': randn(4, 5)})
    case(op, 'dot_1d_1d', {'input': randn(6), 'other': randn(6)})
    case(op, 'vec_mat_1d_2d', {'input': randn(4), 'other': randn(4, 3)})
    case(op, 'mat_vec_2d_1d', {'input': randn(3, 4), 'other': randn(4)})
    case(op, 'batched_3d', {'input': randn(2, 3, 4), 'other': randn(2, 4, 5)})
    case(op, 'broadcast_batch', {'input': randn(2, 1, 3, 4), 'other': randn(3, 4, 2)})
    case(op, 'batched_2d_other', {'input': randn(2, 3, 4), 'other': randn(4, 2)})
    case(op, 'batched_1d_other', {'input': randn(2, 3, 4), 'other': randn(4)})
    case(op, 'vec_batched_1d_3d', {'input': randn(4), 'other': randn(2, 4, 3)})
    case(op, 'long_k', {'input': randn(2, 512), 'other': randn(512, 3)})
    case(op, 'int64', {'input': randint(-5, 5, 2, 3), 'other': randint(-5, 5, 3, 2)}, exact=True)
    for tag, dt in HALF:
        case(op, tag, {'input': randn(2, 4, 16, dtype=dt), 'other': randn(16, 8, dtype=dt)})

    op = 'transposed_matmul'
    seed(op)
    tm = lambda a, b, ta, tb: {'input': a, 'other': b, 'transpose_input': ta, 'transpose_other': tb}
    case(op, 'input_transposed', tm(randn(4, 3), randn(4, 5), True, False))
    case(op, 'other_transposed', tm(randn(3, 4), randn(5, 4), False, True))
    case(op, 'both_batched', tm(randn(2, 4, 3), randn(2, 5, 4), True, True))
    case(op, 'batch_broadcast', tm(randn(2, 1, 4, 3), randn(3, 5, 4), True, True))
    case(op, 'neither_broadcast', tm(randn(2, 1, 3, 4), randn(3, 4, 2), False, False))
    case(op, 'fp16', tm(randn(16, 4, dtype=torch.float16), randn(16, 8, dtype=torch.float16), True, False))

    op = 'einsum'
    seed(op)
    eqs = [
        ('matmul', 'ij,jk->ik', [(3, 4), (4, 5)]),
        ('batched_matmul', 'bij,bjk->bik', [(2, 3, 4), (2, 4, 2)]),
        ('attention_scores', 'bhqd,bhkd->bhqk', [(1, 2, 3, 4), (1, 2, 5, 4)]),
        ('transpose', 'ij->ji', [(2, 3)]),
        ('diagonal', 'ii->i', [(4, 4)]),
        ('trace', 'ii->', [(3, 3)]),
        ('dot', 'i,i->', [(5,), (5,)]),
        ('outer', 'i,j->ij', [(3,), (4,)]),
        ('sum_all', 'ij->', [(3, 4)]),
        ('row_sum', 'ij->i', [(3, 4)]),
        ('implicit_output', 'ij,jk', [(2, 3), (3, 2)]),
        ('implicit_sorted_output', 'ba', [(2, 3)]),
        ('ellipsis_broadcast', '...ij,...jk->...ik', [(2, 1, 2, 3), (4, 3, 2)]),
        ('three_operands', 'bn,anm,bm->ba', [(2, 3), (4, 3, 5), (2, 5)]),
        ('elementwise_product', 'ij,ij->ij', [(2, 3), (2, 3)]),
        ('repeated_index_broadcast', 'bij,j->bi', [(2, 3, 4), (4,)]),
        ('spaces', 'ij, jk -> ik', [(2, 3), (3, 4)]),
    ]
    for name, eq, shapes in eqs:
        case(op, name, {'equation': eq, 'operands': [randn(*s) for s in shapes]})
    case(op, 'fp16_matmul', {'equation': 'ij,jk->ik', 'operands': [randn(3, 8, dtype=torch.float16), randn(8, 2, dtype=torch.float16)]})

    op = 'scaled_dot_product_attention'
    seed(op)
    q, k, v = randn(2, 2, 4, 8), randn(2, 2, 6, 8), randn(2, 2, 6, 5)
    base = lambda **kw: dict({'query': q, 'key': k, 'value': v, 'attn_mask': None, 'dropout_p': 0.0, 'is_causal': False, 'scale': None}, **kw)
    case(op, 'plain', base())
    case(op, 'custom_scale', base(scale=0.2))
    case(op, 'bool_mask_broadcast', base(attn_mask=tensor([[j <= i + 1 for j in range(6)] for i in range(4)], torch.bool)))
    case(op, 'float_mask', base(attn_mask=randn(2, 1, 4, 6)))
    case(op, 'float_mask_neg_inf', base(attn_mask=tensor([[0.0, -INF, 0.5, 0.0, -INF, 1.0]] * 4)))
    qs = randn(1, 2, 5, 4)
    case(op, 'causal_square', {'query': qs, 'key': randn(1, 2, 5, 4), 'value': randn(1, 2, 5, 3), 'attn_mask': None,
                               'dropout_p': 0.0, 'is_causal': True, 'scale': None})
    case(op, 'causal_short_query', {'query': randn(1, 1, 3, 4), 'key': randn(1, 1, 5, 4), 'value': randn(1, 1, 5, 4),
                                    'attn_mask': None, 'dropout_p': 0.0, 'is_causal': True, 'scale': None})
    case(op, 'three_dim', {'query': randn(2, 3, 4), 'key': randn(2, 5, 4), 'value': randn(2, 5, 4), 'attn_mask': None,
                           'dropout_p': 0.0, 'is_causal': False, 'scale': None})
    case(op, 'large_logits', {'query': randn(1, 1, 2, 4, scale=30), 'key': randn(1, 1, 3, 4, scale=30), 'value': randn(1, 1, 3, 2),
                              'attn_mask': None, 'dropout_p': 0.0, 'is_causal': False, 'scale': None})
    for tag, dt in HALF:
        case(op, tag, {'query': randn(1, 2, 3, 8, dtype=dt), 'key': randn(1, 2, 4, 8, dtype=dt), 'value': randn(1, 2, 4, 8, dtype=dt),
                       'attn_mask': None, 'dropout_p': 0.0, 'is_causal': False, 'scale': None})


# ---------------------------------------------------------------- cases: convolution

def conv_case(op, name, n, x_shape, w_shape, bias, stride, padding, dilation, groups, dtype=torch.float32):
    w = randn(*w_shape, scale=0.5)
    cout = w_shape[0]
    case(op, name, {'input': randn(*x_shape).to(dtype), 'weight': w.to(dtype), 'bias': randn(cout).to(dtype) if bias else None,
                    'stride': [stride] * n if isinstance(stride, int) else stride,
                    'padding': [padding] * n if isinstance(padding, int) else padding,
                    'dilation': [dilation] * n if isinstance(dilation, int) else dilation, 'groups': groups})


def convt_case(op, name, n, x_shape, w_shape, bias, stride, padding, output_padding, groups, dilation, dtype=torch.float32):
    w = randn(*w_shape, scale=0.5)
    cout = w_shape[1] * groups
    as_list = lambda v: [v] * n if isinstance(v, int) else v
    case(op, name, {'input': randn(*x_shape).to(dtype), 'weight': w.to(dtype), 'bias': randn(cout).to(dtype) if bias else None,
                    'stride': as_list(stride), 'padding': as_list(padding), 'output_padding': as_list(output_padding),
                    'groups': groups, 'dilation': as_list(dilation)})


def gen_conv():
    op = 'conv1d'
    seed(op)
    conv_case(op, 'basic', 1, (2, 3, 8), (4, 3, 3), True, 1, 0, 1, 1)
    conv_case(op, 'stride2_padding1', 1, (1, 2, 9), (3, 2, 3), True, 2, 1, 1, 1)
    conv_case(op, 'dilation2', 1, (1, 2, 10), (2, 2, 3), False, 1, 2, 2, 1)
    conv_case(op, 'groups2', 1, (2, 4, 7), (6, 2, 3), True, 1, 1, 1, 2)
    conv_case(op, 'depthwise', 1, (1, 3, 6), (3, 1, 2), True, 1, 0, 1, 3)
    conv_case(op, 'kernel1', 1, (1, 5, 4), (2, 5, 1), False, 1, 0, 1, 1)

    op = 'conv2d'
    seed(op)
    conv_case(op, 'basic', 2, (2, 3, 5, 5), (4, 3, 3, 3), True, 1, 0, 1, 1)
    conv_case(op, 'stride2_padding1', 2, (1, 3, 7, 7), (2, 3, 3, 3), True, 2, 1, 1, 1)
    conv_case(op, 'asymmetric_stride_padding', 2, (1, 2, 6, 7), (3, 2, 3, 2), True, [2, 1], [1, 0], 1, 1)
    conv_case(op, 'groups2_dilation2', 2, (1, 4, 7, 7), (4, 2, 3, 3), True, 1, 2, 2, 2)
    conv_case(op, 'asymmetric_dilation', 2, (1, 2, 8, 8), (2, 2, 3, 3), False, 1, [1, 2], [1, 3], 1)
    conv_case(op, 'depthwise', 2, (2, 3, 5, 5), (3, 1, 3, 3), True, 1, 1, 1, 3)
    conv_case(op, 'depthwise_multiplier2', 2, (1, 2, 4, 4), (4, 1, 3, 3), False, 2, 1, 1, 2)
    conv_case(op, 'no_bias_1x1', 2, (2, 8, 3, 3), (4, 8, 1, 1), False, 1, 0, 1, 1)
    conv_case(op, 'non_square_kernel_stride3', 2, (1, 1, 9, 10), (2, 1, 2, 4), True, 3, 0, 1, 1)
    conv_case(op, 'kernel_larger_than_padded_stride', 2, (1, 2, 4, 4), (1, 2, 4, 4), True, 2, 1, 1, 1)
    conv_case(op, 'padding_larger_than_kernel', 2, (1, 2, 3, 3), (2, 2, 2, 2), True, 2, 3, 1, 1)
    conv_case(op, 'long_reduction', 2, (1, 32, 4, 4), (4, 32, 3, 3), True, 1, 1, 1, 1)
    for tag, dt in HALF:
        conv_case(op, tag, 2, (1, 4, 5, 5), (4, 4, 3, 3), True, 1, 1, 1, 1, dtype=dt)

    op = 'conv3d'
    seed(op)
    conv_case(op, 'basic', 3, (1, 2, 4, 4, 4), (3, 2, 2, 2, 2), True, 1, 0, 1, 1)
    conv_case(op, 'stride_padding', 3, (1, 2, 5, 4, 6), (2, 2, 3, 3, 3), True, [2, 1, 2], [1, 1, 0], 1, 1)
    conv_case(op, 'groups2_dilation', 3, (1, 4, 5, 5, 5), (2, 2, 2, 2, 2), False, 1, 1, [2, 1, 2], 2)

    op = 'conv_transpose1d'
    seed(op)
    convt_case(op, 'basic', 1, (1, 3, 5), (3, 2, 3), True, 1, 0, 0, 1, 1)
    convt_case(op, 'stride2_output_padding1', 1, (2, 2, 4), (2, 3, 3), True, 2, 1, 1, 1, 1)
    convt_case(op, 'groups2_dilation2', 1, (1, 4, 5), (4, 1, 3), False, 1, 2, 0, 2, 2)

    op = 'conv_transpose2d'
    seed(op)
    convt_case(op, 'basic', 2, (1, 3, 3, 3), (3, 2, 3, 3), True, 1, 0, 0, 1, 1)
    convt_case(op, 'stride2_padding1_output_padding1', 2, (2, 4, 3, 4), (4, 2, 3, 3), True, 2, 1, 1, 1, 1)
    convt_case(op, 'centernet_upsample_k4s2p1', 2, (1, 4, 3, 3), (4, 2, 4, 4), False, 2, 1, 0, 1, 1)
    convt_case(op, 'groups2', 2, (1, 4, 3, 3), (4, 3, 3, 3), True, 2, 0, 1, 2, 1)
    convt_case(op, 'dilation2_padding2', 2, (1, 2, 4, 4), (2, 2, 3, 3), True, 1, 2, 0, 1, 2)
    convt_case(op, 'asymmetric', 2, (1, 2, 3, 4), (2, 3, 2, 3), True, [3, 2], [0, 1], [2, 1], 1, [1, 2])
    convt_case(op, 'depthwise', 2, (1, 3, 3, 3), (3, 1, 3, 3), False, 2, 1, 1, 3, 1)
    for tag, dt in HALF:
        convt_case(op, tag, 2, (1, 4, 3, 3), (4, 4, 3, 3), True, 2, 1, 1, 1, 1, dtype=dt)

    op = 'conv_transpose3d'
    seed(op)
    convt_case(op, 'basic', 3, (1, 2, 2, 3, 2), (2, 2, 2, 2, 2), True, 1, 0, 0, 1, 1)
    convt_case(op, 'stride2_output_padding', 3, (1, 2, 2, 2, 2), (2, 2, 3, 3, 3), True, 2, 1, [1, 0, 1], 1, 1)
    convt_case(op, 'groups2_dilation2', 3, (1, 4, 2, 2, 2), (4, 1, 2, 2, 2), False, 1, 0, 0, 2, 2)


# ---------------------------------------------------------------- cases: pooling

def gen_pool():
    ones = lambda n, v: [v] * n
    for n, op in ((1, 'max_pool1d'), (2, 'max_pool2d'), (3, 'max_pool3d')):
        seed(op)
        sp = {1: (9,), 2: (7, 7), 3: (5, 5, 5)}[n]
        x = randn(1, 2, *sp)
        kw = lambda k, s, p, d, c, inp=x: {'input': inp, 'kernel_size': ones(n, k) if isinstance(k, int) else k,
                                           'stride': ones(n, s) if isinstance(s, int) else s,
                                           'padding': ones(n, p) if isinstance(p, int) else p,
                                           'dilation': ones(n, d) if isinstance(d, int) else d, 'ceil_mode': c}
        case(op, 'k2_s2', kw(2, 2, 0, 1, False), exact=True)
        case(op, 'k3_s2_p1', kw(3, 2, 1, 1, False), exact=True)
        case(op, 'ceil_mode', kw(2, 2, 0, 1, True), exact=True)
        case(op, 'ceil_mode_padding_drops_last_window', kw(2, 2, 1, 1, True, randn(1, 1, *([5] * n))), exact=True)
        case(op, 'dilation2', kw(2, 1, 1, 2, False), exact=True)
        case(op, 'stride1_overlap', kw(3, 1, 0, 1, False), exact=True)
        case(op, 'ceil_mode_stride3', kw(2, 3, 1, 1, True), exact=True)
        case(op, 'padding_all_negative', kw(3, 2, 1, 1, False, -rand(1, 2, *sp, lo=1, hi=2)), exact=True)
    op = 'max_pool2d'
    case(op, 'asymmetric', {'input': randn(2, 1, 6, 7), 'kernel_size': [3, 2], 'stride': [2, 3], 'padding': [1, 0],
                            'dilation': [1, 2], 'ceil_mode': True}, exact=True)
    nan_x = randn(1, 1, 4, 4)
    nan_x[0, 0, 1, 1] = NAN
    case(op, 'nan_propagates', {'input': nan_x, 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1],
                                'ceil_mode': False}, exact=True)
    for tag, dt in HALF:
        case(op, tag, {'input': randn(1, 2, 5, 5, dtype=dt), 'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                       'dilation': [1, 1], 'ceil_mode': False}, exact=True)
    case(op, 'input_3d_unbatched', {'input': randn(2, 5, 5), 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0],
                                    'dilation': [1, 1], 'ceil_mode': True}, exact=True)

    for n, op in ((1, 'avg_pool1d'), (2, 'avg_pool2d'), (3, 'avg_pool3d')):
        seed(op)
        sp = {1: (9,), 2: (7, 7), 3: (5, 5, 5)}[n]
        x = randn(1, 2, *sp)
        kw = lambda k, s, p, c, cip, div, inp=x: {'input': inp, 'kernel_size': ones(n, k), 'stride': ones(n, s),
                                                  'padding': ones(n, p), 'ceil_mode': c, 'count_include_pad': cip,
                                                  'divisor_override': div}
        case(op, 'k2_s2', kw(2, 2, 0, False, True, None))
        case(op, 'k3_s2_p1_include_pad', kw(3, 2, 1, False, True, None))
        case(op, 'k3_s2_p1_exclude_pad', kw(3, 2, 1, False, False, None))
        case(op, 'ceil_mode', kw(2, 2, 0, True, True, None))
        case(op, 'ceil_mode_padding_include_pad', kw(3, 2, 1, True, True, None, randn(1, 1, *([6] * n))))
        case(op, 'ceil_mode_padding_exclude_pad', kw(3, 2, 1, True, False, None, randn(1, 1, *([6] * n))))
        case(op, 'ceil_mode_drops_last_window', kw(2, 2, 1, True, True, None, randn(1, 1, *([5] * n))))
        case(op, 'stride1_overlap', kw(3, 1, 0, False, True, None))
        case(op, 'divisor_override', kw(3, 2, 1, False, True, 2))
        case(op, 'divisor_override_ceil_exclude_pad', kw(2, 2, 1, True, False, 3))
    op = 'avg_pool2d'
    case(op, 'asymmetric', {'input': randn(2, 1, 6, 7), 'kernel_size': [3, 2], 'stride': [2, 3], 'padding': [1, 0],
                            'ceil_mode': True, 'count_include_pad': False, 'divisor_override': None})
    for tag, dt in HALF:
        case(op, tag, {'input': randn(1, 2, 5, 5, dtype=dt), 'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1],
                       'ceil_mode': False, 'count_include_pad': True, 'divisor_override': None})

    for n, op in ((1, 'adaptive_avg_pool1d'), (2, 'adaptive_avg_pool2d'), (3, 'adaptive_avg_pool3d'), (2, 'adaptive_max_pool2d')):
        seed(op)
        exact = op.startswith('adaptive_max')
        sp = {1: (7,), 2: (7, 5), 3: (5, 4, 6)}[n]
        x = randn(2, 2, *sp)
        case(op, 'global', {'input': x, 'output_size': ones(n, 1)}, exact=exact)
        case(op, 'non_divisible', {'input': x, 'output_size': {1: [3], 2: [3, 4], 3: [2, 3, 4]}[n]}, exact=exact)
        case(op, 'divisible', {'input': randn(1, 2, *([6] * n)), 'output_size': ones(n, 3)}, exact=exact)
        case(op, 'upsampling', {'input': randn(1, 1, *([3] * n)), 'output_size': ones(n, 5)}, exact=exact)
        case(op, 'identity_size', {'input': x, 'output_size': list(sp)}, exact=exact)
        if n == 2:
            case(op, 'input_3d_unbatched', {'input': randn(2, 5, 7), 'output_size': [2, 3]}, exact=exact)
            case(op, 'fp16', {'input': randn(1, 2, 5, 5, dtype=torch.float16), 'output_size': [2, 3]}, exact=exact)
    nan_x = randn(1, 1, 4, 4)
    nan_x[0, 0, 0, 1] = NAN
    case('adaptive_max_pool2d', 'nan_propagates', {'input': nan_x, 'output_size': [2, 2]}, exact=True)


# ---------------------------------------------------------------- cases: pad and interpolate

def gen_pad_interpolate():
    op = 'pad'
    seed(op)
    x3, x4, x5 = randn(1, 2, 5), randn(1, 2, 4, 5), randn(1, 1, 3, 4, 3)
    case(op, 'constant_last_dim', {'input': x3, 'pad': [1, 2], 'mode': 'constant', 'value': 0.0}, exact=True)
    case(op, 'constant_value', {'input': x4, 'pad': [1, 0, 2, 1], 'mode': 'constant', 'value': -1.5}, exact=True)
    case(op, 'constant_all_dims', {'input': randn(2, 3), 'pad': [1, 1, 2, 0], 'mode': 'constant', 'value': 0.0}, exact=True)
    case(op, 'constant_batch_dim', {'input': x3, 'pad': [0, 0, 0, 0, 1, 1], 'mode': 'constant', 'value': 2.0}, exact=True)
    case(op, 'constant_negative_crop', {'input': x4, 'pad': [-1, 2, 0, -2], 'mode': 'constant', 'value': 0.0}, exact=True)
    case(op, 'constant_int32', {'input': randint(-5, 5, 2, 3, dtype=torch.int32), 'pad': [1, 1], 'mode': 'constant', 'value': 7}, exact=True)
    case(op, 'constant_neg_inf', {'input': x3, 'pad': [1, 1], 'mode': 'constant', 'value': -INF}, exact=True)
    case(op, 'constant_fp16', {'input': x4.half(), 'pad': [1, 1, 1, 1], 'mode': 'constant', 'value': 0.5}, exact=True)
    case(op, 'constant_bool', {'input': tensor([[True, False]], torch.bool), 'pad': [1, 0], 'mode': 'constant', 'value': 1}, exact=True)
    for mode in ('reflect', 'replicate', 'circular'):
        case(op, mode + '_1d', {'input': x3, 'pad': [2, 3], 'mode': mode, 'value': 0.0}, exact=True)
        case(op, mode + '_2d', {'input': x4, 'pad': [1, 2, 3, 0], 'mode': mode, 'value': 0.0}, exact=True)
        case(op, mode + '_3d', {'input': x5, 'pad': [1, 0, 2, 1, 0, 2], 'mode': mode, 'value': 0.0}, exact=True)
        try_case(op, mode + '_negative', {'input': x4, 'pad': [-1, 2, 1, -1], 'mode': mode, 'value': 0.0}, exact=True)
        try_case(op, mode + '_2d_unbatched', {'input': randn(2, 4, 5), 'pad': [1, 1, 2, 2], 'mode': mode, 'value': 0.0}, exact=True)
    try_case(op, 'reflect_1d_unbatched', {'input': randn(3, 5), 'pad': [2, 1], 'mode': 'reflect', 'value': 0.0}, exact=True)
    case(op, 'reflect_max_amount', {'input': x3, 'pad': [4, 4], 'mode': 'reflect', 'value': 0.0}, exact=True)
    case(op, 'replicate_fp16', {'input': x4.bfloat16(), 'pad': [2, 2, 1, 1], 'mode': 'replicate', 'value': 0.0}, exact=True)

    op = 'interpolate'
    seed(op)
    x3, x4, x5 = randn(1, 2, 5), randn(1, 2, 3, 4), randn(1, 1, 2, 3, 3)
    kw = lambda inp, size=None, sf=None, mode='nearest', ac=None: {'input': inp, 'size': size, 'scale_factor': sf,
                                                                   'mode': mode, 'align_corners': ac}
    for mode in ('nearest', 'nearest-exact'):
        tag = mode.replace('-', '_')
        case(op, tag + '_1d_size', kw(x3, size=[8], mode=mode), exact=True)
        case(op, tag + '_2d_scale2', kw(x4, sf=[2.0, 2.0], mode=mode), exact=True)
        case(op, tag + '_2d_size_down', kw(randn(1, 1, 7, 9), size=[3, 4], mode=mode), exact=True)
        case(op, tag + '_2d_non_integer_scale', kw(x4, sf=[1.5, 1.7], mode=mode), exact=True)
        case(op, tag + '_2d_scale_down', kw(randn(1, 1, 7, 9), sf=[0.5, 0.6], mode=mode), exact=True)
        case(op, tag + '_3d_size', kw(x5, size=[3, 5, 4], mode=mode), exact=True)
    case(op, 'nearest_fp16', kw(x4.half(), sf=[2.0, 3.0]), exact=True)
    case(op, 'nearest_int64_not_float', kw(randn(1, 1, 2, 2), size=[3, 5]), exact=True)
    for ac in (False, True):
        t = 'ac_%s' % str(ac).lower()
        case(op, 'linear_size_' + t, kw(x3, size=[8], mode='linear', ac=ac))
        case(op, 'linear_down_' + t, kw(randn(1, 2, 9), size=[4], mode='linear', ac=ac))
        case(op, 'bilinear_scale2_' + t, kw(x4, sf=[2.0, 2.0], mode='bilinear', ac=ac))
        case(op, 'bilinear_size_' + t, kw(x4, size=[5, 7], mode='bilinear', ac=ac))
        case(op, 'bilinear_down_' + t, kw(randn(1, 1, 7, 9), size=[3, 4], mode='bilinear', ac=ac))
        case(op, 'bicubic_size_' + t, kw(x4, size=[6, 7], mode='bicubic', ac=ac))
        case(op, 'bicubic_down_' + t, kw(randn(1, 1, 7, 8), size=[4, 3], mode='bicubic', ac=ac))
        case(op, 'trilinear_size_' + t, kw(x5, size=[3, 5, 4], mode='trilinear', ac=ac))
        case(op, 'size_to_one_' + t, kw(x4, size=[1, 1], mode='bilinear', ac=ac))
    case(op, 'bilinear_non_integer_scale', kw(x4, sf=[1.5, 1.7], mode='bilinear', ac=False))
    case(op, 'bilinear_scale_down_non_integer', kw(randn(1, 1, 7, 9), sf=[0.5, 0.6], mode='bilinear', ac=False))
    case(op, 'bicubic_scale2', kw(x4, sf=[2.0, 2.0], mode='bicubic', ac=False))
    case(op, 'linear_scale_1p5', kw(x3, sf=[1.5], mode='linear', ac=False))
    case(op, 'trilinear_scale2', kw(x5, sf=[2.0, 2.0, 2.0], mode='trilinear', ac=False))
    case(op, 'bilinear_align_corners_null', kw(x4, size=[6, 8], mode='bilinear', ac=None))
    for tag, dt in HALF:
        case(op, 'bilinear_' + tag, kw(x4.to(dt), size=[5, 6], mode='bilinear', ac=False))


# ---------------------------------------------------------------- cases: shape ops

def gen_shape():
    ex = dict(exact=True)
    op = 'reshape'
    seed(op)
    x = randn(2, 3, 4)
    case(op, 'basic', {'input': x, 'shape': [6, 4]}, **ex)
    case(op, 'infer_minus_one', {'input': x, 'shape': [4, -1, 2]}, **ex)
    case(op, 'to_1d', {'input': x, 'shape': [-1]}, **ex)
    case(op, 'to_zero_dim', {'input': randn(1, 1), 'shape': []}, **ex)
    case(op, 'from_zero_dim', {'input': randn(), 'shape': [1, 1, 1]}, **ex)
    case(op, 'int64', {'input': randint(0, 9, 2, 6), 'shape': [3, 2, 2]}, **ex)
    case(op, 'empty', {'input': torch.zeros(0, 3), 'shape': [3, 0, 5]}, **ex)

    op = 'permute'
    seed(op)
    case(op, 'basic', {'input': x, 'permutation': [2, 0, 1]}, **ex)
    case(op, 'negative_dims', {'input': x, 'permutation': [-1, -3, -2]}, **ex)
    case(op, 'transpose_last_two', {'input': randn(2, 2, 3, 4), 'permutation': [0, 1, 3, 2]}, **ex)
    case(op, 'identity', {'input': x, 'permutation': [0, 1, 2]}, **ex)
    case(op, 'bf16', {'input': randn(3, 4, dtype=torch.bfloat16), 'permutation': [1, 0]}, **ex)
    case(op, 'bool', {'input': randint(0, 2, 2, 3).bool(), 'permutation': [1, 0]}, **ex)

    op = 'flatten'
    seed(op)
    y = randn(2, 3, 2, 2)
    case(op, 'all', {'input': y, 'start_dim': 0, 'end_dim': -1}, **ex)
    case(op, 'from1', {'input': y, 'start_dim': 1, 'end_dim': -1}, **ex)
    case(op, 'middle', {'input': y, 'start_dim': 1, 'end_dim': 2}, **ex)
    case(op, 'negative_start', {'input': y, 'start_dim': -2, 'end_dim': -1}, **ex)
    case(op, 'single_dim', {'input': y, 'start_dim': 2, 'end_dim': 2}, **ex)
    case(op, 'zero_dim', {'input': randn(), 'start_dim': 0, 'end_dim': -1}, **ex)

    op = 'squeeze'
    seed(op)
    z = randn(1, 3, 1, 2)
    case(op, 'all', {'input': z, 'dim': None}, **ex)
    case(op, 'dim0', {'input': z, 'dim': 0}, **ex)
    case(op, 'negative_dim', {'input': z, 'dim': -2}, **ex)
    case(op, 'non_size1_dim_noop', {'input': z, 'dim': 1}, **ex)
    case(op, 'all_ones_to_zero_dim', {'input': randn(1, 1), 'dim': None}, **ex)

    op = 'unsqueeze'
    seed(op)
    case(op, 'dim0', {'input': randn(2, 3), 'dim': 0}, **ex)
    case(op, 'last_positive', {'input': randn(2, 3), 'dim': 2}, **ex)
    case(op, 'negative_last', {'input': randn(2, 3), 'dim': -1}, **ex)
    case(op, 'negative_first', {'input': randn(2, 3), 'dim': -3}, **ex)
    case(op, 'zero_dim', {'input': randn(), 'dim': 0}, **ex)

    op = 'expand'
    seed(op)
    case(op, 'size1_dims', {'input': randn(3, 1), 'sizes': [3, 4]}, **ex)
    case(op, 'minus_one_keeps', {'input': randn(2, 1, 3), 'sizes': [-1, 4, -1]}, **ex)
    case(op, 'new_leading_dims', {'input': randn(1, 3), 'sizes': [2, 2, 3]}, **ex)
    case(op, 'zero_dim', {'input': randn(), 'sizes': [2, 3]}, **ex)
    case(op, 'int32', {'input': randint(0, 9, 1, 2, dtype=torch.int32), 'sizes': [3, -1]}, **ex)

    op = 'tile'
    seed(op)
    case(op, 'same_rank', {'input': randn(2, 3), 'dims': [2, 1]}, **ex)
    case(op, 'fewer_dims_prepends_ones', {'input': randn(2, 3), 'dims': [3]}, **ex)
    case(op, 'more_dims', {'input': randn(2, 3), 'dims': [2, 1, 2]}, **ex)
    case(op, 'ones', {'input': randn(2, 3), 'dims': [1, 1]}, **ex)
    case(op, 'int64', {'input': randint(0, 9, 3), 'dims': [2, 2]}, **ex)

    op = 'cat'
    seed(op)
    case(op, 'dim0', {'tensors': [randn(2, 3), randn(1, 3)], 'dim': 0}, **ex)
    case(op, 'dim1_three', {'tensors': [randn(2, 1), randn(2, 3), randn(2, 2)], 'dim': 1}, **ex)
    case(op, 'negative_dim', {'tensors': [randn(2, 2, 3), randn(2, 2, 1)], 'dim': -1}, **ex)
    case(op, 'single', {'tensors': [randn(2, 3)], 'dim': 0}, **ex)
    case(op, 'empty_part', {'tensors': [randn(2, 3), torch.zeros(0, 3)], 'dim': 0}, **ex)
    case(op, 'int32', {'tensors': [randint(0, 9, 2, dtype=torch.int32), randint(0, 9, 3, dtype=torch.int32)], 'dim': 0}, **ex)
    case(op, 'fp16', {'tensors': [randn(1, 2, dtype=torch.float16), randn(1, 2, dtype=torch.float16)], 'dim': 0}, **ex)

    op = 'stack'
    seed(op)
    case(op, 'dim0', {'tensors': [randn(2, 3), randn(2, 3)], 'dim': 0}, **ex)
    case(op, 'dim_last', {'tensors': [randn(2, 3), randn(2, 3), randn(2, 3)], 'dim': 2}, **ex)
    case(op, 'negative_dim', {'tensors': [randn(2, 3), randn(2, 3)], 'dim': -2}, **ex)
    case(op, 'zero_dim_inputs', {'tensors': [randn(), randn()], 'dim': 0}, **ex)
    case(op, 'bool', {'tensors': [tensor([True, False], torch.bool), tensor([False, False], torch.bool)], 'dim': 1}, **ex)

    op = 'split'
    seed(op)
    case(op, 'size_with_remainder', {'input': randn(7, 2), 'split_size_or_sections': 3, 'dim': 0}, **ex)
    case(op, 'sections', {'input': randn(2, 6), 'split_size_or_sections': [1, 3, 2], 'dim': 1}, **ex)
    case(op, 'negative_dim', {'input': randn(2, 3, 4), 'split_size_or_sections': 2, 'dim': -1}, **ex)
    case(op, 'size_larger_than_dim', {'input': randn(3, 2), 'split_size_or_sections': 5, 'dim': 0}, **ex)
    case(op, 'zero_section', {'input': randn(4), 'split_size_or_sections': [2, 0, 2], 'dim': 0}, **ex)

    op = 'chunk'
    seed(op)
    case(op, 'even', {'input': randn(6, 2), 'chunks': 3, 'dim': 0}, **ex)
    case(op, 'uneven', {'input': randn(5, 2), 'chunks': 3, 'dim': 0}, **ex)
    case(op, 'fewer_than_requested', {'input': randn(2, 6), 'chunks': 4, 'dim': 1}, **ex)
    case(op, 'more_than_size', {'input': randn(2, 3), 'chunks': 5, 'dim': -1}, **ex)
    case(op, 'negative_dim', {'input': randn(2, 4, 3), 'chunks': 2, 'dim': -2}, **ex)

    op = 'slice'
    seed(op)
    s = randn(4, 6)
    case(op, 'basic', {'input': s, 'dim': 1, 'start': 1, 'end': 4, 'step': 1}, **ex)
    case(op, 'step2', {'input': s, 'dim': 1, 'start': 0, 'end': 6, 'step': 2}, **ex)
    case(op, 'negative_bounds', {'input': s, 'dim': 1, 'start': -4, 'end': -1, 'step': 1}, **ex)
    case(op, 'out_of_range_clamps', {'input': s, 'dim': 0, 'start': -10, 'end': 100, 'step': 1}, **ex)
    case(op, 'null_bounds', {'input': s, 'dim': -1, 'start': None, 'end': None, 'step': 3}, **ex)
    case(op, 'start_after_end_empty', {'input': s, 'dim': 0, 'start': 3, 'end': 1, 'step': 1}, **ex)
    case(op, 'start_past_end_of_dim', {'input': s, 'dim': 0, 'start': 7, 'end': None, 'step': 1}, **ex)
    case(op, 'step_not_dividing', {'input': s, 'dim': 1, 'start': 1, 'end': None, 'step': 4}, **ex)
    case(op, 'middle_dim', {'input': randn(2, 5, 3), 'dim': 1, 'start': 1, 'end': -1, 'step': 2}, **ex)

    op = 'size'
    case(op, 'all', {'input': randn(2, 3, 4), 'dim': None}, **ex)
    case(op, 'dim', {'input': randn(2, 3, 4), 'dim': 1}, **ex)
    case(op, 'negative_dim', {'input': randn(2, 3, 4), 'dim': -1}, **ex)
    case(op, 'zero_dim_tensor', {'input': randn(), 'dim': None}, **ex)

    op = 'getitem'
    seed(op)
    parts = [randn(2), randn(3)]
    case(op, 'tuple_of_tensors', {'input': parts, 'index': 1}, fn=lambda input, index: input[index], **ex)
    case(op, 'negative_index', {'input': parts, 'index': -2}, fn=lambda input, index: input[index], **ex)
    case(op, 'shape_tuple', {'input': [2, 3, 4], 'index': -1}, **ex)


# ---------------------------------------------------------------- cases: indexing

def gen_index():
    ex = dict(exact=True)
    op = 'index_select'
    seed(op)
    x = randn(4, 5)
    case(op, 'dim0', {'input': x, 'dim': 0, 'index': tensor([3, 0, 3], torch.int64)}, **ex)
    case(op, 'dim1_negative', {'input': x, 'dim': -1, 'index': tensor([4, 1], torch.int64)}, **ex)
    case(op, 'int32_index', {'input': randn(2, 3, 4), 'dim': 1, 'index': tensor([2, 2, 0, 1], torch.int32)}, **ex)
    case(op, 'empty_index', {'input': x, 'dim': 0, 'index': torch.zeros(0, dtype=torch.int64)}, **ex)
    case(op, 'int64_input', {'input': randint(0, 99, 3, 3), 'dim': 0, 'index': tensor([1], torch.int64)}, **ex)

    op = 'gather'
    seed(op)
    case(op, 'dim1', {'input': x, 'dim': 1, 'index': tensor([[0, 4], [1, 1], [3, 2], [0, 0]], torch.int64)}, **ex)
    case(op, 'dim0_smaller_index', {'input': x, 'dim': 0, 'index': tensor([[3, 0, 1], [2, 2, 2]], torch.int64)}, **ex)
    case(op, 'negative_dim_3d', {'input': randn(2, 3, 4), 'dim': -1, 'index': randint(0, 4, 2, 2, 6)}, **ex)
    case(op, 'fp16', {'input': randn(3, 3, dtype=torch.float16), 'dim': 1, 'index': tensor([[2], [0], [1]], torch.int64)}, **ex)

    op = 'embedding'
    seed(op)
    w = randn(10, 4)
    case(op, 'indices_1d', {'input': tensor([1, 0, 9, 1], torch.int64), 'weight': w, 'padding_idx': None}, **ex)
    case(op, 'indices_2d', {'input': randint(0, 10, 2, 3), 'weight': w, 'padding_idx': None}, **ex)
    case(op, 'padding_idx', {'input': tensor([[0, 2], [2, 5]], torch.int64), 'weight': w, 'padding_idx': 2}, **ex)
    case(op, 'negative_padding_idx', {'input': tensor([9, 3], torch.int64), 'weight': w, 'padding_idx': -1}, **ex)
    case(op, 'int32_indices', {'input': tensor([3, 3, 7], torch.int32), 'weight': w, 'padding_idx': None}, **ex)
    case(op, 'zero_dim_index', {'input': tensor(4, torch.int64), 'weight': w, 'padding_idx': None}, **ex)
    case(op, 'fp16_weight', {'input': tensor([1, 2], torch.int64), 'weight': randn(3, 5, dtype=torch.float16), 'padding_idx': None}, **ex)


# ---------------------------------------------------------------- cases: quantization

def f32(v):
    return struct.unpack('<f', struct.pack('<f', v))[0]


def away_from_ties(shape, scale, lo_q, hi_q):
    """Values q*scale with frac(q) in [0.1, 0.4] or [0.6, 0.9]: x / scale and x * (1 / scale)
    round the same way in float32 and float64 alike, so the golden does not depend on how a
    kernel divides."""
    base = randint(lo_q, hi_q, *shape).double()
    frac = rand(*shape, lo=0.1, hi=0.4, dtype=torch.float64)
    flip = randint(0, 2, *shape).bool()
    frac = torch.where(flip, 1.0 - frac, frac)
    return ((base + frac) * scale).float()


def gen_quant():
    op = 'quantize_per_tensor'
    seed(op)
    ties = tensor([0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 0.0, -0.0, 63.25, 63.75, 64.25, -64.25, -64.75, 100.0, -100.0, 1e6, -1e6])
    case(op, 'int8_ties_to_even_saturate', {'input': ties, 'scale': 0.5, 'zero_point': 0, 'dtype': 'int8'}, exact=True)
    case(op, 'uint8_ties_zero_point128', {'input': ties, 'scale': 0.5, 'zero_point': 128, 'dtype': 'uint8'}, exact=True)
    case(op, 'uint8_zero_point0_negative_saturates', {'input': tensor([-1.0, -0.25, 0.25, 0.75, 200.0, 1000.0]), 'scale': 1.0,
                                                     'zero_point': 0, 'dtype': 'uint8'}, exact=True)
    case(op, 'int8_asymmetric_zero_point', {'input': tensor([0.5, 1.5, -2.5, 3.5, 70.0, -70.0]), 'scale': 1.0, 'zero_point': -3,
                                            'dtype': 'int8'}, exact=True)
    s = f32(0.05)
    case(op, 'int8_random', {'input': away_from_ties((3, 5), s, -140, 140), 'scale': s, 'zero_point': 0, 'dtype': 'int8'}, exact=True)
    s = f32(0.0123)
    case(op, 'uint8_random_asymmetric', {'input': away_from_ties((2, 2, 3), s, -40, 230), 'scale': s, 'zero_point': 17,
                                         'dtype': 'uint8'}, exact=True)
    case(op, 'int32', {'input': tensor([0.25, 0.75, -0.75, 1e9, -3.0]), 'scale': 0.5, 'zero_point': 3, 'dtype': 'int32'}, exact=True)

    op = 'quantize_per_channel'
    seed(op)
    scales = tensor([f32(0.1), 0.5, f32(0.02)])
    case(op, 'int8_axis0', {'input': torch.stack([away_from_ties((4,), float(sc), -150, 150)[0:4] for sc in scales]),
                            'scales': scales, 'zero_points': tensor([0, 0, 0], torch.int64), 'axis': 0, 'dtype': 'int8'}, exact=True)
    x = torch.stack([away_from_ties((2, 4), float(sc), -20, 270) for sc in scales], dim=1)
    case(op, 'uint8_axis1_zero_points', {'input': x, 'scales': scales, 'zero_points': tensor([0, 128, 20], torch.int64),
                                         'axis': 1, 'dtype': 'uint8'}, exact=True)
    case(op, 'int8_ties_axis_last', {'input': torch.stack([ties[:6], ties[6:12]], dim=1),
                                     'scales': tensor([0.5, 0.25]), 'zero_points': tensor([0, 1], torch.int64), 'axis': 1,
                                     'dtype': 'int8'}, exact=True)
    try_case(op, 'saturation_axis2', {'input': tensor([[[100.0, -100.0]], [[1000.0, -0.75]]]), 'scales': tensor([0.5, 1.0]),
                                      'zero_points': tensor([0, -1], torch.int64), 'axis': 2, 'dtype': 'int8'}, exact=True)

    op = 'dequantize'
    seed(op)
    q = torch.quantize_per_tensor(randn(3, 4), 0.05, 3, torch.qint8)
    case(op, 'per_tensor_int8', {'input': q})
    q = torch.quantize_per_tensor(rand(2, 5, lo=-1, hi=3), f32(0.0157), 64, torch.quint8)
    case(op, 'per_tensor_uint8', {'input': q})
    q = torch.quantize_per_tensor(tensor([-1000.0, 1000.0, 0.0]), 0.5, -2, torch.qint8)
    case(op, 'per_tensor_saturated', {'input': q})
    q = torch.quantize_per_channel(randn(3, 4), torch.tensor([0.1, 0.02, 0.5], dtype=torch.float64).float().double(),
                                   torch.tensor([0, 5, -3]), 0, torch.qint8)
    case(op, 'per_channel_axis0', {'input': q})
    q = torch.quantize_per_channel(rand(2, 3, 2, lo=0, hi=2), torch.tensor([0.01, 0.03, 0.02]).double(),
                                   torch.tensor([0, 10, 255]), 1, torch.quint8)
    case(op, 'per_channel_axis1_uint8', {'input': q})
    q = torch.quantize_per_tensor(tensor([1e5, -7.0]), 1.0, 0, torch.qint32)
    case(op, 'per_tensor_int32', {'input': q})


def gen_defaults():
    """Only the required arguments: the acc op's defaults must be PyTorch's (docs/ACC_OPS.md)."""
    G.manual_seed(7)
    x4 = randn(2, 3, 5, 5)
    calls = {
        'div': {'input': randn(3), 'other': rand(3, lo=1, hi=2)},
        'clamp': {'input': randn(6), 'min': -0.25},
        'leaky_relu': {'input': randn(6)}, 'elu': {'input': randn(6)}, 'gelu': {'input': randn(6)},
        'softplus': {'input': randn(6, scale=10)}, 'hardtanh': {'input': randn(6, scale=2)}, 'dropout': {'input': randn(6)},
        'sum': {'input': randn(2, 3)}, 'mean': {'input': randn(2, 3)}, 'prod': {'input': randn(2, 3)},
        'amax': {'input': randn(2, 3)}, 'amin': {'input': randn(2, 3)}, 'argmax': {'input': randn(2, 3)},
        'argmin': {'input': randn(2, 3)}, 'topk': {'input': randn(2, 5), 'k': 2},
        'batch_norm': {'input': x4, 'running_mean': randn(3), 'running_var': rand(3, lo=0.5, hi=1.5)},
        'layer_norm': {'input': randn(2, 6), 'normalized_shape': [6]},
        'group_norm': {'input': x4, 'num_groups': 3}, 'instance_norm': {'input': x4},
        'linear': {'input': randn(2, 4), 'weight': randn(3, 4)},
        'transposed_matmul': {'input': randn(2, 3), 'other': randn(3, 4)},
        'scaled_dot_product_attention': {'query': randn(1, 2, 3, 4), 'key': randn(1, 2, 5, 4), 'value': randn(1, 2, 5, 4)},
        'conv2d': {'input': x4, 'weight': randn(4, 3, 3, 3), 'stride': [1, 1], 'padding': [1, 1], 'dilation': [1, 1]},
        'conv_transpose2d': {'input': x4, 'weight': randn(3, 2, 2, 2), 'stride': [2, 2], 'padding': [0, 0],
                             'output_padding': [0, 0], 'dilation': [1, 1]},
        'max_pool2d': {'input': x4, 'kernel_size': [2, 2], 'stride': [2, 2], 'padding': [0, 0], 'dilation': [1, 1]},
        'avg_pool2d': {'input': x4, 'kernel_size': [3, 3], 'stride': [2, 2], 'padding': [1, 1]},
        'pad': {'input': x4, 'pad': [1, 2]},
        'interpolate': {'input': x4, 'size': [7, 8]},
        'flatten': {'input': x4}, 'squeeze': {'input': randn(1, 3, 1)},
        'cat': {'tensors': [randn(1, 2), randn(2, 2)]}, 'stack': {'tensors': [randn(2), randn(2)]},
        'split': {'input': randn(5, 2), 'split_size_or_sections': 2}, 'chunk': {'input': randn(5, 2), 'chunks': 2},
        'slice': {'input': randn(4, 3), 'start': 1}, 'size': {'input': x4},
        'embedding': {'input': tensor([2, 0], torch.int64), 'weight': randn(3, 2)},
    }
    for op, kw in calls.items():
        case(op, 'defaults', kw, exact=op in ('clamp', 'hardtanh', 'dropout', 'amax', 'amin', 'argmax', 'argmin', 'topk',
                                              'max_pool2d', 'pad', 'interpolate', 'flatten', 'squeeze', 'cat', 'stack',
                                              'split', 'chunk', 'slice', 'size', 'embedding'))


GENERATORS = [
    gen_binary_arith, gen_int_arith, gen_min_max, gen_compare_logical, gen_unary, gen_where_clamp_cast, gen_activations,
    gen_reductions, gen_norms, gen_linalg, gen_conv, gen_pool, gen_pad_interpolate, gen_shape, gen_index, gen_quant, gen_defaults,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='test/fixtures/acc_ops', help='directory for the JSON files')
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for gen in GENERATORS:
        gen()
    os.makedirs(args.out, exist_ok=True)
    stale = {f for f in os.listdir(args.out) if f.endswith('.json')} - {op + '.json' for op in FIXTURES}
    for f in sorted(stale):
        os.remove(os.path.join(args.out, f))
    total, cases = 0, 0
    for op in sorted(FIXTURES):
        text = FIXTURES[op].dumps()
        with open(os.path.join(args.out, op + '.json'), 'w') as fh:
            fh.write(text)
        total += len(text)
        cases += len(FIXTURES[op].cases)
    print('torch %s: %d ops, %d cases, %.1f KiB in %s' % (torch.__version__, len(FIXTURES), cases, total / 1024, args.out))
    for s in SKIPPED:
        print('skipped (unsupported by this torch): ' + s, file=sys.stderr)


if __name__ == '__main__':
    main()

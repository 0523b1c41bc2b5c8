#!/usr/bin/env python3
"""Golden float8 e4m3 conversions from PyTorch (float8_e4m3fn), for test/fp8.test.ts.

    python3 scripts/gen_fp8_golden.py --out test/fixtures/fp8_e4m3.json

Writes every e4m3 bit pattern's value (decode) and, for float32 inputs, the e4m3 bits PyTorch
gives for the saturating conversion fxrt implements (ONNX QuantizeLinear/Cast saturate=1,
TensorRT's FP8 quantize): x clamped to [-448, 448] (infinities included), then torch's
round-to-nearest-even cast. Inputs: random values over e4m3's whole exponent range, every
midpoint between neighbouring e4m3 values (the ties), the subnormal range and the saturation
boundary. NaN is left to the unit tests (torch keeps its sign: 0x7f / 0xff).
Values are float32 bit patterns (hex) so nothing is lost in JSON.
"""
import argparse
import json
import struct

import torch


def f32_bits(v):
    return struct.unpack('<I', struct.pack('<f', v))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(8)

    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e4m3fn)
    decoded = codes.to(torch.float32)
    decode = ['nan' if v != v else format(f32_bits(v), '08x') for v in decoded.tolist()]

    finite = decoded[~torch.isnan(decoded)].unique().sort().values
    mids = ((finite[1:].double() + finite[:-1].double()) / 2).float()
    near = torch.cat([mids, torch.nextafter(mids, torch.full_like(mids, 1e9)), torch.nextafter(mids, torch.full_like(mids, -1e9))])
    rand = torch.cat([torch.randn(400, generator=g) * 2.0 ** k for k in range(-12, 10)])
    special = torch.tensor([0.0, -0.0, 2.0 ** -10, -(2.0 ** -10), 1.5 * 2.0 ** -10, 2.0 ** -11, 2.0 ** -9, 3 * 2.0 ** -10,
                            448.0, -448.0, 450.0, 463.99, 464.0, 465.0, 480.0, -500.0, 1e6, -1e30, float('inf'), float('-inf'),
                            1.0625, 1.1875, 0.0009765625, 240.0, 232.0, 248.0], dtype=torch.float32)
    x = torch.cat([near, rand, special]).float()
    bits = x.clamp(-448.0, 448.0).to(torch.float8_e4m3fn).view(torch.uint8).to(torch.int32)
    encode = [[format(f32_bits(v), '08x'), int(b)] for v, b in zip(x.tolist(), bits.tolist())]

    doc = {'torch_version': torch.__version__, 'decode': decode, 'encode': encode}
    with open(args.out, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print(f'{args.out}: {len(decode)} codes, {len(encode)} conversions')


if __name__ == '__main__':
    main()

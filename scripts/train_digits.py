#!/usr/bin/env python3
"""Trains the small CNN that INT8 accuracy is proven on (issue #6), and writes its fixtures.

scikit-learn's digits data set (1797 8x8 grayscale images, 10 classes, pixel values 0..16) is split
with a fixed seed into 1397 training and 400 held-out images. A small CNN with a residual add
(conv-relu, conv-relu, max-pool, conv + residual add-relu, linear-relu, linear) is trained with
PyTorch for a fixed number of epochs, deterministically. Written to test/fixtures/digits/:

  digits_cnn.onnx        the trained float32 model (opset 13, input 'x' [N,1,8,8] in [0,1], output 'logits')
  digits_cnn_qdq.onnx    the same model quantized by onnxruntime's quantize_static in QDQ format
                         (int8 symmetric activations calibrated with MinMax on the calibration images,
                         int8 per-channel weights): an ONNX file with Q/DQ nodes, as toolkits write them
  heldout.bin            float32 [400,1,8,8] held-out images, then uint8 [400] labels
  calib.bin              float32 [256,1,8,8] training images for calibration
  meta.json              shapes, file layout, PyTorch's fp32 held-out top-1 and the QDQ model's top-1
                         under onnxruntime (CPU), torch/onnxruntime/sklearn versions

    python3 scripts/train_digits.py [--out test/fixtures/digits]

Runs on CPU in seconds (the GPU machine has every package it needs).
"""
import argparse
import json
import os

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELDOUT = 400
CALIB = 256
EPOCHS = 40


class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = self.pool(torch.relu(self.conv2(h)))
        h = torch.relu(self.conv3(h) + h)
        h = torch.relu(self.fc1(torch.flatten(h, 1)))
        return self.fc2(h)


def top1(logits, labels):
    return float((np.argmax(logits, axis=1) == labels).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'digits'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    from sklearn.datasets import load_digits
    import sklearn
    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(images))
    test_idx, train_idx = order[:HELDOUT], order[HELDOUT:]
    x_train, y_train = images[train_idx], labels[train_idx]
    x_test, y_test = images[test_idx], labels[test_idx]

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        fp32_logits = model(torch.from_numpy(x_test)).numpy()
    fp32_top1 = top1(fp32_logits, y_test)
    print(f'fp32 held-out top-1: {fp32_top1:.4f}')

    fp32_path = os.path.join(args.out, 'digits_cnn.onnx')
    torch.onnx.export(model, (torch.from_numpy(x_test[:1]),), fp32_path, opset_version=13, input_names=['x'],
                      output_names=['logits'], dynamic_axes={'x': {0: 'batch'}, 'logits': {0: 'batch'}},
                      do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(onnx.load(fp32_path))

    calib = x_train[:CALIB]
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import CalibrationMethod

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{'x': calib[i:i + 32]} for i in range(0, CALIB, 32)])

        def get_next(self):
            return next(self.batches, None)

    qdq_path = os.path.join(args.out, 'digits_cnn_qdq.onnx')
    quantize_static(fp32_path, qdq_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True})
    sess = ort.InferenceSession(qdq_path, providers=['CPUExecutionProvider'])
    qdq_logits = sess.run(None, {'x': x_test})[0]
    qdq_top1 = top1(qdq_logits, y_test)
    ops = sorted({n.op_type for n in onnx.load(qdq_path).graph.node})
    print(f'QDQ (onnxruntime) held-out top-1: {qdq_top1:.4f}; ops: {ops}')

    with open(os.path.join(args.out, 'heldout.bin'), 'wb') as f:
        f.write(x_test.astype('<f4').tobytes())
        f.write(y_test.astype(np.uint8).tobytes())
    with open(os.path.join(args.out, 'calib.bin'), 'wb') as f:
        f.write(calib.astype('<f4').tobytes())
    meta = {
        'dataset': 'sklearn.datasets.load_digits, pixels / 16, split by RandomState(0).permutation',
        'heldout': {'file': 'heldout.bin', 'images': {'dtype': 'float32', 'shape': [HELDOUT, 1, 8, 8]},
                    'labels': {'dtype': 'uint8', 'shape': [HELDOUT], 'byteOffset': HELDOUT * 64 * 4}},
        'calib': {'file': 'calib.bin', 'images': {'dtype': 'float32', 'shape': [CALIB, 1, 8, 8]}},
        'models': {'fp32': 'digits_cnn.onnx', 'qdq': 'digits_cnn_qdq.onnx'},
        'qdqOps': ops,
        'top1': {'torch_fp32': fp32_top1, 'onnxruntime_qdq': qdq_top1},
        'epochs': EPOCHS,
        'versions': {'torch': torch.__version__, 'onnxruntime': ort.__version__, 'sklearn': sklearn.__version__, 'onnx': onnx.__version__},
    }
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    main()

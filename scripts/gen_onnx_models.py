#!/usr/bin/env python3
"""Generates the ONNX models the importer is tested with.

Default: small op-level models (one op, or a few, per model; several opsets where an op changed
form) and a few small networks exported from PyTorch, written to test/fixtures/onnx/ with a
manifest.json that says how to make their inputs. The tests run each model with onnxruntime-node
and with the imported module on the reference interpreter, and compare (test/onnx_ort.test.ts).

--large: exports the full models the issue lists (torchvision ResNet-18/50, MobileNetV3,
EfficientNet-B0, ViT-B/16, ConvNeXt-T; transformers BERT-base and DistilBERT; a Q/DQ ResNet-18),
all with random weights, to --out (default build/onnx_large), with each model's input and
PyTorch's outputs as raw little-endian .bin files listed in manifest.json ('inputs', 'outputs':
name, dtype, shape, file). Meant for the GPU machine; it needs torchvision (and transformers for
the text models) and takes minutes.

Runs with onnx >= 1.12 and torch >= 1.13 (CPU); with torch 2.x the TorchScript exporter is used
(dynamo=False) so the graphs have the same shape as the committed ones.

    python3 scripts/gen_onnx_models.py            # regenerate test/fixtures/onnx
    python3 scripts/gen_onnx_models.py --large --out build/onnx_large
"""
import argparse
import inspect
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures', 'onnx')

# IR version that goes with each opset (ONNX's versioning table); ORT refuses opsets newer than the IR.
# Batch the GPU timings of the large models use (scripts/check_onnx_large.ts --cuda times the same).
BENCH_BATCH = 32

IR_FOR_OPSET = {9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}

ONNX_OF = {'float32': TensorProto.FLOAT, 'int64': TensorProto.INT64, 'int32': TensorProto.INT32, 'bool': TensorProto.BOOL,
           'uint8': TensorProto.UINT8, 'int8': TensorProto.INT8}


class Writer:
    """Collects models and the manifest entries describing their inputs."""

    def __init__(self, out):
        self.out = out
        self.entries = []
        self.rng = np.random.default_rng(1234)
        os.makedirs(out, exist_ok=True)

    def const(self, name, array):
        return numpy_helper.from_array(np.asarray(array), name)

    def rand(self, shape, low=-1.0, high=1.0, dtype=np.float32):
        return self.rng.uniform(low, high, size=shape).astype(dtype)

    def model(self, name, nodes, inputs, outputs, inits=(), opset=13, tol=1e-4, value_info=()):
        """inputs: [(name, dtype, shape, low, high)], outputs: [(name, dtype)] (shape inferred by ORT)."""
        graph = helper.make_graph(
            nodes, name,
            [helper.make_tensor_value_info(n, ONNX_OF[d], s) for (n, d, s, _lo, _hi) in inputs],
            [helper.make_tensor_value_info(n, ONNX_OF[d], None) for (n, d) in outputs],
            initializer=list(inits), value_info=list(value_info))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)], producer_name='fxrt-gen_onnx_models')
        m.ir_version = IR_FOR_OPSET[opset]
        self.save(name, m, [{'name': n, 'dtype': d, 'shape': list(s), 'low': lo, 'high': hi} for (n, d, s, lo, hi) in inputs], tol)

    def save(self, name, model, inputs, tol=1e-4, extra=None):
        path = os.path.join(self.out, name + '.onnx')
        onnx.save(model, path)
        entry = {'file': name + '.onnx', 'inputs': inputs, 'tol': tol}
        entry.update(extra or {})
        self.entries.append(entry)

    def finish(self):
        with open(os.path.join(self.out, 'manifest.json'), 'w') as f:
            json.dump({'models': self.entries}, f, indent=1)
            f.write('\n')


def f32(name, shape, low=-1.0, high=1.0):
    return (name, 'float32', shape, low, high)


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=op.lower() + '_0', **attrs)


def unary(w, op, opset=13, low=-1.0, high=1.0, attrs=None, suffix='', dtype='float32', out_dtype=None):
    w.model(f'op_{op}{suffix}_o{opset}', [node(op, ['x'], ['y'], **(attrs or {}))],
            [('x', dtype, [2, 3, 4], low, high)], [('y', out_dtype or dtype)], opset=opset)


def binary(w, op, opset=13, shape_b=(3, 4), dtype='float32', out_dtype=None, low=-1.0, high=1.0, low_b=None, attrs=None, suffix=''):
    w.model(f'op_{op}{suffix}_o{opset}', [node(op, ['a', 'b'], ['y'], **(attrs or {}))],
            [('a', dtype, [2, 3, 4], low, high), ('b', dtype, list(shape_b), low if low_b is None else low_b, high)],
            [('y', out_dtype or dtype)], opset=opset)


def gen_elementwise(w):
    for op in ['Add', 'Sub', 'Mul']:
        binary(w, op)
    binary(w, 'Div', low_b=0.5)
    binary(w, 'Div', dtype='int64', low=-20, high=20, low_b=1, suffix='_int')
    binary(w, 'Pow', low=0.1, high=2.0)
    w.model('op_Pow_scalar_o13', [node('Pow', ['x', 'e'], ['y'])], [f32('x', [2, 3])], [('y', 'float32')],
            [w.const('e', np.array(2.0, np.float32))])
    binary(w, 'Mod', attrs={'fmod': 1}, low_b=0.5, suffix='_fmod')
    binary(w, 'Mod', dtype='int64', low=-20, high=20, low_b=1, suffix='_int')
    for op in ['Equal', 'Greater', 'Less']:
        binary(w, op, out_dtype='bool', dtype='int64', low=-3, high=3)
    for op in ['GreaterOrEqual', 'LessOrEqual']:
        binary(w, op, opset=16, out_dtype='bool', dtype='int64', low=-3, high=3)
    for op in ['And', 'Or', 'Xor']:
        binary(w, op, dtype='bool', low=0, high=1)
    for op, lo, hi in [('Abs', -1, 1), ('Neg', -1, 1), ('Exp', -2, 2), ('Log', 0.1, 3), ('Sqrt', 0.1, 3), ('Reciprocal', 0.5, 2),
                       ('Sin', -3, 3), ('Cos', -3, 3), ('Tan', -1, 1), ('Asin', -0.9, 0.9), ('Acos', -0.9, 0.9), ('Atan', -3, 3),
                       ('Sinh', -2, 2), ('Cosh', -2, 2), ('Erf', -2, 2), ('Floor', -3, 3), ('Ceil', -3, 3), ('Round', -3, 3),
                       ('Sign', -1, 1), ('Identity', -1, 1)]:
        unary(w, op, low=lo, high=hi)
    unary(w, 'IsNaN', out_dtype='bool')
    unary(w, 'Not', dtype='bool', low=0, high=1)
    w.model('op_Where_o13', [node('Where', ['c', 'a', 'b'], ['y'])],
            [('c', 'bool', [3, 4], 0, 1), f32('a', [2, 3, 4]), f32('b', [4])], [('y', 'float32')])
    w.model('op_Cast_o13', [node('Cast', ['x'], ['y'], to=TensorProto.INT32)], [f32('x', [2, 3], -5, 5)], [('y', 'int32')])
    w.model('op_Cast_int_o13', [node('Cast', ['x'], ['y'], to=TensorProto.FLOAT)], [('x', 'int64', [2, 3], -5, 5)], [('y', 'float32')])
    w.model('op_CastLike_o15', [node('CastLike', ['x', 't'], ['y'])], [('x', 'int64', [2, 3], -5, 5), f32('t', [1])], [('y', 'float32')], opset=15)
    w.model('op_Clip_o9', [node('Clip', ['x'], ['y'], min=-0.5, max=0.25)], [f32('x', [2, 3, 4])], [('y', 'float32')], opset=9)
    w.model('op_Clip_o13', [node('Clip', ['x', 'lo', 'hi'], ['y'])], [f32('x', [2, 3, 4])], [('y', 'float32')],
            [w.const('lo', np.array(-0.5, np.float32)), w.const('hi', np.array(0.25, np.float32))])
    w.model('op_Clip_min_o13', [node('Clip', ['x', 'lo'], ['y'])], [f32('x', [2, 3, 4])], [('y', 'float32')],
            [w.const('lo', np.array(0.0, np.float32))])
    for op in ['Sum', 'Max', 'Min', 'Mean']:
        w.model(f'op_{op}_o13', [node(op, ['a', 'b', 'c'], ['y'])], [f32('a', [2, 3, 4]), f32('b', [3, 4]), f32('c', [4])], [('y', 'float32')])


def gen_activation(w):
    for op in ['Relu', 'Sigmoid', 'Tanh', 'Softsign', 'Softplus']:
        unary(w, op, low=-3, high=3)
    unary(w, 'LeakyRelu', attrs={'alpha': 0.2})
    unary(w, 'Elu', attrs={'alpha': 0.5})
    unary(w, 'Selu')
    unary(w, 'HardSigmoid', low=-4, high=4)
    unary(w, 'HardSigmoid', low=-4, high=4, attrs={'alpha': 1.0 / 6, 'beta': 0.5}, suffix='_torch')
    unary(w, 'HardSwish', opset=14, low=-4, high=4)
    unary(w, 'Mish', opset=18, low=-3, high=3)
    unary(w, 'Gelu', opset=20, low=-3, high=3)
    unary(w, 'Gelu', opset=20, low=-3, high=3, attrs={'approximate': 'tanh'}, suffix='_tanh')
    unary(w, 'ThresholdedRelu', attrs={'alpha': 0.3})
    w.model('op_PRelu_o13', [node('PRelu', ['x', 's'], ['y'])], [f32('x', [2, 3, 4, 5])], [('y', 'float32')],
            [w.const('s', w.rand([3, 1, 1], 0, 0.5))])
    w.model('op_PRelu_general_o13', [node('PRelu', ['x', 's'], ['y'])], [f32('x', [2, 3, 4])], [('y', 'float32')],
            [w.const('s', w.rand([4], 0, 0.5))])
    for op in ['Softmax', 'LogSoftmax']:
        unary(w, op, opset=11, attrs={'axis': 1})  # opset < 13: flattened to 2-d at axis
        unary(w, op, opset=13, attrs={'axis': 1})
        unary(w, op, opset=13)
    w.model('op_Dropout_o13', [node('Dropout', ['x'], ['y'])], [f32('x', [2, 3])], [('y', 'float32')])


def gen_conv_pool(w):
    def conv(name, x_shape, w_shape, opset=13, bias=True, **attrs):
        inits = [w.const('w', w.rand(w_shape))]
        ins = ['x', 'w']
        if bias:
            inits.append(w.const('b', w.rand([w_shape[0]])))
            ins.append('b')
        w.model(name, [node('Conv', ins, ['y'], **attrs)], [f32('x', x_shape)], [('y', 'float32')], inits, opset=opset)
    conv('op_Conv_o13', [1, 4, 8, 8], [6, 4, 3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    conv('op_Conv_group_o13', [1, 4, 7, 7], [8, 2, 3, 3], group=2, dilations=[2, 2], pads=[2, 2, 2, 2])
    conv('op_Conv_depthwise_o11', [2, 4, 6, 6], [4, 1, 3, 3], opset=11, group=4, pads=[1, 1, 1, 1], bias=False)
    conv('op_Conv_same_upper_o13', [1, 3, 7, 7], [4, 3, 3, 3], auto_pad='SAME_UPPER', strides=[2, 2])
    conv('op_Conv_asym_o13', [1, 3, 6, 6], [4, 3, 3, 3], pads=[0, 1, 1, 0])
    conv('op_Conv1d_o13', [2, 3, 10], [5, 3, 3], pads=[1, 1])
    conv('op_Conv3d_o13', [1, 2, 4, 5, 5], [3, 2, 2, 3, 3], pads=[0, 1, 1, 0, 1, 1])
    w.model('op_ConvTranspose_o13', [node('ConvTranspose', ['x', 'w', 'b'], ['y'], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
            [f32('x', [1, 4, 5, 5])], [('y', 'float32')], [w.const('w', w.rand([4, 3, 3, 3])), w.const('b', w.rand([3]))])
    w.model('op_ConvTranspose_asym_o13', [node('ConvTranspose', ['x', 'w'], ['y'], strides=[2, 2], pads=[0, 1, 1, 0], group=2)],
            [f32('x', [1, 4, 4, 4])], [('y', 'float32')], [w.const('w', w.rand([4, 2, 3, 3]))])
    w.model('op_ConvTranspose_outshape_o13', [node('ConvTranspose', ['x', 'w'], ['y'], strides=[2, 2], output_shape=[9, 9])],
            [f32('x', [1, 2, 4, 4])], [('y', 'float32')], [w.const('w', w.rand([2, 3, 3, 3]))])
    w.model('op_MaxPool_o13', [node('MaxPool', ['x'], ['y'], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
            [f32('x', [1, 3, 9, 9])], [('y', 'float32')])
    w.model('op_MaxPool_ceil_o13', [node('MaxPool', ['x'], ['y'], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)],
            [f32('x', [1, 2, 7, 7])], [('y', 'float32')])
    w.model('op_MaxPool_asym_o13', [node('MaxPool', ['x'], ['y'], kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 2, 2])],
            [f32('x', [1, 2, 5, 5])], [('y', 'float32')])
    w.model('op_MaxPool1d_o13', [node('MaxPool', ['x'], ['y'], kernel_shape=[3], strides=[2])], [f32('x', [2, 3, 9])], [('y', 'float32')])
    w.model('op_AveragePool_o13', [node('AveragePool', ['x'], ['y'], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
            [f32('x', [1, 3, 9, 9])], [('y', 'float32')])
    w.model('op_AveragePool_incpad_o13', [node('AveragePool', ['x'], ['y'], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)],
            [f32('x', [1, 3, 9, 9])], [('y', 'float32')])
    w.model('op_GlobalAveragePool_o13', [node('GlobalAveragePool', ['x'], ['y'])], [f32('x', [2, 3, 5, 4])], [('y', 'float32')])
    w.model('op_GlobalMaxPool_o13', [node('GlobalMaxPool', ['x'], ['y'])], [f32('x', [2, 3, 5, 4])], [('y', 'float32')])


def gen_norm_linalg(w):
    c = 4
    bn = [w.const('s', w.rand([c], 0.5, 1.5)), w.const('bb', w.rand([c])), w.const('m', w.rand([c])), w.const('v', w.rand([c], 0.5, 2))]
    for opset in (9, 15):
        w.model(f'op_BatchNormalization_o{opset}', [node('BatchNormalization', ['x', 's', 'bb', 'm', 'v'], ['y'], epsilon=1e-3)],
                [f32('x', [2, c, 3, 3])], [('y', 'float32')], bn, opset=opset)
    w.model('op_InstanceNormalization_o13', [node('InstanceNormalization', ['x', 's', 'bb'], ['y'])],
            [f32('x', [2, c, 3, 5])], [('y', 'float32')], bn[:2])
    w.model('op_LayerNormalization_o17', [node('LayerNormalization', ['x', 's', 'b'], ['y'], axis=-1, epsilon=1e-5)],
            [f32('x', [2, 3, 8])], [('y', 'float32')], [w.const('s', w.rand([8], 0.5, 1.5)), w.const('b', w.rand([8]))], opset=17)
    w.model('op_LayerNormalization_axis_o17', [node('LayerNormalization', ['x', 's'], ['y'], axis=1)],
            [f32('x', [2, 3, 4])], [('y', 'float32')], [w.const('s', w.rand([3, 4], 0.5, 1.5))], opset=17)
    w.model('op_GroupNormalization_o21', [node('GroupNormalization', ['x', 's', 'b'], ['y'], num_groups=2)],
            [f32('x', [2, 6, 3, 3])], [('y', 'float32')], [w.const('s', w.rand([6], 0.5, 1.5)), w.const('b', w.rand([6]))], opset=21)
    w.model('op_Gemm_o13', [node('Gemm', ['a', 'w', 'b'], ['y'], transB=1)], [f32('a', [3, 5])], [('y', 'float32')],
            [w.const('w', w.rand([4, 5])), w.const('b', w.rand([4]))])
    w.model('op_Gemm_general_o13', [node('Gemm', ['a', 'w', 'c'], ['y'], transA=1, alpha=0.5, beta=2.0)], [f32('a', [5, 3])], [('y', 'float32')],
            [w.const('w', w.rand([5, 4])), w.const('c', w.rand([3, 4]))])
    w.model('op_Gemm_notrans_o9', [node('Gemm', ['a', 'w', 'b'], ['y'])], [f32('a', [3, 5])], [('y', 'float32')],
            [w.const('w', w.rand([5, 4])), w.const('b', w.rand([4]))], opset=9)
    w.model('op_MatMul_o13', [node('MatMul', ['a', 'b'], ['y'])], [f32('a', [2, 3, 5]), f32('b', [5, 4])], [('y', 'float32')])
    w.model('op_Einsum_o13', [node('Einsum', ['a', 'b'], ['y'], equation='bij,bjk->bik')], [f32('a', [2, 3, 5]), f32('b', [2, 5, 4])], [('y', 'float32')])


def gen_shape(w):
    i64 = lambda name, v: w.const(name, np.array(v, np.int64))  # noqa: E731
    x = [f32('x', [2, 3, 4])]
    w.model('op_Reshape_o13', [node('Reshape', ['x', 's'], ['y'])], x, [('y', 'float32')], [i64('s', [0, -1, 2])])
    for axis in (0, 1, 2, 3, -1):
        w.model(f'op_Flatten_a{axis % 4}_o13', [node('Flatten', ['x'], ['y'], axis=axis)], [f32('x', [2, 3, 2, 2])], [('y', 'float32')])
    w.model('op_Reshape_o21', [node('Reshape', ['x', 's'], ['y'])], x, [('y', 'float32')], [i64('s', [4, -1])], opset=21)
    w.model('op_Squeeze_o21', [node('Squeeze', ['x', 'a'], ['y'])], [f32('x', [2, 1, 3, 1])], [('y', 'float32')], [i64('a', [-1])], opset=21)
    w.model('op_Unsqueeze_o21', [node('Unsqueeze', ['x', 'a'], ['y'])], x, [('y', 'float32')], [i64('a', [0])], opset=21)
    w.model('op_Transpose_o13', [node('Transpose', ['x'], ['y'], perm=[2, 0, 1])], x, [('y', 'float32')])
    w.model('op_Transpose_default_o13', [node('Transpose', ['x'], ['y'])], x, [('y', 'float32')])
    w.model('op_Squeeze_o11', [node('Squeeze', ['x'], ['y'], axes=[1, -1])], [f32('x', [2, 1, 3, 1])], [('y', 'float32')], opset=11)
    w.model('op_Squeeze_o13', [node('Squeeze', ['x', 'a'], ['y'])], [f32('x', [2, 1, 3, 1])], [('y', 'float32')], [i64('a', [1])])
    w.model('op_Unsqueeze_o11', [node('Unsqueeze', ['x'], ['y'], axes=[0, 3])], x, [('y', 'float32')], opset=11)
    w.model('op_Unsqueeze_o13', [node('Unsqueeze', ['x', 'a'], ['y'])], x, [('y', 'float32')], [i64('a', [-1, 1])])
    w.model('op_Concat_o13', [node('Concat', ['a', 'b', 'c'], ['y'], axis=1)], [f32('a', [2, 1, 4]), f32('b', [2, 3, 4]), f32('c', [2, 2, 4])], [('y', 'float32')])
    w.model('op_Split_o11', [node('Split', ['x'], ['y0', 'y1'], axis=2, split=[1, 3])], x, [('y0', 'float32'), ('y1', 'float32')], opset=11)
    w.model('op_Split_o13', [node('Split', ['x', 's'], ['y0', 'y1', 'y2'], axis=2)], x, [('y0', 'float32'), ('y1', 'float32'), ('y2', 'float32')],
            [i64('s', [2, 1, 1])])
    w.model('op_Split_equal_o13', [node('Split', ['x'], ['y0', 'y1'], axis=-1)], x, [('y0', 'float32'), ('y1', 'float32')])
    w.model('op_Split_num_o18', [node('Split', ['x'], ['y0', 'y1', 'y2'], axis=1, num_outputs=3)], [f32('x', [2, 7])],
            [('y0', 'float32'), ('y1', 'float32'), ('y2', 'float32')], opset=18)
    w.model('op_Slice_o9', [node('Slice', ['x'], ['y'], starts=[1, -3], ends=[1000, -1], axes=[1, 2])], x, [('y', 'float32')], opset=9)
    w.model('op_Slice_o13', [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])], [f32('x', [4, 5, 6])], [('y', 'float32')],
            [i64('st', [-1, 1, 0]), i64('en', [-1000, 1000, 9223372036854775807]), i64('ax', [0, 2, 1]), i64('sp', [-2, 2, 1])])
    w.model('op_Expand_o13', [node('Expand', ['x', 's'], ['y'])], [f32('x', [3, 1])], [('y', 'float32')], [i64('s', [2, 1, 4])])
    w.model('op_Tile_o13', [node('Tile', ['x', 'r'], ['y'])], x, [('y', 'float32')], [i64('r', [1, 2, 3])])
    # A shape subgraph: Shape → Gather → Unsqueeze → Concat → Reshape, folded at import.
    w.model('op_shape_subgraph_o13', [
        node('Shape', ['x'], ['shp']),
        helper.make_node('Gather', ['shp', 'i0'], ['d0'], axis=0, name='gather_dim'),
        helper.make_node('Unsqueeze', ['d0', 'ax0'], ['d0u'], name='unsq_dim'),
        helper.make_node('Concat', ['d0u', 'minus1'], ['target'], axis=0, name='concat_shape'),
        node('Reshape', ['x', 'target'], ['y'])],
        x, [('y', 'float32')], [i64('i0', 0), i64('ax0', [0]), i64('minus1', [-1])])
    w.model('op_Shape_o15', [node('Shape', ['x'], ['y'], start=1, end=-1)], x, [('y', 'int64')], opset=15)
    w.model('op_Size_o13', [node('Size', ['x'], ['y'])], x, [('y', 'int64')])
    w.model('op_ConstantOfShape_o13', [node('ConstantOfShape', ['s'], ['c'], value=helper.make_tensor('v', TensorProto.FLOAT, [1], [0.5])),
                                       node('Add', ['x', 'c'], ['y'])], x, [('y', 'float32')], [i64('s', [3, 4])])
    w.model('op_Constant_o13', [node('Constant', [], ['c'], value=helper.make_tensor('v', TensorProto.FLOAT, [4], [1, 2, 3, 4])),
                                node('Mul', ['x', 'c'], ['y'])], x, [('y', 'float32')])
    w.model('op_Range_o13', [node('Range', ['s', 'l', 'd'], ['r']), node('Cast', ['r'], ['rf'], to=TensorProto.FLOAT), node('Add', ['x', 'rf'], ['y'])],
            x, [('y', 'float32')], [i64('s', 0), i64('l', 8), i64('d', 2)])
    w.model('op_Gather_scalar_o13', [node('Gather', ['x', 'i'], ['y'], axis=1)], x, [('y', 'float32')], [i64('i', -1)])
    w.model('op_Gather_list_o13', [node('Gather', ['x', 'i'], ['y'], axis=2)], x, [('y', 'float32')], [i64('i', [[3, 0], [1, -1]])])
    w.model('op_Gather_embedding_o13', [node('Gather', ['table', 'ids'], ['y'], axis=0)], [('ids', 'int64', [2, 5], 0, 9)], [('y', 'float32')],
            [w.const('table', w.rand([10, 6]))])
    w.model('op_Gather_runtime_o13', [node('Gather', ['x', 'ids'], ['y'], axis=1)], [f32('x', [2, 6, 3]), ('ids', 'int64', [4], 0, 5)], [('y', 'float32')])
    w.model('op_GatherElements_o13', [node('GatherElements', ['x', 'i'], ['y'], axis=1)], x, [('y', 'float32')],
            [i64('i', [[[0, 1, 2, 0], [2, 2, 1, 0]], [[1, 0, 0, 1], [-1, 0, 2, 1]]])])
    w.model('op_DepthToSpace_o13', [node('DepthToSpace', ['x'], ['y'], blocksize=2)], [f32('x', [1, 8, 2, 3])], [('y', 'float32')])
    w.model('op_DepthToSpace_crd_o13', [node('DepthToSpace', ['x'], ['y'], blocksize=2, mode='CRD')], [f32('x', [1, 8, 2, 3])], [('y', 'float32')])
    w.model('op_SpaceToDepth_o13', [node('SpaceToDepth', ['x'], ['y'], blocksize=2)], [f32('x', [1, 2, 4, 6])], [('y', 'float32')])


def gen_reduce(w):
    x = [f32('x', [2, 3, 4])]
    i64 = lambda name, v: w.const(name, np.array(v, np.int64))  # noqa: E731
    w.model('op_ReduceSum_o13', [node('ReduceSum', ['x', 'a'], ['y'], keepdims=0)], x, [('y', 'float32')], [i64('a', [0, -1])])
    w.model('op_ReduceSum_all_o13', [node('ReduceSum', ['x'], ['y'])], x, [('y', 'float32')])
    for op, lo in [('ReduceMean', -1), ('ReduceMax', -1), ('ReduceMin', -1), ('ReduceProd', 0.5), ('ReduceL1', -1), ('ReduceL2', -1),
                   ('ReduceSumSquare', -1), ('ReduceLogSum', 0.1), ('ReduceLogSumExp', -1)]:
        w.model(f'op_{op}_o13', [node(op, ['x'], ['y'], axes=[1])], [f32('x', [2, 3, 4], lo, 1.0)], [('y', 'float32')])
    w.model('op_ReduceMean_o18', [node('ReduceMean', ['x', 'a'], ['y'], keepdims=0)], x, [('y', 'float32')], [i64('a', [1, 2])], opset=18)
    w.model('op_ReduceMax_o18', [node('ReduceMax', ['x', 'a'], ['y'])], x, [('y', 'float32')], [i64('a', [-1])], opset=18)
    w.model('op_ArgMax_o13', [node('ArgMax', ['x'], ['y'], axis=1)], x, [('y', 'int64')])
    w.model('op_ArgMin_o13', [node('ArgMin', ['x'], ['y'], axis=-1, keepdims=0)], x, [('y', 'int64')])
    w.model('op_TopK_o9', [node('TopK', ['x'], ['v', 'i'], k=2, axis=1)], x, [('v', 'float32'), ('i', 'int64')], opset=9)
    w.model('op_TopK_o11', [node('TopK', ['x', 'k'], ['v', 'i'], largest=0)], x, [('v', 'float32'), ('i', 'int64')], [i64('k', [3])], opset=11)
    w.model('op_CumSum_o13', [node('CumSum', ['x', 'a'], ['y'])], x, [('y', 'float32')], [i64('a', 1)])


def gen_pad_resize(w):
    x = [f32('x', [1, 2, 4, 5])]
    i64 = lambda name, v: w.const(name, np.array(v, np.int64))  # noqa: E731
    w.model('op_Pad_o9', [node('Pad', ['x'], ['y'], pads=[0, 0, 1, 2, 0, 0, 2, 1], value=0.5)], x, [('y', 'float32')], opset=9)
    w.model('op_Pad_reflect_o11', [node('Pad', ['x', 'p'], ['y'], mode='reflect')], x, [('y', 'float32')], [i64('p', [0, 0, 1, 2, 0, 0, 2, 1])], opset=11)
    w.model('op_Pad_edge_o13', [node('Pad', ['x', 'p', 'v'], ['y'], mode='edge')], x, [('y', 'float32')],
            [i64('p', [0, 0, 0, 1, 0, 0, 2, 0]), w.const('v', np.array(0.0, np.float32))])
    w.model('op_Pad_axes_o18', [node('Pad', ['x', 'p', 'v', 'a'], ['y'])], x, [('y', 'float32')],
            [i64('p', [1, 2, 0, 3]), w.const('v', np.array(-1.0, np.float32)), i64('a', [-1, 1])], opset=18)
    w.model('op_Pad_wrap_o19', [node('Pad', ['x', 'p'], ['y'], mode='wrap')], x, [('y', 'float32')], [i64('p', [0, 0, 1, 2, 0, 0, 1, 1])], opset=19)
    sc = lambda v: w.const('sc', np.array(v, np.float32))  # noqa: E731
    empty = w.const('roi', np.array([], np.float32))
    w.model('op_Resize_nearest_o11', [node('Resize', ['x', 'roi', 'sc'], ['y'], mode='nearest', coordinate_transformation_mode='asymmetric', nearest_mode='floor')],
            x, [('y', 'float32')], [empty, sc([1, 1, 2, 2])], opset=11)
    w.model('op_Resize_nearest_exact_o13', [node('Resize', ['x', '', '', 'sz'], ['y'], mode='nearest', nearest_mode='round_prefer_ceil')],
            x, [('y', 'float32')], [i64('sz', [1, 2, 7, 3])])
    w.model('op_Resize_linear_o13', [node('Resize', ['x', '', 'sc'], ['y'], mode='linear')], x, [('y', 'float32')], [sc([1, 1, 2, 1.5])])
    w.model('op_Resize_linear_sizes_o13', [node('Resize', ['x', '', '', 'sz'], ['y'], mode='linear', coordinate_transformation_mode='pytorch_half_pixel')],
            x, [('y', 'float32')], [i64('sz', [1, 2, 3, 9])])
    w.model('op_Resize_align_o13', [node('Resize', ['x', '', 'sc'], ['y'], mode='linear', coordinate_transformation_mode='align_corners')],
            x, [('y', 'float32')], [sc([1, 1, 2, 2])])
    w.model('op_Resize_cubic_o13', [node('Resize', ['x', '', 'sc'], ['y'], mode='cubic')], x, [('y', 'float32')], [sc([1, 1, 2, 2])])
    w.model('op_Resize_o10', [node('Resize', ['x', 'sc'], ['y'], mode='nearest')], x, [('y', 'float32')], [sc([1, 1, 2, 3])], opset=10)
    w.model('op_Upsample_o9', [node('Upsample', ['x', 'sc'], ['y'], mode='nearest')], x, [('y', 'float32')], [sc([1, 1, 2, 2])], opset=9)


def gen_quant(w):
    rng = w.rng
    x = [f32('x', [1, 3, 5, 5], -2, 2)]
    s = w.const('s', np.array(0.02, np.float32))
    zi8 = w.const('z', np.array(3, np.int8))
    zu8 = w.const('z', np.array(128, np.uint8))
    w.model('op_QDQ_int8_o13', [node('QuantizeLinear', ['x', 's', 'z'], ['q']), node('DequantizeLinear', ['q', 's', 'z'], ['y'])],
            x, [('y', 'float32')], [s, zi8])
    w.model('op_QDQ_uint8_o10', [node('QuantizeLinear', ['x', 's', 'z'], ['q']), node('DequantizeLinear', ['q', 's', 'z'], ['y'])],
            x, [('y', 'float32')], [s, zu8], opset=10)
    w.model('op_QDQ_int8_o21', [node('QuantizeLinear', ['x', 's', 'z'], ['q']), node('DequantizeLinear', ['q', 's', 'z'], ['y'])],
            x, [('y', 'float32')], [s, zi8], opset=21)
    w.model('op_Quantize_out_o13', [node('QuantizeLinear', ['x', 's', 'z'], ['y'])], x, [('y', 'int8')], [s, zi8])
    # Per-axis int8 weights dequantized in front of a Conv, activations per tensor.
    wq = rng.integers(-127, 128, size=[4, 3, 3, 3]).astype(np.int8)
    ws = rng.uniform(0.001, 0.01, size=[4]).astype(np.float32)
    w.model('op_QDQ_conv_o13', [
        node('QuantizeLinear', ['x', 's', 'z'], ['xq']), helper.make_node('DequantizeLinear', ['xq', 's', 'z'], ['xd'], name='dq_x'),
        helper.make_node('DequantizeLinear', ['wq', 'ws', 'wz'], ['wd'], axis=0, name='dq_w'), node('Conv', ['xd', 'wd'], ['y'], pads=[1, 1, 1, 1])],
        x, [('y', 'float32')], [s, zi8, w.const('wq', wq), w.const('ws', ws), w.const('wz', np.zeros([4], np.int8))])


# ---- small networks exported from PyTorch ----

def torch_export(model, args, path, opset, input_names, output_names, dynamic_axes=None):
    import torch
    kwargs = dict(opset_version=opset, input_names=input_names, output_names=output_names, do_constant_folding=True)
    if dynamic_axes:
        kwargs['dynamic_axes'] = dynamic_axes
    # nn.MultiheadAttention's fused inference path (used under no_grad) has no ONNX export: keep it off.
    mha = getattr(torch.backends, 'mha', None)
    if mha is not None and hasattr(mha, 'set_fastpath_enabled'):
        mha.set_fastpath_enabled(False)
    if 'dynamo' not in inspect.signature(torch.onnx.export).parameters:
        torch.onnx.export(model, args, path, **kwargs)
        return
    try:
        # The TorchScript exporter writes the graphs the committed models have (and most ONNX files in use).
        torch.onnx.export(model, args, path, dynamo=False, **kwargs)
    except Exception as e:  # a torch without the TorchScript exporter: the dynamo one (opset >= 18, maybe external data)
        print(f'{os.path.basename(path)}: TorchScript export failed ({e}); using the dynamo exporter', file=sys.stderr)
        kwargs['opset_version'] = max(opset, 18)
        torch.onnx.export(model, args, path, dynamo=True, **kwargs)


def gen_gather_nd(w):
    """GatherND (opset 11; batch_dims from 12): full and partial index tuples, batch dims, negative indices,
    constant indices (flattened at import) and runtime ones (flattened in the graph). Runtime indices draw
    from -size..size-1 of equal-sized indexed dims, so every value is valid and negatives occur."""
    i64 = lambda name, v: w.const(name, np.array(v, np.int64))  # noqa: E731
    x = [f32('x', [2, 3, 4])]
    w.model('op_GatherND_o11', [node('GatherND', ['x', 'i'], ['y'])], x, [('y', 'float32')],
            [i64('i', [[0, 1, 2], [1, -1, -4], [1, 2, 3]])], opset=11)
    w.model('op_GatherND_slices_o13', [node('GatherND', ['x', 'i'], ['y'])], x, [('y', 'float32')], [i64('i', [[[0, 1]], [[1, -2]]])])
    w.model('op_GatherND_batch_o12', [node('GatherND', ['x', 'i'], ['y'], batch_dims=1)], x, [('y', 'float32')],
            [i64('i', [[[1], [-1]], [[0], [2]]])], opset=12)
    w.model('op_GatherND_runtime_o13', [node('GatherND', ['x', 'i'], ['y'])], [f32('x', [4, 4, 3]), ('i', 'int64', [2, 3, 2], -4, 3)],
            [('y', 'float32')])
    w.model('op_GatherND_runtime_batch_o18', [node('GatherND', ['x', 'i'], ['y'], batch_dims=1)],
            [f32('x', [2, 3, 3, 2]), ('i', 'int64', [2, 5, 2], -3, 2)], [('y', 'float32')], opset=18)
    w.model('op_GatherND_runtime_batch2_o13', [node('GatherND', ['x', 'i'], ['y'], batch_dims=2)],
            [f32('x', [2, 3, 4]), ('i', 'int64', [2, 3, 1], -4, 3)], [('y', 'float32')])


def gen_networks(w):
    import torch
    from torch import nn
    import torch.nn.functional as F
    torch.manual_seed(0)

    class ResBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.c1 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
            self.b1 = nn.BatchNorm2d(8)
            self.c2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = self.stem(x)
            y = F.relu(self.b1(self.c1(x)))
            x = F.relu(x + self.b2(self.c2(y)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class MobileBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.expand = nn.Conv2d(4, 16, 1)
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
            self.se1 = nn.Conv2d(16, 4, 1)
            self.se2 = nn.Conv2d(4, 16, 1)
            self.project = nn.Conv2d(16, 4, 1)

        def forward(self, x):
            y = F.hardswish(self.expand(x))
            y = F.hardswish(self.dw(y))
            s = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(y, 1)))))
            return x + self.project(y * s) * torch.sigmoid(x)

    class TinyEncoder(nn.Module):
        """BERT-like: embeddings, masked multi-head self-attention, GELU MLP, layer norms."""

        def __init__(self, vocab=20, d=16, heads=2, bert_mask=False):
            super().__init__()
            self.heads = heads
            self.bert_mask = bert_mask
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(8, d)
            self.ln0 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.out = nn.Linear(d, d)
            self.ln1 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))
            self.ln2 = nn.LayerNorm(d)
            self.pool = nn.Linear(d, d)

        def forward(self, ids, mask):
            b, t = ids.shape
            pos = torch.arange(t).unsqueeze(0)
            x = self.ln0(self.tok(ids) + self.pos(pos))
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            split = lambda z: z.view(b, t, self.heads, -1).transpose(1, 2)  # noqa: E731
            q, k, v = split(q), split(k), split(v)
            att = q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5)
            if self.bert_mask:  # BERT's additive mask: (1 - mask) * finfo.min
                att = (att + (1.0 - mask[:, None, None, :].to(att.dtype)) * torch.finfo(att.dtype).min).softmax(-1)
            else:  # DistilBERT's masked_fill
                att = att.masked_fill(mask[:, None, None, :] == 0, -1e4).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, -1)
            x = self.ln1(x + self.out(y))
            x = self.ln2(x + self.mlp(x))
            return x, torch.tanh(self.pool(x[:, 0]))

    class DetHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.lat = nn.Conv2d(8, 8, 1)
            self.top = nn.Conv2d(8, 8, 3, 2, 1)
            self.head = nn.Conv2d(8, 6, 1)

        def forward(self, x):
            p4 = self.top(x)
            p3 = self.lat(x) + F.interpolate(p4, scale_factor=2.0, mode='nearest')
            feats = torch.cat([self.head(p3).flatten(2), self.head(F.interpolate(p4, size=(4, 4), mode='bilinear', align_corners=False)).flatten(2)], 2)
            box, obj, cls = torch.split(feats, [4, 1, 1], dim=1)
            score = torch.sigmoid(obj[:, 0]) * torch.sigmoid(cls[:, 0])
            top, idx = torch.topk(score, 5, dim=1)
            return box[:, :, 2:-2], top, idx

    class QdqCnn(nn.Module):
        """Explicit quantization as pytorch_quantization exports it: fake-quant on activations (per tensor) and weights (per channel)."""

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
            self.c2 = nn.Conv2d(8, 8, 3, 2, 1)
            self.fc = nn.Linear(8, 4)

        @staticmethod
        def fq_act(x, amax):
            return torch.fake_quantize_per_tensor_affine(x, amax / 127.0, 0, -128, 127)

        @staticmethod
        def fq_weight(w):
            amax = w.detach().abs().flatten(1).amax(1).clamp(min=1e-6)
            return torch.fake_quantize_per_channel_affine(w, amax / 127.0, torch.zeros_like(amax, dtype=torch.int32), 0, -128, 127)

        def forward(self, x):
            y = F.relu(F.conv2d(self.fq_act(x, 3.0), self.fq_weight(self.c1.weight), self.c1.bias, padding=1))
            y = F.relu(F.conv2d(self.fq_act(y, 4.0), self.fq_weight(self.c2.weight), self.c2.bias, stride=2, padding=1))
            y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
            return F.linear(self.fq_act(y, 2.0), self.fq_weight(self.fc.weight), self.fc.bias)

    def export(name, model, args, opset, inputs, outputs, dynamic_axes=None, tol=1e-4, extra=None):
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # non-trivial running statistics
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        path = os.path.join(w.out, name + '.onnx')
        torch_export(model, args, path, opset, [i['name'] for i in inputs], outputs, dynamic_axes)
        w.entries.append({'file': name + '.onnx', 'inputs': inputs, 'tol': tol, **(extra or {})})
        return path

    def spec(name, shape, dtype='float32', low=-1.0, high=1.0):
        return {'name': name, 'dtype': dtype, 'shape': shape, 'low': low, 'high': high}

    export('net_resnet_block_o13', ResBlock(), (torch.randn(2, 3, 32, 32),), 13, [spec('input', [2, 3, 32, 32])], ['logits'],
           dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    export('net_mobile_block_o14', MobileBlock(), (torch.randn(1, 4, 8, 8),), 14, [spec('input', [1, 4, 8, 8], low=-4, high=4)], ['out'])
    ids = torch.randint(0, 20, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.int64)
    enc_inputs = [spec('ids', [2, 8], 'int64', 0, 19), spec('mask', [2, 8], 'int64', 0, 1)]
    for opset in (13, 17):
        export(f'net_tiny_encoder_o{opset}', TinyEncoder(), (ids, mask), opset, enc_inputs, ['hidden', 'pooled'])
    # Exported with dynamic batch and sequence axes, as transformers models are: the importer is told the sizes.
    export('net_tiny_bert_dynamic_o17', TinyEncoder(bert_mask=True), (ids, mask), 17, enc_inputs, ['hidden', 'pooled'],
           dynamic_axes={'ids': {0: 'batch', 1: 'seq'}, 'mask': {0: 'batch', 1: 'seq'}}, extra={'dims': {'batch': 2, 'seq': 8}})
    export('net_det_head_o13', DetHead(), (torch.randn(1, 8, 8, 8),), 13, [spec('input', [1, 8, 8, 8])], ['boxes', 'scores', 'indices'])
    qdq = export('net_qdq_cnn_o13', QdqCnn(), (torch.randn(1, 3, 8, 8),), 13, [spec('input', [1, 3, 8, 8], low=-3, high=3)], ['logits'], tol=1e-4)
    # Seed 003: the same network with Cast(to=UINT8) between each activation Q and DQ (and on the zero point),
    # as PyTorch's eager-mode quantization export writes it. The importer repairs it; ORT runs the repaired twin.
    m = onnx.load(qdq)
    add_uint8_casts(m)
    onnx.save(m, os.path.join(w.out, 'net_qdq_cnn_uint8cast_o13.onnx'))
    w.entries.append({'file': 'net_qdq_cnn_uint8cast_o13.onnx', 'inputs': [spec('input', [1, 3, 8, 8], low=-3, high=3)], 'tol': 1e-4,
                      'reference': 'net_qdq_cnn_o13.onnx', 'expectWarnings': 'QuantizeLinear'})


def add_uint8_casts(model):
    """Inserts Cast(to=UINT8) after every activation QuantizeLinear and on the zero point its DequantizeLinear reads."""
    g = model.graph
    init_types = {t.name: t.data_type for t in g.initializer}
    const_types = {n.output[0]: n.attribute[0].t.data_type for n in g.node if n.op_type == 'Constant' and n.attribute[0].name == 'value'}
    nodes = []
    count = 0
    for n in g.node:
        nodes.append(n)
        if n.op_type != 'QuantizeLinear' or len(n.input) < 3:
            continue
        zp_type = init_types.get(n.input[2], const_types.get(n.input[2]))
        if zp_type != TensorProto.INT8:
            continue
        users = [u for u in g.node if u.op_type == 'DequantizeLinear' and u.input[0] == n.output[0]]
        if not users:
            continue
        count += 1
        cast_out, zp_out = f'{n.output[0]}_u8', f'{n.output[0]}_zp_u8'
        nodes.append(helper.make_node('Cast', [n.output[0]], [cast_out], to=TensorProto.UINT8, name=f'cast_u8_{count}'))
        nodes.append(helper.make_node('Cast', [n.input[2]], [zp_out], to=TensorProto.UINT8, name=f'cast_zp_u8_{count}'))
        for u in users:
            u.input[0] = cast_out
            u.input[2] = zp_out
    del g.node[:]
    g.node.extend(nodes)
    if count == 0:
        raise RuntimeError('no int8 activation QuantizeLinear found to insert the uint8 Cast after')


# ---- large models (GPU machine) ----

def randomize_zero_params(model):
    """Gives all-zero weights (ViT's head, zero-initialized biases) small random values: otherwise the outputs compare trivially."""
    import torch
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1 and float(p.abs().max()) == 0.0:
                p.normal_(0.0, 0.02)
    return model


def export_with_reference(w, name, model, inputs, output_names, opset, dynamic_axes=None, tol=1e-3):
    """Exports `model` and saves its PyTorch outputs on `inputs` beside it, as raw little-endian files
    (<name>.<tensor>.bin) the manifest describes, so the GPU check can compare without Python."""
    import torch
    path = os.path.join(w.out, name + '.onnx')
    torch_export(model, tuple(t for _, t in inputs), path, opset, [n for n, _ in inputs], output_names, dynamic_axes)
    with torch.no_grad():
        result = model(*[t for _, t in inputs])
    if hasattr(result, 'to_tuple'):  # transformers' ModelOutput
        result = result.to_tuple()
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]

    def save(tensor_name, t):
        array = t.detach().cpu().contiguous().numpy()
        file = f'{name}.{tensor_name}.bin'
        array.tofile(os.path.join(w.out, file))
        return {'name': tensor_name, 'dtype': str(array.dtype), 'shape': list(array.shape), 'file': file}
    entry = {
        'file': name + '.onnx', 'tol': tol,
        'inputs': [save(n, t) for n, t in inputs],
        'outputs': [save(n, t) for n, t in zip(output_names, outputs)],
    }
    if torch.cuda.is_available():
        try:
            entry['torch'] = time_on_gpu(model, [t for _, t in inputs])
        except Exception as e:  # e.g. an op without a float16 CUDA kernel: recorded, the export goes on
            entry['torch'] = {'error': str(e)[:200]}
        print(f'{name}: PyTorch fp16 on the GPU: {entry["torch"]}', file=sys.stderr)
    w.entries.append(entry)


def time_on_gpu(model, inputs, batch=BENCH_BATCH, iters=50):
    """Median ms per synchronized call of `model` in float16 on the GPU at batch `batch` (the inputs
    repeated along dim 0 to it): eager, and replayed as a CUDA graph; for scripts/check_onnx_large.ts --cuda."""
    import copy
    import statistics
    import time
    import torch
    m = copy.deepcopy(model).half().cuda().eval()
    reps = max(1, batch // inputs[0].shape[0])
    xs = [(t.half() if t.is_floating_point() else t).repeat(reps, *([1] * (t.dim() - 1))).cuda() for t in inputs]

    def median_ms(fn):
        for _ in range(10):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)
    result = {'batch': reps * inputs[0].shape[0]}
    with torch.no_grad():
        result['eager_ms'] = median_ms(lambda: m(*xs))
        try:
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    m(*xs)
            torch.cuda.current_stream().wait_stream(s)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                m(*xs)
            result['graph_ms'] = median_ms(graph.replay)
        except Exception as e:  # a model that cannot be captured: eager only
            result['graph_error'] = str(e)[:200]
    del m, xs
    torch.cuda.empty_cache()
    return result


def gen_large(out):
    """Full-size models with random weights, their inputs and PyTorch's outputs (see the module docstring)."""
    import torch
    import torchvision
    w = Writer(out)
    torch.manual_seed(0)
    image = torch.rand(1, 3, 224, 224) * 2 - 1
    tv = torchvision.models
    vision = [('resnet18', tv.resnet18), ('resnet50', tv.resnet50), ('mobilenet_v3_large', tv.mobilenet_v3_large),
              ('efficientnet_b0', tv.efficientnet_b0), ('vit_b_16', tv.vit_b_16), ('convnext_tiny', tv.convnext_tiny)]
    for name, ctor in vision:
        model = randomize_zero_params(ctor(weights=None).eval())
        export_with_reference(w, name, model, [('input', image)], ['logits'], 17, {'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    try:
        from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel
        text_models = [('bert_base', BertModel(BertConfig()), ['last_hidden_state', 'pooler_output']),
                       ('distilbert', DistilBertModel(DistilBertConfig()), ['last_hidden_state'])]
    except ImportError:
        print('transformers is not installed: BERT-base and DistilBERT are NOT exported (pip install transformers)', file=sys.stderr)
        text_models = []
    # Exported at batch 2: from a batch-1 example the exporter specializes the batch (BERT's reshape
    # targets become the constant [1, -1, heads, d]), and the file then fails at any other batch, in
    # ONNX Runtime as in our import.
    ids = torch.randint(0, 1000, (2, 128))
    mask = torch.ones(2, 128, dtype=torch.int64)
    mask[0, 100:] = 0
    mask[1, 64:] = 0
    for name, model, outputs in text_models:
        model = randomize_zero_params(model.eval())
        axes = {'input_ids': {0: 'batch', 1: 'seq'}, 'attention_mask': {0: 'batch', 1: 'seq'}}
        export_with_reference(w, name, model, [('input_ids', ids), ('attention_mask', mask)], outputs, 17, axes)
    # A value within float rounding of a quantization tie lands in either bucket, and the network amplifies the
    # difference: ONNX Runtime itself is 1.8e-2 (relative) from PyTorch on this model. Hence the looser tolerance.
    export_with_reference(w, 'resnet18_qdq', qdq_resnet18(tv, torch), [('input', image)], ['logits'], 13, tol=5e-2)
    w.finish()


def qdq_resnet18(tv, torch):
    """ResNet-18 with explicit quantization as pytorch_quantization exports it: every conv/linear input
    fake-quantized per tensor (scale from a calibration batch), every weight per output channel."""
    model = randomize_zero_params(tv.resnet18(weights=None).eval())
    amax = {}

    def hook(mod, inp):
        amax[mod] = max(amax.get(mod, 0.0), float(inp[0].detach().abs().max()))
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.randn(4, 3, 224, 224))
    for h in handles:
        h.remove()
    for m in list(amax):
        def fq_forward(x, m=m):
            x = torch.fake_quantize_per_tensor_affine(x, max(amax[m], 1e-6) / 127.0, 0, -128, 127)
            a = m.weight.detach().abs().flatten(1).amax(1).clamp(min=1e-6)
            wq = torch.fake_quantize_per_channel_affine(m.weight, a / 127.0, torch.zeros_like(a, dtype=torch.int32), 0, -128, 127)
            if isinstance(m, torch.nn.Conv2d):
                return m._conv_forward(x, wq, m.bias)
            return torch.nn.functional.linear(x, wq, m.bias)
        m.forward = fq_forward
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--large', action='store_true', help='export the full-size models instead (GPU machine)')
    ap.add_argument('--out', default=None, help='output folder (default: test/fixtures/onnx, or build/onnx_large with --large)')
    args = ap.parse_args()
    if args.large:
        gen_large(args.out or os.path.join(ROOT, 'build', 'onnx_large'))
        return
    out = args.out or FIXTURES
    w = Writer(out)
    for gen in (gen_elementwise, gen_activation, gen_conv_pool, gen_norm_linalg, gen_shape, gen_reduce, gen_pad_resize, gen_quant, gen_networks, gen_gather_nd):
        gen(w)
    w.finish()
    total = sum(os.path.getsize(os.path.join(out, e['file'])) for e in w.entries)
    print(f'{len(w.entries)} models, {total / 1024:.0f} KiB in {out}', file=sys.stderr)


if __name__ == '__main__':
    main()

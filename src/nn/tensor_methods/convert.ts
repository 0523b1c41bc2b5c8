/** Type conversion tensor methods (to, float, half, int, long, bool, typeAs, dequantize), mapped onto acc.to_dtype. */
import type { MappingRule } from '../../acc_ops/mapping.js';
import { describeValue } from '../../acc_ops/registry.js';
import { sig } from '../../ir/signature.js';
import { isDType, type DType } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { castTo, tensorArg } from '../functional/args.js';
import type { RuleFactory } from '../functional/define.js';
import '../functional/quant.js';
import { installFromF, installMethod } from './define.js';

/** A cast that, as PyTorch's, returns the receiver itself when it already has the dtype. */
const castRule = (dtype: DType): RuleFactory => (what): MappingRule => ({
  custom: (kw, e) => castTo(e, tensorArg(kw, 'input', what), dtype),
});

const SHORTHANDS: Readonly<Record<string, DType>> = {
  float: 'float32', half: 'float16', bfloat16: 'bfloat16', int: 'int32', long: 'int64', bool: 'bool', byte: 'uint8', char: 'int8',
};
for (const [name, dtype] of Object.entries(SHORTHANDS)) installMethod(name, sig('input'), castRule(dtype));

/** x.to(dtype) or x.to(other) (other's dtype). */
installMethod('to', sig('input', 'dtype'), (what): MappingRule => ({
  custom: (kw, e) => {
    const target = kw['dtype'];
    const input = tensorArg(kw, 'input', what);
    if (target instanceof Tensor) return castTo(e, input, e.meta(target).dtype);
    if (!isDType(target)) throw new TypeError(`${what}: expects a dtype or a Tensor, got ${describeValue(target)}`);
    return castTo(e, input, target);
  },
}));

installMethod('typeAs', sig('input', 'other'), (what): MappingRule => ({
  custom: (kw, e) => castTo(e, tensorArg(kw, 'input', what), e.meta(tensorArg(kw, 'other', what)).dtype),
}));

installFromF('dequantize');

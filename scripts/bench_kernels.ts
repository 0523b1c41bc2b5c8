/**
 * Throughput of the reference CPU kernels on one core: sgemm on square matrices and convNd on
 * every convolution of ResNet-18 at batch 1 (3x224x224).
 * Run: npx vite-node scripts/bench_kernels.ts
 */
import { sgemm } from '../src/kernels/reference/gemm.js';
import { convNd } from '../src/kernels/reference/conv.js';

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

/** Best wall time in ms of `reps` runs after one warm-up run. */
function bestOf(reps: number, fn: () => void): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const gflops = (flop: number, ms: number): string => (flop / ms / 1e6).toFixed(2);

// Let the JIT optimize the GEMM loops before anything is timed.
{
  const W = filled(192 * 192, 9);
  const C = new Float32Array(192 * 192);
  for (let i = 0; i < 20; i++) sgemm(false, false, 192, 192, 192, 1, W, 0, 192, W, 0, 192, 0, C, 0, 192);
}

console.log('sgemm (C = A*B, row-major, square)');
for (const n of [256, 512, 1024]) {
  const A = filled(n * n, 1);
  const B = filled(n * n, 2);
  const C = new Float32Array(n * n);
  const ms = bestOf(n >= 1024 ? 2 : 5, () => sgemm(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n));
  console.log(`  ${n}x${n}x${n}: ${ms.toFixed(1)} ms, ${gflops(2 * n ** 3, ms)} GFLOP/s`);
}

interface ConvLayer { name: string; count: number; c: number; hw: number; o: number; k: number; s: number; p: number }
const resnet18: ConvLayer[] = [
  { name: 'conv1 7x7/2', count: 1, c: 3, hw: 224, o: 64, k: 7, s: 2, p: 3 },
  { name: 'layer1 3x3 64', count: 4, c: 64, hw: 56, o: 64, k: 3, s: 1, p: 1 },
  { name: 'layer2 3x3/2 64->128', count: 1, c: 64, hw: 56, o: 128, k: 3, s: 2, p: 1 },
  { name: 'layer2 3x3 128', count: 3, c: 128, hw: 28, o: 128, k: 3, s: 1, p: 1 },
  { name: 'layer2 down 1x1/2', count: 1, c: 64, hw: 56, o: 128, k: 1, s: 2, p: 0 },
  { name: 'layer3 3x3/2 128->256', count: 1, c: 128, hw: 28, o: 256, k: 3, s: 2, p: 1 },
  { name: 'layer3 3x3 256', count: 3, c: 256, hw: 14, o: 256, k: 3, s: 1, p: 1 },
  { name: 'layer3 down 1x1/2', count: 1, c: 128, hw: 28, o: 256, k: 1, s: 2, p: 0 },
  { name: 'layer4 3x3/2 256->512', count: 1, c: 256, hw: 14, o: 512, k: 3, s: 2, p: 1 },
  { name: 'layer4 3x3 512', count: 3, c: 512, hw: 7, o: 512, k: 3, s: 1, p: 1 },
  { name: 'layer4 down 1x1/2', count: 1, c: 256, hw: 14, o: 512, k: 1, s: 2, p: 0 },
];

console.log('\nconvNd, ResNet-18 convolutions at batch 1 (FLOP = 2 * MACs)');
let totalMs = 0;
let totalFlop = 0;
for (const L of resnet18) {
  const x = filled(L.c * L.hw * L.hw, 3);
  const w = filled(L.o * L.c * L.k * L.k, 4);
  const b = filled(L.o, 5);
  const opts = { stride: [L.s, L.s], padding: [L.p, L.p], dilation: [1, 1], groups: 1 };
  const out = Math.floor((L.hw + 2 * L.p - L.k) / L.s) + 1;
  const flop = 2 * L.o * out * out * L.c * L.k * L.k;
  const ms = bestOf(3, () => convNd(x, [1, L.c, L.hw, L.hw], w, [L.o, L.c, L.k, L.k], b, opts));
  totalMs += ms * L.count;
  totalFlop += flop * L.count;
  console.log(`  ${L.name.padEnd(22)} x${L.count}: ${ms.toFixed(1).padStart(6)} ms each, ${gflops(flop, ms)} GFLOP/s`);
}
console.log(`  total: ${(totalFlop / 1e9).toFixed(2)} GFLOP in ${totalMs.toFixed(0)} ms, ${gflops(totalFlop, totalMs)} GFLOP/s`);

import { defineConfig } from 'vitest/config';

// The GPU suite (scripts/gpu/run.sh): needs a CUDA device and the built addon. --expose-gc lets
// the leak tests collect undisposed tensors on purpose.
export default defineConfig({
  test: {
    include: ['test/gpu/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'], singleFork: true } },
  },
});

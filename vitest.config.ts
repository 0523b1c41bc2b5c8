import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/gpu needs a CUDA device: scripts/gpu/run.sh runs it with vitest.gpu.config.ts.
    exclude: [...configDefaults.exclude, 'test/gpu/**'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});

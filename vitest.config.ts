import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'policies/**/*.test.ts', 'agent/**/*.test.ts', 'server/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'test/bench/**'],
    setupFiles: ['test/support/tool-home.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

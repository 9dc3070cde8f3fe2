import { defineConfig } from 'vitest/config';

// `npm run test:electron`: the real Electron, on a connected machine (its binary cannot be
// downloaded on the offline build machines). Not part of `npm test` / CI.
export default defineConfig({
  test: {
    include: ['test/electron/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

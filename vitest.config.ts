import { defineConfig } from 'vitest/config';
import { KitLastSequencer } from './test/support/sequencer.js';

export default defineConfig({
  test: {
    // The image kit's test last (its images build in the background meanwhile). Vitest reads this at the root only.
    sequence: { sequencer: KitLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Real containers take seconds; files share one Docker engine, so run them one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // The provisioning test (npm run test:deploy): minutes, so not part of npm test.
          name: 'deploy',
          include: ['test/deploy/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 1_800_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});

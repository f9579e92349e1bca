import { defineConfig } from 'vitest/config';

// Test files that start ensembles must not overlap: two clusters on a 2-core machine starve each other
// (design-notes §6). Unit tests are fast, so running every file in turn costs little.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['{ground,cluster,workloads,nemesis,checker,src}/**/*.test.ts'],
    // It imports its JSON schema without an import attribute, which Node refuses: bundled by Vite, it loads.
    deps: { optimizer: { ssr: { enabled: true, include: ['@actions/workflow-parser'] } } },
  },
});

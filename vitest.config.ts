import { defineConfig } from 'vitest/config';

/**
 * The test tiers (README "Tests"). unit: beside the code, needs nothing but node_modules (no root, Java,
 * ZooKeeper, Docker or browser), seconds. integration: real ensembles, workers, Docker (tests/integration).
 * browser: reports in Chromium (tests/browser). e2e: whole runs of the CLI (tests/e2e).
 * Files run one at a time: two ensembles on a 2-core machine starve each other, and unit files are fast anyway.
 */
const tier = (name: string, include: string[]) => ({ extends: true as const, test: { name, include } });

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      tier('unit', ['{ground,cluster,nemesis,workloads,checker,testbed,hosts,src}/**/*.test.ts', 'tests/unit/**/*.test.ts']),
      tier('integration', ['tests/integration/**/*.test.ts']),
      tier('browser', ['tests/browser/**/*.test.ts']),
      tier('e2e', ['tests/e2e/**/*.test.ts']),
    ],
    // @actions/workflow-parser imports its JSON schema without an import attribute, which Node refuses: bundled by Vite, it loads.
    deps: { optimizer: { ssr: { enabled: true, include: ['@actions/workflow-parser'] } } },
  },
});

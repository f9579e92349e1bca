import { defineConfig } from 'vitest/config';

/**
 * The test tiers (README "Tests"). unit: beside the code, needs nothing but node_modules (no root, Java,
 * ZooKeeper, Docker or browser), seconds. integration: real ensembles, workers, Docker (tests/integration).
 * browser: reports in Chromium (tests/browser). e2e: whole runs of the CLI (tests/e2e).
 * Files run one at a time, two ensembles on a 2-core machine starve each other; except unit files, which touch
 * nothing shared and take half the time two at a time.
 */
const tier = (name: string, include: string[], fileParallelism = false) => ({ extends: true as const, test: { name, include, fileParallelism } });

export default defineConfig({
  test: {
    // Two: the machines have two cores, and vitest's default leaves one idle.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      tier('unit', ['{ground,cluster,nemesis,workloads,checker,testbed,hosts,src}/**/*.test.ts', 'tests/unit/**/*.test.ts'], true),
      tier('integration', ['tests/integration/**/*.test.ts']),
      tier('browser', ['tests/browser/**/*.test.ts']),
      tier('e2e', ['tests/e2e/**/*.test.ts']),
    ],
    // @actions/workflow-parser imports its JSON schema without an import attribute, which Node refuses: bundled by Vite, it loads.
    deps: { optimizer: { ssr: { enabled: true, include: ['@actions/workflow-parser'] } } },
  },
});

import { defineConfig } from 'vitest/config';

/**
 * The test tiers (README "Tests"). unit: beside the code, needs nothing but node_modules (no root, Java,
 * ZooKeeper, Docker or browser), seconds. integration: real ensembles, workers, Docker (tests/integration).
 * browser: reports in Chromium (tests/browser). e2e: whole runs of the CLI (tests/e2e).
 * Unit files run two at a time: they touch nothing shared. So do e2e files: each run owns its ensemble, ids,
 * namespaces and subnet, and they mostly wait on time limits and sessions (979 s one at a time, 567–612 s two at
 * a time). Integration files run one at a time: some share one ensemble among many sessions, set up
 * the machine or sweep it.
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
      tier('e2e', ['tests/e2e/**/*.test.ts'], true),
    ],
    // @actions/workflow-parser imports its JSON schema without an import attribute, which Node refuses: bundled by Vite, it loads.
    deps: { optimizer: { ssr: { enabled: true, include: ['@actions/workflow-parser'] } } },
  },
});

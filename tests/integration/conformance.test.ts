/**
 * The conformance suite (conformance.ts) against a real three-node ensemble, for every recipe in RECIPES (each
 * version; those from newer Debian releases are fetched into the project's cache first), and for a user's worker:
 * WORKER_COMMAND="<command>" npx vitest run workloads/conformance.test.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Testbed } from '../../testbed/testbed.ts';
import { CONFORMANCE_CASES, runCase } from '../../workloads/conformance.ts';
import { prepareRecipe, RECIPES, type RecipeName, type WorkerLaunch } from '../../workloads/recipes.ts';

const logRoot = fileURLToPath(new URL('../../test-output/conformance/', import.meta.url));

const subjects: [name: string, launch: () => Promise<WorkerLaunch>][] = Object.keys(RECIPES).map((name) => [name, () => prepareRecipe(name as RecipeName)]);
const userCommand = process.env.WORKER_COMMAND;
if (userCommand !== undefined && userCommand.trim() !== '') {
  subjects.push(['WORKER_COMMAND', async () => ({ command: ['sh', '-c', `exec ${userCommand}`], env: process.env })]);
}

let testbed: Testbed | undefined;

beforeAll(async () => {
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-conformance-'));
  testbed = await Testbed.start({ cluster: { runDir }, afterTeardown: () => rm(runDir, { recursive: true, force: true }) });
});

afterAll(async () => {
  await testbed?.teardown();
});

describe.each(subjects)('worker %s', (name, launch) => {
  for (const testCase of CONFORMANCE_CASES) {
    it(testCase.name, async () => runCase(testCase, { ...(await launch()), connect: testbed!.cluster.connectString(), logDir: join(logRoot, name) }));
  }
});

// Curator's second leader recipe, picked by the worker option leaderRecipe (the first, LeaderLatch, is the default).
describe.each(['curator@5.4.0', 'curator@5.7.1'] as const)('worker %s with leaderRecipe selector (LeaderSelector)', (name) => {
  for (const testCase of CONFORMANCE_CASES.filter((candidate) => candidate.name.startsWith('election'))) {
    it(testCase.name, async () => runCase(testCase, {
      ...(await prepareRecipe(name)), connect: testbed!.cluster.connectString(), logDir: join(logRoot, `${name}-selector`), initOptions: { leaderRecipe: 'selector' },
    }));
  }
});

/**
 * The conformance suite (conformance.ts) against a real three-node ensemble, for every recipe in RECIPES whose
 * worker file exists, and for a user's worker: WORKER_COMMAND="<command>" npx vitest run workloads/conformance.test.ts
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createCluster, type Cluster } from '../cluster/index.ts';
import { CONFORMANCE_CASES, runCase } from './conformance.ts';
import { RECIPES } from './recipes.ts';

const workersDir = fileURLToPath(new URL('./workers/', import.meta.url));
const logRoot = fileURLToPath(new URL('../test-output/conformance/', import.meta.url));

/** A recipe joins once its worker file is written (kazoo and Curator come from another engineer). */
const workerFileExists = (command: readonly string[]): boolean =>
  command.some((arg) => arg.startsWith(workersDir) && existsSync(arg));

const subjects: [name: string, command: readonly string[]][] = Object.entries(RECIPES).filter(([, command]) => workerFileExists(command));
const userCommand = process.env.WORKER_COMMAND;
if (userCommand !== undefined && userCommand.trim() !== '') subjects.push(['WORKER_COMMAND', ['sh', '-c', `exec ${userCommand}`]]);

let cluster: Cluster | undefined;

beforeAll(async () => {
  cluster = await createCluster({ runDir: await mkdtemp(join(tmpdir(), 'zkj-conformance-')) });
  await cluster.start();
});

afterAll(async () => {
  await cluster?.teardown();
});

describe.each(subjects)('worker %s', (name, command) => {
  for (const testCase of CONFORMANCE_CASES) {
    it(testCase.name, () => runCase(testCase, { command, connect: cluster!.connectString(), logDir: join(logRoot, name) }));
  }
});

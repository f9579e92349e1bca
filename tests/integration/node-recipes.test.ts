/**
 * The two Node recipes under the faults they exist for, through the fault proxy in front of a real ensemble:
 * a lost create reply (P3) and a lost cleanup delete (P1). node-naive must show each pathology, node-safe neither.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminSession } from '../../ground/zk-admin.ts';
import { Testbed } from '../../testbed/testbed.ts';
import { RECIPES } from '../../workloads/recipes.ts';
import type { WorkerProcess } from '../../workloads/worker-process.ts';

let testbed: Testbed;
let admin: AdminSession;
let runDir: string;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'zkj-node-recipes-'));
  testbed = await Testbed.start({ cluster: { runDir }, proxy: { logFile: join(runDir, 'proxy.log') }, afterTeardown: () => rm(runDir, { recursive: true, force: true }) });
  admin = await AdminSession.connect(testbed.cluster.connectString());
});

afterEach(async () => {
  await testbed.stopWorkerHosts();
});

afterAll(async () => {
  admin?.close();
  await testbed?.teardown();
});

async function startWorker(recipe: 'node-naive' | 'node-safe', host: string, client: string, lockRoot: string): Promise<WorkerProcess> {
  const worker = await testbed.addWorkerHost({
    name: host, clients: [client], launch: RECIPES[recipe].launch(), logFile: join(runDir, `${recipe}-${host}.log`), sessionTimeoutMs: 4_000, lockRoot,
  });
  expect(worker.init.type).toBe('init_ok');
  return worker.process;
}

describe.each(['node-naive', 'node-safe'] as const)('%s', (recipe) => {
  const naive = recipe === 'node-naive';

  it(naive ? 'P3: a lost create reply leaves an orphan of its own session, and the client deadlocks on it' : 'P3: a lost create reply is found again by its GUID', async () => {
    const lockRoot = `/recipes/${recipe}-p3-${Date.now()}`;
    const worker = await startWorker(recipe, 'w1', 'a1', lockRoot);
    // As in a run, the lock's parent exists, so the fault hits the contender's create and nothing else.
    await admin.ensurePath(`${lockRoot}/p3`);
    const fault = await testbed.proxy.armLostReply({ ops: ['create', 'create2'], pathPrefix: `${lockRoot}/p3/`, clientHost: 'w1' });
    const answer = await worker.request({ type: 'acquire', client: 'a1', lock: 'p3', mode: 'blocking', timeoutMs: 3_000 });
    expect((await fault.applied)?.event).toBe('reply-dropped');
    const children = await admin.lockChildren(`${lockRoot}/p3`);
    if (naive) {
      // Nobody holds the lock, yet the waiter timed out behind a node of its own session.
      expect(answer).toMatchObject({ type: 'fail', error: 'timeout' });
      expect(children).toHaveLength(1);
      expect(children[0]!.ephemeralOwner).toBe(answer.session);
    } else {
      expect(answer).toMatchObject({ type: 'ok' });
      expect(children.map((child) => child.path)).toEqual([answer.node]);
      expect(children[0]!.czxid).toBe(answer.token);
    }
  });

  it('a lost reply to a create that failed for want of the lock\'s parent: the acquire goes on and succeeds', async () => {
    const lockRoot = `/recipes/${recipe}-noparent-${Date.now()}`;
    const worker = await startWorker(recipe, 'w1', 'a1', lockRoot);
    const fault = await testbed.proxy.armLostReply({ ops: ['create', 'create2'], pathPrefix: `${lockRoot}/fresh/`, clientHost: 'w1' });
    const answer = await worker.request({ type: 'acquire', client: 'a1', lock: 'fresh', mode: 'try' });
    expect((await fault.applied)?.event).toBe('reply-dropped');
    expect(answer.type).toBe('ok');
    expect((await admin.lockChildren(`${lockRoot}/fresh`)).map((child) => child.path)).toEqual([answer.node]);
  });

  it(naive ? 'P1: a lost cleanup delete after a failed try-lock leaks a node that blocks the lock once it is free' : 'P1: the cleanup delete is retried, nothing leaks', async () => {
    const lockRoot = `/recipes/${recipe}-p1-${Date.now()}`;
    const holder = await startWorker(recipe, 'w1', 'a1', lockRoot);
    const contender = await startWorker(recipe, 'w2', 'b1', lockRoot);
    const held = await holder.request({ type: 'acquire', client: 'a1', lock: 'p1', mode: 'try' });
    expect(held.type).toBe('ok');
    const fault = await testbed.proxy.armLostRequest({ ops: ['delete'], pathPrefix: `${lockRoot}/p1/`, clientHost: 'w2' });
    expect(await contender.request({ type: 'acquire', client: 'b1', lock: 'p1', mode: 'try' })).toMatchObject({ type: 'fail', error: 'held' });
    expect((await fault.applied)?.event).toBe('request-dropped');
    expect((await holder.request({ type: 'release', client: 'a1', lock: 'p1' })).type).toBe('ok');

    const children = await admin.lockChildren(`${lockRoot}/p1`);
    const retry = await holder.request({ type: 'acquire', client: 'a1', lock: 'p1', mode: 'try' });
    if (naive) {
      // The leaked contender node is now the lowest: the lock is free, and nobody can take it.
      expect(children).toHaveLength(1);
      expect(retry).toMatchObject({ type: 'fail', error: 'held' });
    } else {
      expect(children).toEqual([]);
      expect(retry.type).toBe('ok');
    }
  });
});

/**
 * What the rwlock workload finds in released libraries, pinned down step by step through their workers against a
 * real ensemble (the runs find the same by chance; here each is forced):
 * - Curator 5.4.0 (CURATOR-621): a writer queued behind a client that downgrades gets the lock as soon as that
 *   client releases its write side, while it still reads. Curator 5.7.1 keeps the writer waiting.
 * - kazoo 2.8.0 (kazoo #649): a ReadLock waits for a write node queued after it, and that writer waits for the
 *   reader: neither gets the lock though nobody holds it. kazoo 2.11.0 gives the reader the lock.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Testbed } from '../../testbed/testbed.ts';
import { runCase, type CaseFixture } from '../../workloads/conformance.ts';
import type { LockAccess, WorkerAnswer } from '../../workloads/protocol.ts';
import { prepareRecipe, type RecipeName } from '../../workloads/recipes.ts';
import type { OutgoingRequest } from '../../workloads/worker-process.ts';

const logRoot = fileURLToPath(new URL('../../test-output/rwlock-findings/', import.meta.url));
/** Long enough to tell "waits" from "got it" on a loaded machine; short enough for a quick test. */
const WAITS_MS = 2_000;
const PATIENT_MS = 30_000;

const acquire = (client: string, access: LockAccess, timeoutMs = PATIENT_MS): OutgoingRequest =>
  ({ type: 'acquire', client, lock: 'rw', mode: 'blocking', timeoutMs, access });
const release = (client: string, access: LockAccess): OutgoingRequest => ({ type: 'release', client, lock: 'rw', access });
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the answer, or with 'waiting' if none came within `ms`. */
const within = (answer: Promise<WorkerAnswer>, ms: number): Promise<WorkerAnswer | 'waiting'> =>
  Promise.race([answer, pause(ms).then(() => 'waiting' as const)]);

async function untilQueued(fixture: CaseFixture, nodes: number): Promise<void> {
  for (let tries = 0; (await fixture.children('rw')).length < nodes; tries++) {
    assert.ok(tries < 200, `${nodes} nodes queued on rw`);
    await pause(50);
  }
}

let testbed: Testbed | undefined;

beforeAll(async () => {
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-rwlock-findings-'));
  testbed = await Testbed.start({ cluster: { runDir }, afterTeardown: () => rm(runDir, { recursive: true, force: true }) });
});

afterAll(async () => {
  await testbed?.teardown();
});

async function runFinding(recipe: RecipeName, name: string, body: (fixture: CaseFixture) => Promise<void>): Promise<void> {
  await runCase({ name, run: body }, { ...(await prepareRecipe(recipe)), connect: testbed!.cluster.connectString(), logDir: join(logRoot, recipe) });
}

describe.each([['curator@5.4.0', true], ['curator@5.7.1', false]] as const)('%s: a writer queued behind a downgrade', (recipe, writerGetsIn) => {
  it(writerGetsIn ? 'gets the lock while the downgraded client still reads (CURATOR-621)' : 'waits until the downgraded client stops reading', async () => {
    await runFinding(recipe, 'downgrade under contention', async (fixture) => {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1'])];
      assert.equal((await w1.request(acquire('a1', 'write'))).type, 'ok', 'a1 writes');
      const writer = w2.request(acquire('b1', 'write'));
      await untilQueued(fixture, 2);
      assert.equal((await w1.request(acquire('a1', 'read', WAITS_MS))).type, 'ok', 'a1 downgrades: read beside its own write');
      assert.equal((await w1.request(release('a1', 'write'))).type, 'ok', 'a1 releases its write side and only reads now');
      const early = await within(writer, WAITS_MS);
      if (writerGetsIn) {
        assert.notEqual(early, 'waiting', 'b1 got the write lock while a1 reads');
        assert.equal((early as WorkerAnswer).type, 'ok');
      } else {
        assert.equal(early, 'waiting', `b1 must wait while a1 reads: ${JSON.stringify(early)}`);
      }
      assert.equal((await w1.request(release('a1', 'read'))).type, 'ok', 'a1 stops reading');
      assert.equal((await writer).type, 'ok', 'b1 writes');
      assert.equal((await w2.request(release('b1', 'write'))).type, 'ok', 'b1 releases');
    });
  });
});

describe.each([['kazoo@2.8.0', true], ['kazoo@2.11.0', false]] as const)('%s: a reader between two writers', (recipe, deadlocks) => {
  it(deadlocks ? 'waits for the later writer, which waits for it, though nobody holds the lock (kazoo #649)' : 'gets the lock when the first writer releases', async () => {
    await runFinding(recipe, 'reader between writers', async (fixture) => {
      const [w1, w2] = [await fixture.worker('w1', ['a1', 'a2']), await fixture.worker('w2', ['b1'])];
      assert.equal((await w1.request(acquire('a1', 'write'))).type, 'ok', 'a1 writes');
      const reader = w2.request(acquire('b1', 'read', 3 * WAITS_MS));
      await untilQueued(fixture, 2);
      const laterWriter = w1.request(acquire('a2', 'write'));
      await untilQueued(fixture, 3);
      assert.equal((await w1.request(release('a1', 'write'))).type, 'ok', 'a1 releases');
      const read = await within(reader, WAITS_MS);
      if (deadlocks) {
        assert.equal(read, 'waiting', `b1 waits though only a later writer is queued: ${JSON.stringify(read)}`);
        // Both give up on their timeouts: the reader and the later writer waited for each other.
        assert.equal((await reader).type, 'fail', 'b1 times out');
        assert.equal((await laterWriter).type, 'ok', 'a2 gets the lock once the reader gave up');
        assert.equal((await w1.request(release('a2', 'write'))).type, 'ok');
      } else {
        assert.equal(read !== 'waiting' && read.type, 'ok', `b1 reads once a1 released: ${JSON.stringify(read)}`);
        assert.equal((await w2.request(release('b1', 'read'))).type, 'ok');
        assert.equal((await laterWriter).type, 'ok', 'a2 writes after the reader');
        assert.equal((await w1.request(release('a2', 'write'))).type, 'ok');
      }
    });
  });
});

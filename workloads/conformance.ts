/**
 * The conformance suite of docs/worker-protocol.md: what every worker must do against a real ensemble, without
 * faults (except the session expiry it provokes itself). The cases are plain async functions that throw on a
 * violation, so they run under vitest (conformance.test.ts, for every recipe and for WORKER_COMMAND) or anywhere
 * else: `runConformance({ command, connect, logDir })`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { LockChild } from '../ground/history.ts';
import { AdminSession } from '../ground/zk-admin.ts';
import { startFencedResource } from './fenced-resource.ts';
import {
  ANSWER_ERRORS, WORKER_FEATURES, WORKER_PROTOCOL_VERSION, type LeadershipEvent, type LockAccess, type WorkerAnswer, type WorkerEvent,
} from './protocol.ts';
import { WorkerProcess, type OutgoingRequest } from './worker-process.ts';

export interface ConformanceOptions {
  /** argv of the worker under test. */
  command: readonly string[];
  /** Its environment (a recipe's WorkerLaunch.env); default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Connect string of a running ensemble (straight to the servers). */
  connect: string;
  /** Worker logs go to <logDir>/<case>/<worker>.log. */
  logDir: string;
  /** init's options (the worker's recipe options, e.g. Curator's leaderRecipe); default none. */
  initOptions?: Record<string, unknown>;
}

export interface ConformanceCase {
  name: string;
  run(fixture: CaseFixture): Promise<void>;
}

/** Long enough that a loaded 2-core machine does not expire sessions by accident (the cluster's ceiling is 20 ticks). */
const SESSION_TIMEOUT_MS = 4_000;
/** The session the expiry case lets lapse: short, so the case is quick. */
const SHORT_SESSION_TIMEOUT_MS = 1_000;
/** A blocking acquire that should succeed: far longer than any wait without faults. */
const PATIENT_TIMEOUT_MS = 30_000;
const EVENT_BOUND_MS = 20_000;

/** What a case works with: its own lock root, workers it starts (stopped at the end), and an audit session. */
export class CaseFixture {
  readonly lockRoot = `/conformance/${randomUUID().slice(0, 8)}`;
  readonly events: (WorkerEvent & { worker: string })[] = [];
  /** Lines on stdout that broke the protocol; a conforming worker has none. */
  readonly violations: string[] = [];
  /** The features the last worker started announced in init_ok (every worker of one command announces the same). */
  features: readonly string[] = [];
  private readonly workers: WorkerProcess[] = [];
  private admin: AdminSession | undefined;

  constructor(private readonly options: ConformanceOptions, private readonly caseDir: string) {}

  /** Starts a worker hosting `clients` and waits for init_ok. */
  async worker(name: string, clients: string[], sessionTimeoutMs = SESSION_TIMEOUT_MS): Promise<WorkerProcess> {
    const worker = WorkerProcess.spawn({ name, command: this.options.command, env: this.options.env, logFile: join(this.caseDir, `${name}.log`) });
    this.workers.push(worker);
    worker.onEvent((event) => this.events.push({ ...event, worker: name }));
    worker.onProtocolViolation((detail) => this.violations.push(`${name}: ${detail}`));
    const answer = await worker.init({
      type: 'init', protocolVersion: WORKER_PROTOCOL_VERSION, connect: this.options.connect, sessionTimeoutMs, clients, lockRoot: this.lockRoot, options: this.options.initOptions ?? {},
    });
    assert.equal(answer.type, 'init_ok', `worker ${name} init: ${JSON.stringify(answer)}`);
    this.features = answer.features ?? [];
    return worker;
  }

  /** The children of a lock, read after a sync; `nested`: the ephemeral nodes at any depth (a semaphore's). */
  async children(lock: string, nested = false): Promise<LockChild[]> {
    this.admin ??= await AdminSession.connect(this.options.connect);
    return this.admin.lockChildren(`${this.lockRoot}/${lock}`, nested);
  }

  async waitForEvent(match: (event: WorkerEvent & { worker: string }) => boolean, what: string): Promise<WorkerEvent> {
    const deadline = performance.now() + EVENT_BOUND_MS;
    for (;;) {
      const event = this.events.find(match);
      if (event !== undefined) return event;
      assert.ok(performance.now() < deadline, `no ${what} within ${EVENT_BOUND_MS} ms; events: ${JSON.stringify(this.events)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
    this.admin?.close();
  }
}

function expectAnswer(answer: WorkerAnswer, type: WorkerAnswer['type'], what: string, error?: string): void {
  const detail = `${what}: ${JSON.stringify(answer)}`;
  assert.equal(answer.type, type, detail);
  if (error !== undefined) assert.equal(answer.error, error, detail);
}

const acquire = (client: string, lock: string, mode: 'try' | 'blocking', timeoutMs?: number, access?: LockAccess, permits?: number): OutgoingRequest =>
  ({ type: 'acquire', client, lock, mode, ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(access === undefined ? {} : { access }), ...(permits === undefined ? {} : { permits }) });
const campaign = (client: string, election: string): OutgoingRequest => ({ type: 'campaign', client, election });
const resign = (client: string, election: string): OutgoingRequest => ({ type: 'resign', client, election });

/** The leadership events of `client` in `election` so far. */
const leadershipOf = (fixture: CaseFixture, client: string, election: string): LeadershipEvent[] =>
  fixture.events.filter((event): event is LeadershipEvent & { worker: string } =>
    event.event === 'leadership' && event.client === client && event.election === election);
const release = (client: string, lock: string, access?: LockAccess): OutgoingRequest =>
  ({ type: 'release', client, lock, ...(access === undefined ? {} : { access }) });

/** A request in flight, with the moment its answer came (undefined while it waits). */
function inFlight(answer: Promise<WorkerAnswer>): { answer: Promise<WorkerAnswer>; answeredAt: () => number | undefined } {
  let answeredAt: number | undefined;
  return { answer: answer.then((value) => ((answeredAt = performance.now()), value)), answeredAt: () => answeredAt };
}

/** How long a case lets a request wait to show that it waits. */
const WAITS_MS = 1_500;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An acquire ok names a node of the lock, and its token is that node's czxid (or null). */
async function expectHolderNode(fixture: CaseFixture, lock: string, answer: WorkerAnswer, what: string): Promise<void> {
  const node = (await fixture.children(lock)).find((child) => child.path === answer.node);
  assert.ok(node !== undefined, `${what}: the answer names a node of the lock: ${JSON.stringify(answer)}`);
  if (answer.token !== null) assert.equal(answer.token, node.czxid, `${what}: the token is the czxid of its node`);
}

export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  {
    name: 'init answers init_ok once every client is connected, each with a connected event and its session id',
    async run(fixture) {
      await fixture.worker('w1', ['c1', 'c2', 'c3']);
      for (const client of ['c1', 'c2', 'c3']) {
        const connected = fixture.events.find((event) => event.client === client && event.event === 'connected');
        assert.ok(connected?.session?.match(/^0x[0-9a-f]+$/), `connected event with a session for ${client}: ${JSON.stringify(fixture.events)}`);
      }
    },
  },
  {
    name: 'mutual exclusion without faults across two worker processes',
    async run(fixture) {
      const rounds = 5;
      const resource = await startFencedResource({ fencing: true });
      try {
        const workers = [await fixture.worker('w1', ['a1', 'a2', 'a3']), await fixture.worker('w2', ['b1', 'b2', 'b3'])];
        const windows: { client: string; start: number; end: number }[] = [];
        await Promise.all(workers.flatMap((worker) => worker.clients.map(async (client) => {
          for (let round = 0; round < rounds; round++) {
            const acquired = await worker.request(acquire(client, 'mutex', 'blocking', PATIENT_TIMEOUT_MS));
            const start = performance.now();
            expectAnswer(acquired, 'ok', `${client} blocking acquire`);
            const written = await worker.request({ type: 'fenced-write', client, lock: 'mutex', resource: resource.url('mutex'), value: round });
            expectAnswer(written, 'ok', `${client} fenced-write while holding`);
            const end = performance.now();
            expectAnswer(await worker.request(release(client, 'mutex')), 'ok', `${client} release`);
            windows.push({ client, start, end });
          }
        })));
        windows.sort((a, b) => a.start - b.start);
        for (let index = 1; index < windows.length; index++) {
          const [before, after] = [windows[index - 1]!, windows[index]!];
          assert.ok(after.start > before.end, `${after.client} acquired at ${after.start} before ${before.client} released at ${before.end}`);
        }
        assert.equal(windows.length, 6 * rounds);
        assert.deepEqual(await fixture.children('mutex'), [], 'no node left after every release');
      } finally {
        await resource.close();
      }
    },
  },
  {
    name: 'a try-lock on a held lock fails with "held" and leaves no node behind',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1'])];
      const held = await w1.request(acquire('a1', 'try', 'try'));
      expectAnswer(held, 'ok', 'a1 try-lock on a free lock');
      for (let attempt = 0; attempt < 3; attempt++) {
        expectAnswer(await w2.request(acquire('b1', 'try', 'try')), 'fail', 'b1 try-lock on a held lock', ANSWER_ERRORS.held);
      }
      assert.deepEqual((await fixture.children('try')).map((child) => child.path), [held.node], 'only the holder\'s node remains');
      expectAnswer(await w1.request(release('a1', 'try')), 'ok', 'a1 release');
      assert.deepEqual(await fixture.children('try'), [], 'no node after the release');
      expectAnswer(await w2.request(acquire('b1', 'try', 'try')), 'ok', 'b1 try-lock once the lock is free');
      expectAnswer(await w2.request(release('b1', 'try')), 'ok', 'b1 release');
    },
  },
  {
    name: 'a blocking acquire waits for the release; one that times out fails with "timeout" and leaves no node',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1', 'b2'])];
      const held = await w1.request(acquire('a1', 'wait', 'try'));
      expectAnswer(held, 'ok', 'a1 try-lock');

      const timeoutMs = 1_500;
      const timedOutAt = performance.now();
      const timedOut = await w2.request(acquire('b2', 'wait', 'blocking', timeoutMs));
      expectAnswer(timedOut, 'fail', 'b2 blocking acquire with a short timeout', ANSWER_ERRORS.timeout);
      assert.ok(performance.now() - timedOutAt >= timeoutMs * 0.9, `b2 gave up after ${Math.round(performance.now() - timedOutAt)} ms, before its ${timeoutMs} ms`);
      assert.deepEqual((await fixture.children('wait')).map((child) => child.path), [held.node], 'the timed-out waiter left no node');

      let waiterAnsweredAt: number | undefined;
      const waiting = w2.request(acquire('b1', 'wait', 'blocking', PATIENT_TIMEOUT_MS)).then((answer) => {
        waiterAnsweredAt = performance.now();
        return answer;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(waiterAnsweredAt, undefined, 'b1 must wait while a1 holds the lock');
      const releasedAt = performance.now();
      expectAnswer(await w1.request(release('a1', 'wait')), 'ok', 'a1 release');
      expectAnswer(await waiting, 'ok', 'b1 blocking acquire after the release');
      assert.ok(waiterAnsweredAt! > releasedAt, 'b1 acquired only after a1 released');
      expectAnswer(await w2.request(release('b1', 'wait')), 'ok', 'b1 release');
    },
  },
  {
    name: 'fence tokens are the czxid of the lock node and increase with every acquisition (or are null throughout)',
    async run(fixture) {
      const workers = { a1: await fixture.worker('w1', ['a1']), b1: await fixture.worker('w2', ['b1']) };
      const tokens: (number | null)[] = [];
      for (let round = 0; round < 6; round++) {
        const client = round % 2 === 0 ? 'a1' : 'b1';
        const worker = workers[client];
        const answer = await worker.request(acquire(client, 'fence', round % 3 === 0 ? 'try' : 'blocking', PATIENT_TIMEOUT_MS));
        expectAnswer(answer, 'ok', `${client} acquire ${round}`);
        assert.ok(answer.token === null || Number.isSafeInteger(answer.token), `token is an integer or null: ${answer.token}`);
        const [node] = await fixture.children('fence');
        assert.equal(node?.path, answer.node, 'the answer names the node that holds the lock');
        if (answer.token !== null) assert.equal(answer.token, node?.czxid, 'the token is the czxid of the lock node');
        tokens.push(answer.token ?? null);
        expectAnswer(await worker.request(release(client, 'fence')), 'ok', `${client} release ${round}`);
      }
      if (tokens.every((token) => token === null)) return;
      assert.ok(tokens.every((token) => token !== null), `a recipe gives a token always or never: ${tokens.join(', ')}`);
      for (let index = 1; index < tokens.length; index++) assert.ok(tokens[index]! > tokens[index - 1]!, `tokens increase: ${tokens.join(', ')}`);
    },
  },
  {
    name: 'release after the holder\'s session expired answers fail "lost", before and after the worker noticed; the worker reports the expiry and goes on',
    async run(fixture) {
      // The trick: SIGSTOP the holders' worker until other clients get their locks, which proves the sessions expired.
      // a1 releases the moment its worker resumes (it may not know yet); a2 releases once the expiry was reported.
      const holders = await fixture.worker('w1', ['a1', 'a2'], SHORT_SESSION_TIMEOUT_MS);
      const others = await fixture.worker('w2', ['b1', 'b2']);
      const pairs = [{ holder: 'a1', other: 'b1', lock: 'expiry1' }, { holder: 'a2', other: 'b2', lock: 'expiry2' }];
      const held = new Map<string, WorkerAnswer>();
      for (const { holder, lock } of pairs) {
        const answer = await holders.request(acquire(holder, lock, 'try'));
        expectAnswer(answer, 'ok', `${holder} try-lock`);
        held.set(holder, answer);
      }
      holders.signal('SIGSTOP');
      try {
        await Promise.all(pairs.map(async ({ holder, other, lock }) =>
          expectAnswer(await others.request(acquire(other, lock, 'blocking', PATIENT_TIMEOUT_MS)), 'ok', `${other} acquires once ${holder}'s session expired`)));
      } finally {
        holders.signal('SIGCONT');
      }
      expectAnswer(await holders.request(release('a1', 'expiry1')), 'fail', 'a1 release right after its worker resumed', ANSWER_ERRORS.lost);
      for (const { holder } of pairs) {
        const session = held.get(holder)!.session;
        await fixture.waitForEvent((event) => event.client === holder && event.event === 'expired' && event.session === session, `expired event for ${holder}'s session ${session}`);
      }
      expectAnswer(await holders.request(release('a2', 'expiry2')), 'fail', 'a2 release after the expiry was reported', ANSWER_ERRORS.lost);
      for (const { other, lock } of pairs) expectAnswer(await others.request(release(other, lock)), 'ok', `${other} release`);
      const again = await holders.request(acquire('a1', 'expiry1', 'blocking', PATIENT_TIMEOUT_MS));
      expectAnswer(again, 'ok', 'a1 acquires again, on a new session');
      assert.notEqual(again.session, held.get('a1')!.session, 'a new session after the expiry');
      expectAnswer(await holders.request(release('a1', 'expiry1')), 'ok', 'a1 release on its new session');
    },
  },
  {
    name: 'read/write lock (workers announcing read-write): readers share, a writer excludes readers and writers',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1', 'b2'])];
      if (!fixture.features.includes(WORKER_FEATURES.readWrite)) return;
      const lock = 'rw';
      const sideways = '{"id": 900101, "type": "acquire", "client": "a1", "lock": "rw", "mode": "try", "access": "sideways"}';
      expectAnswer(await w1.sendRaw(sideways, 900101), 'error', sideways);
      const readers = [[w1, 'a1'], [w2, 'b1']] as const;
      for (const [worker, client] of readers) {
        const read = await worker.request(acquire(client, lock, 'try', undefined, 'read'));
        expectAnswer(read, 'ok', `${client} read try-lock while only readers hold`);
        await expectHolderNode(fixture, lock, read, `${client} read`);
      }
      expectAnswer(await w2.request(acquire('b2', lock, 'try', undefined, 'write')), 'fail', 'b2 write try-lock while two readers hold', ANSWER_ERRORS.held);
      assert.equal((await fixture.children(lock)).length, 2, 'the failed writer left no node');
      expectAnswer(await w1.request(release('a1', lock, 'write')), 'fail', 'a1 release of the write side it does not hold', ANSWER_ERRORS.notHeld);

      const writer = inFlight(w2.request(acquire('b2', lock, 'blocking', PATIENT_TIMEOUT_MS, 'write')));
      await pause(WAITS_MS);
      assert.equal(writer.answeredAt(), undefined, 'b2 must wait while readers hold');
      expectAnswer(await w1.request(release('a1', lock, 'read')), 'ok', 'a1 read release');
      await pause(WAITS_MS);
      assert.equal(writer.answeredAt(), undefined, 'b2 must wait while b1 still reads');
      const lastReaderGoneAt = performance.now();
      expectAnswer(await w2.request(release('b1', lock, 'read')), 'ok', 'b1 read release');
      const written = await writer.answer;
      expectAnswer(written, 'ok', 'b2 write acquire once both readers released');
      assert.ok(writer.answeredAt()! > lastReaderGoneAt, 'b2 got the write lock only after the last reader released');
      await expectHolderNode(fixture, lock, written, 'b2 write');

      expectAnswer(await w1.request(acquire('a1', lock, 'try', undefined, 'read')), 'fail', 'a1 read try-lock while a writer holds', ANSWER_ERRORS.held);
      expectAnswer(await w2.request(acquire('b1', lock, 'try', undefined, 'write')), 'fail', 'b1 write try-lock while a writer holds', ANSWER_ERRORS.held);
      const reader = inFlight(w1.request(acquire('a1', lock, 'blocking', PATIENT_TIMEOUT_MS, 'read')));
      await pause(WAITS_MS);
      assert.equal(reader.answeredAt(), undefined, 'a1 must wait while b2 writes');
      const writerGoneAt = performance.now();
      expectAnswer(await w2.request(release('b2', lock, 'write')), 'ok', 'b2 write release');
      expectAnswer(await reader.answer, 'ok', 'a1 read acquire once the writer released');
      assert.ok(reader.answeredAt()! > writerGoneAt, 'a1 got the read lock only after b2 released');
      expectAnswer(await w1.request(release('a1', lock, 'read')), 'ok', 'a1 read release');
      assert.deepEqual(await fixture.children(lock), [], 'no node left after every release');
    },
  },
  {
    name: 'downgrade (workers announcing downgrade): write, read, release write leaves a reader; others refuse the read',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1'])];
      if (!fixture.features.includes(WORKER_FEATURES.readWrite)) return;
      const lock = 'downgrade';
      const write = await w1.request(acquire('a1', lock, 'try', undefined, 'write'));
      expectAnswer(write, 'ok', 'a1 write try-lock');
      if (!fixture.features.includes(WORKER_FEATURES.downgrade)) {
        // Without downgrade, the read side waits behind the client's own write hold: it never answers ok.
        const read = await w1.request(acquire('a1', lock, 'blocking', WAITS_MS, 'read'));
        assert.ok(read.type === 'fail' || read.type === 'error', `a1 read under its own write hold, without downgrade: ${JSON.stringify(read)}`);
        expectAnswer(await w1.request(release('a1', lock, 'write')), 'ok', 'a1 write release');
        assert.deepEqual(await fixture.children(lock), [], 'no node left');
        return;
      }
      const read = await w1.request(acquire('a1', lock, 'blocking', WAITS_MS, 'read'));
      expectAnswer(read, 'ok', 'a1 read acquire while holding the write side (downgrade)');
      await expectHolderNode(fixture, lock, read, 'a1 read');
      assert.notEqual(read.node, write.node, 'the read side has a node of its own');
      expectAnswer(await w1.request(release('a1', lock, 'write')), 'ok', 'a1 write release: a1 now only reads');
      expectAnswer(await w2.request(acquire('b1', lock, 'try', undefined, 'write')), 'fail', 'b1 write try-lock while a1 reads', ANSWER_ERRORS.held);
      expectAnswer(await w2.request(acquire('b1', lock, 'try', undefined, 'read')), 'ok', 'b1 read try-lock beside reader a1');
      for (const [worker, client] of [[w1, 'a1'], [w2, 'b1']] as const) {
        expectAnswer(await worker.request(release(client, lock, 'read')), 'ok', `${client} read release`);
      }
      assert.deepEqual(await fixture.children(lock), [], 'no node left after every release');
    },
  },
  {
    name: 'election (workers announcing leader): one leader at a time, elected after its campaign, in turn as leaders resign, token its node\'s czxid',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1']), await fixture.worker('w2', ['b1', 'b2'])];
      if (!fixture.features.includes(WORKER_FEATURES.leader)) return;
      const election = 'elect';
      const resource = await startFencedResource({ fencing: true });
      try {
        expectAnswer(await w1.request(resign('a1', election)), 'fail', 'a1 resign before any campaign', ANSWER_ERRORS.notCampaigning);
        const first = await w1.request(campaign('a1', election));
        expectAnswer(first, 'ok', 'a1 campaigns in an empty election');
        assert.match(first.session ?? '', /^0x[0-9a-f]+$/, 'the campaign answer names its session');
        expectAnswer(await w1.request(campaign('a1', election)), 'fail', 'a1 campaigns twice', ANSWER_ERRORS.alreadyCampaigning);
        const a1 = await fixture.waitForEvent((event) => event.event === 'leadership' && event.client === 'a1' && event.leading, 'a1 elected') as LeadershipEvent;
        await expectHolderNode(fixture, election, { in_reply_to: null, type: 'ok', token: a1.token ?? null, ...(a1.node === undefined ? {} : { node: a1.node }) }, 'a1 leadership');
        expectAnswer(await w1.request({ type: 'fenced-write', client: 'a1', election, resource: resource.url(election), value: 1 }), 'ok', 'a1 writes as leader');

        for (const client of ['b1', 'b2']) expectAnswer(await w2.request(campaign(client, election)), 'ok', `${client} campaigns behind a1`);
        await pause(WAITS_MS);
        assert.deepEqual([...leadershipOf(fixture, 'b1', election), ...leadershipOf(fixture, 'b2', election)], [], 'nobody else leads while a1 does');
        expectAnswer(await w2.request({ type: 'fenced-write', client: 'b1', election, resource: resource.url(election), value: 2 }), 'fail', 'b1 writes without leading', ANSWER_ERRORS.notCampaigning);

        const leaders = [a1];
        expectAnswer(await w1.request(resign('a1', election)), 'ok', 'a1 resigns as leader');
        for (const remaining = ['b1', 'b2']; remaining.length > 0;) {
          const next = await fixture.waitForEvent((event) => event.event === 'leadership' && event.leading && remaining.includes(event.client), `a leader among ${remaining.join(', ')}`) as LeadershipEvent;
          remaining.splice(remaining.indexOf(next.client), 1);
          leaders.push(next);
          assert.ok((await fixture.children(election)).some((child) => child.path === next.node), `${next.client}'s node is in the election`);
          await pause(WAITS_MS / 3);
          assert.deepEqual(remaining.flatMap((client) => leadershipOf(fixture, client, election)), [], `only ${next.client} leads`);
          expectAnswer(await w2.request(resign(next.client, election)), 'ok', `${next.client} resigns as leader`);
        }
        const tokens = leaders.map((leader) => leader.token ?? null);
        if (!tokens.every((token) => token === null)) {
          for (let index = 1; index < tokens.length; index++) assert.ok(tokens[index]! > tokens[index - 1]!, `leadership tokens increase: ${tokens.join(', ')}`);
        }
        assert.deepEqual(await fixture.children(election), [], 'no candidate node left after every resign');
        expectAnswer(await w1.request(resign('a1', election)), 'fail', 'a1 resigns again', ANSWER_ERRORS.notCampaigning);
      } finally {
        await resource.close();
      }
    },
  },
  {
    name: 'semaphore (workers announcing semaphore): at most permits clients hold a lease, a waiter gets the freed one, no node left',
    async run(fixture) {
      const [w1, w2] = [await fixture.worker('w1', ['a1', 'a2']), await fixture.worker('w2', ['b1'])];
      if (!fixture.features.includes(WORKER_FEATURES.semaphore)) return;
      const semaphore = 'sem';
      const lease = (client: string, mode: 'try' | 'blocking', timeoutMs?: number) => acquire(client, semaphore, mode, timeoutMs, undefined, 2);
      for (const [worker, client] of [[w1, 'a1'], [w2, 'b1']] as const) {
        const held = await worker.request(lease(client, 'try'));
        expectAnswer(held, 'ok', `${client} takes a lease of a semaphore of 2`);
        const node = (await fixture.children(semaphore, true)).find((child) => child.path === held.node);
        assert.ok(node !== undefined, `${client}'s lease names a node of the semaphore: ${JSON.stringify(held)}`);
        if (held.token !== null) assert.equal(held.token, node.czxid, `${client}'s token is the czxid of its lease node`);
      }
      expectAnswer(await w1.request(lease('a2', 'try')), 'fail', 'a2 try while both permits are taken', ANSWER_ERRORS.held);
      const waiter = inFlight(w1.request(lease('a2', 'blocking', PATIENT_TIMEOUT_MS)));
      await pause(WAITS_MS);
      assert.equal(waiter.answeredAt(), undefined, 'a2 must wait while both permits are taken');
      const freedAt = performance.now();
      expectAnswer(await w2.request(release('b1', semaphore)), 'ok', 'b1 gives its lease back');
      expectAnswer(await waiter.answer, 'ok', 'a2 gets the freed lease');
      assert.ok(waiter.answeredAt()! > freedAt, 'a2 got its lease only after b1 gave one back');
      for (const client of ['a1', 'a2']) expectAnswer(await w1.request(release(client, semaphore)), 'ok', `${client} release`);
      assert.deepEqual(await fixture.children(semaphore, true), [], 'no lease or contender node left');
    },
  },
  {
    name: 'a malformed request gets an error answer and the worker keeps serving',
    async run(fixture) {
      const worker = await fixture.worker('w1', ['a1']);
      expectAnswer(await worker.sendRaw('this is not JSON'), 'error', 'a line that is not JSON');
      const malformed: [line: string, id: number][] = [
        ['{"id": 900001, "type": "acquire", "client": "a1"}', 900001],
        ['{"id": 900002, "type": "frobnicate", "client": "a1"}', 900002],
        ['{"id": 900003, "type": "acquire", "client": "nobody", "lock": "m", "mode": "try"}', 900003],
        ['{"id": 900004, "type": "acquire", "client": "a1", "lock": "m", "mode": "sometimes"}', 900004],
      ];
      for (const [line, id] of malformed) expectAnswer(await worker.sendRaw(line, id), 'error', line);
      expectAnswer(await worker.request(acquire('a1', 'm', 'try')), 'ok', 'a valid acquire after the malformed ones');
      expectAnswer(await worker.request(release('a1', 'm')), 'ok', 'a valid release');
      assert.ok(worker.alive, 'the worker is still running');
    },
  },
];

/** Runs one case with its own fixture, stopping its workers whatever happens. */
export async function runCase(testCase: ConformanceCase, options: ConformanceOptions): Promise<void> {
  const slug = testCase.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60).replace(/-$/, '');
  const fixture = new CaseFixture(options, join(options.logDir, slug));
  try {
    await testCase.run(fixture);
  } finally {
    await fixture.close();
  }
  assert.deepEqual(fixture.violations, [], 'protocol violations on stdout');
}

export interface CaseResult {
  name: string;
  passed: boolean;
  error?: string;
}

/** Every case in turn, for a user's worker outside vitest. */
export async function runConformance(options: ConformanceOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of CONFORMANCE_CASES) {
    try {
      await runCase(testCase, options);
      results.push({ name: testCase.name, passed: true });
    } catch (error) {
      results.push({ name: testCase.name, passed: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return results;
}

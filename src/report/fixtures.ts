/**
 * Test helper: writes realistic run directories (config.json, history.jsonl, node logs) without a cluster, by
 * simulating clients that take locks in turn, read and write a fenced counter, and meet faults; the project's own
 * checker then writes results.json, exactly as after a real run.
 * An `invalid` run carries the three pathologies as they look in real runs: a holder paused past its session
 * (double holder, then a stale write), and a cleanup delete lost by the proxy (a leaked node that then blocks
 * every later acquire of its lock).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { RunConfig } from '../config.ts';
import { HISTORY_VERSION, type HistoryLine, type NemesisLine, type OpLine, type ProxyLine } from '../../ground/history.ts';
import { checkRun } from '../check.ts';
import { createRandom, type Random } from '../../ground/random.ts';

export interface FixtureOptions {
  kind: 'valid' | 'invalid';
  /** Roughly how many operations (invoke + completion pairs) the history gets. */
  operations: number;
  durationS: number;
  clients?: number;
  locks?: number;
  /** Replaces lock names, e.g. with hostile ones to test escaping. */
  lockNames?: string[];
  /** Error text of failed acquires (hostile text tests escaping). */
  errorText?: string;
  startedAt?: Date;
  seed?: number;
}

const MS = 1_000_000;
const S = 1_000_000_000;

interface Timed {
  time: number;
  line: HistoryLine;
}

/** Lines not yet written, kept in time order; every future line is later than the earliest client's clock. */
class PendingLines {
  private readonly lines: Timed[] = [];

  add(line: HistoryLine & { time: number }): void {
    let low = 0;
    let high = this.lines.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.lines[middle]!.time <= line.time) low = middle + 1;
      else high = middle;
    }
    this.lines.splice(low, 0, { time: line.time, line });
  }

  takeUntil(time: number): HistoryLine[] {
    let count = 0;
    while (count < this.lines.length && this.lines[count]!.time <= time) count += 1;
    return this.lines.splice(0, count).map((timed) => timed.line);
  }
}

interface Client {
  name: string;
  worker: string;
  session: string;
  next: number;
}

export async function writeFixtureRun(resultsDir: string, runId: string, options: FixtureOptions): Promise<string> {
  const random = createRandom(options.seed ?? 7);
  const clientCount = options.clients ?? 6;
  const lockNames = options.lockNames ?? Array.from({ length: options.locks ?? 3 }, (_, index) => `lock-${index}`);
  const workers = Math.min(3, clientCount);
  const invalid = options.kind === 'invalid';
  const config: RunConfig = {
    recipe: invalid ? 'node-naive' : 'node-safe',
    workload: 'fenced-counter',
    nemesis: invalid ? ['pause-holder', 'lost-delete', 'kill'] : ['kill', 'pause', 'partition'],
    timeLimitS: options.durationS,
    clients: clientCount,
    workers,
    locks: lockNames.length,
    holdMs: 20,
    sessionTimeoutMs: 2000,
    acquireTimeoutMs: 1500,
    nemesisIntervalS: 5,
    fencing: !invalid,
    seed: options.seed ?? 7,
    nodes: 3,
    tickTimeMs: 200,
    backend: 'local',
    results: resultsDir,
  };
  const runDir = join(resultsDir, runId);
  await mkdir(runDir, { recursive: true });
  await writeFile(join(runDir, 'config.json'), `${JSON.stringify({ runId, ...config }, null, 2)}\n`);
  for (const node of [1, 2, 3]) {
    await mkdir(join(runDir, 'nodes', `zk${node}`), { recursive: true });
    await writeFile(join(runDir, 'nodes', `zk${node}`, 'zookeeper.log'), `INFO  [main] - Starting server zk${node}\n`);
  }

  const simulation = new Simulation(random, config, lockNames, options);
  const history = createWriteStream(join(runDir, 'history.jsonl'));
  const write = async (line: HistoryLine): Promise<void> => {
    if (!history.write(`${JSON.stringify(line)}\n`)) await once(history, 'drain');
  };
  await write({
    kind: 'header', version: HISTORY_VERSION, runId, startedAt: (options.startedAt ?? new Date()).toISOString(),
    config: { ...config },
  });
  for await (const line of simulation.lines()) await write(line);
  history.end();
  await once(history, 'finish');
  await checkRun(runDir);
  return runDir;
}

class Simulation {
  private readonly clients: Client[];
  private readonly freeAt = new Map<string, number>();
  private readonly pending = new PendingLines();
  /** Work decided later than it was scheduled: a paused holder's write depends on what others wrote meanwhile. */
  private readonly deferred: { time: number; action: () => void }[] = [];
  private readonly endTime: number;
  private readonly thinkMean: number;
  private nextOpId = 1;
  private nextZxid = 0x100000000;
  private nextSequence = 0;
  /** One fenced counter per lock, named after it. */
  private readonly counters = new Map<string, number>();
  private readonly highestTokens = new Map<string, number>();
  private readonly faults: NemesisLine[] = [];
  /** Invalid runs: the pause-holder fault, then the lost delete whose node blocks its lock for good. */
  private pauseAt: number;
  private leakAt: number;
  /** While a holder is paused, others crowd onto its lock, so its expiry is sure to be noticed. */
  private contested: { lock: string; from: number; to: number } | undefined;
  private leaked: { lock: string; path: string; czxid: number; client: Client } | undefined;

  constructor(
    private readonly random: Random,
    private readonly config: RunConfig,
    private readonly lockNames: string[],
    private readonly options: FixtureOptions,
  ) {
    this.clients = Array.from({ length: config.clients }, (_, index) => ({
      name: `c${index}`, worker: `w${index % config.workers}`, session: `0x${(0x10000 + index).toString(16)}`, next: index * MS,
    }));
    this.endTime = options.durationS * S;
    // Four operations per cycle; the think time spreads the requested count over the run.
    const cyclesPerClient = options.operations / 4 / config.clients;
    this.thinkMean = Math.max(MS, this.endTime / cyclesPerClient - (config.holdMs + 4) * MS);
    this.pauseAt = options.kind === 'invalid' ? this.endTime * 0.4 : Infinity;
    this.leakAt = options.kind === 'invalid' ? this.endTime * 0.7 : Infinity;
  }

  async *lines(): AsyncGenerator<HistoryLine> {
    this.scheduleFaults();
    for (;;) {
      const client = this.clients.reduce((earliest, candidate) => (candidate.next < earliest.next ? candidate : earliest));
      if (client.next >= this.endTime) break;
      this.runDeferredUntil(client.next);
      yield* this.pending.takeUntil(client.next);
      this.cycle(client);
    }
    this.runDeferredUntil(Infinity);
    yield* this.pending.takeUntil(Infinity);
    const end = this.endTime + 3 * S;
    yield this.finalSnapshot(end - MS);
    yield { kind: 'end', time: end, reason: 'completed' };
  }

  private runDeferredUntil(time: number): void {
    this.deferred.sort((a, b) => a.time - b.time);
    while (this.deferred.length > 0 && this.deferred[0]!.time <= time) this.deferred.shift()!.action();
  }

  private latency(): number {
    return Math.round((0.4 + this.random.float() * 1.5 + (this.random.chance(0.01) ? 30 * this.random.float() : 0)) * MS);
  }

  private inFault(time: number): boolean {
    return this.faults.some((fault) => fault.type === 'start' && fault.f === 'kill' && time >= fault.time
      && time < fault.time + 1.2 * S);
  }

  /** An invoke line and, unless the operation stays pending to the end, its completion. */
  private op(client: Client, fields: Partial<OpLine> & Pick<OpLine, 'f'>, invokeTime: number, completion: 'ok' | 'fail' | 'info' | 'pending', completeTime: number, result: Partial<OpLine> = {}): void {
    const base = { kind: 'op' as const, id: this.nextOpId++, client: client.name, worker: client.worker, ...fields };
    this.pending.add({ ...base, type: 'invoke', time: invokeTime });
    if (completion !== 'pending') this.pending.add({ ...base, ...result, type: completion, time: completeTime });
  }

  /** One acquire → read → fenced write → release cycle of one client, or a timed-out acquire. */
  private cycle(client: Client): void {
    const start = client.next;
    const contested = this.contested !== undefined && start >= this.contested.from && start < this.contested.to;
    const lock = contested ? this.contested!.lock : this.random.pick(this.lockNames);
    const acquire = { f: 'acquire' as const, lock, mode: 'blocking' as const, timeoutMs: this.config.acquireTimeoutMs };
    // The first try-lock after leakAt loses its cleanup delete, whatever else is going on.
    if (start >= this.leakAt && this.leaked === undefined) {
      this.leak(client, lock, start);
      return;
    }
    const blocked = this.leaked !== undefined && this.leaked.lock === lock;
    const grant = Math.max(start, this.freeAt.get(lock) ?? 0) + this.latency();
    if (blocked || grant - start > this.config.acquireTimeoutMs * MS) {
      const giveUp = start + this.config.acquireTimeoutMs * MS + this.latency();
      if (blocked && giveUp >= this.endTime) {
        this.op(client, acquire, start, 'pending', 0);
        client.next = Infinity;
        return;
      }
      this.op(client, acquire, start, 'fail', giveUp, { error: this.options.errorText ?? 'acquire timed out' });
      client.next = giveUp + this.think();
      return;
    }
    if (this.inFault(start) && this.random.chance(0.3)) {
      this.op(client, acquire, start, 'info', start + 400 * MS, { error: '-4 connection loss' });
      client.next = start + 400 * MS + this.think();
      return;
    }
    const token = this.nextZxid++;
    const node = `/locks/${lock}/lock-${String(this.nextSequence++).padStart(10, '0')}`;
    this.op(client, acquire, start, 'ok', grant, { node, token, session: client.session });
    const paused = start >= this.pauseAt;
    if (paused) this.pauseAt = Infinity;
    // A paused holder's worker answers nothing until SIGCONT; ZooKeeper expires its session meanwhile.
    const resumeAt = paused ? grant + 3 * S : grant;
    const readAt = grant + MS;
    const readValue = this.counters.get(lock) ?? 0;
    this.op(client, { f: 'read', lock }, readAt, 'ok', paused ? resumeAt : readAt + this.latency(), { value: readValue });
    const writeAt = (paused ? resumeAt : readAt) + 2 * MS;
    if (paused) this.deferred.push({ time: writeAt, action: () => this.fencedWrite(client, lock, token, readValue + 1, writeAt) });
    else this.fencedWrite(client, lock, token, readValue + 1, writeAt);
    const releaseAt = Math.max(grant + this.config.holdMs * MS, writeAt + 3 * MS);
    const releaseDone = releaseAt + this.latency();
    this.op(client, { f: 'release', lock }, releaseAt, 'ok', releaseDone);
    this.freeAt.set(lock, paused ? grant + this.config.sessionTimeoutMs * MS : releaseDone);
    if (paused) this.pauseHolder(client, lock, grant, resumeAt);
    client.next = releaseDone + this.think();
  }

  private think(): number {
    return Math.round(this.thinkMean * (0.5 + this.random.float()));
  }

  private fencedWrite(client: Client, lock: string, token: number, value: number, time: number): void {
    const highest = this.highestTokens.get(lock) ?? 0;
    const accepted = !this.config.fencing || token >= highest;
    const arrival = time + Math.round(MS / 2);
    this.op(client, { f: 'fenced-write', lock, value, token }, time, accepted ? 'ok' : 'fail', arrival + this.latency(),
      accepted ? {} : { error: `token ${token} is older than ${highest}` });
    this.pending.add({ kind: 'resource', time: arrival, resource: lock, client: client.name, token, value, accepted });
    if (accepted) {
      this.counters.set(lock, value);
      this.highestTokens.set(lock, Math.max(highest, token));
    }
  }

  private scheduleFaults(): void {
    for (let at = 3 * S, id = 1; at < this.endTime - 2 * S; at += this.config.nemesisIntervalS * S, id += 1) {
      const server = 1 + (id % 3);
      this.addFault({ id, f: 'kill', time: at, description: `SIGKILL zk${server}${server === 2 ? ' (leader)' : ''}`, value: { nodes: [`zk${server}`] } }, at + S);
    }
  }

  private addFault(start: Omit<NemesisLine, 'kind' | 'type'>, stopAt: number): void {
    const line: NemesisLine = { kind: 'nemesis', type: 'start', ...start };
    this.faults.push(line);
    this.pending.add(line);
    this.pending.add({ ...line, type: 'stop', time: stopAt });
  }

  private pauseHolder(client: Client, lock: string, grant: number, resumeAt: number): void {
    const expiry = grant + this.config.sessionTimeoutMs * MS;
    this.contested = { lock, from: expiry - this.config.acquireTimeoutMs * MS / 2, to: resumeAt };
    this.addFault({
      id: 1000, f: 'pause-holder', time: grant + 5 * MS,
      description: `SIGSTOP ${client.worker} (${client.name} holds ${lock})`, value: { workers: [client.worker], clients: [client.name] },
    }, resumeAt - MS);
    this.pending.add({ kind: 'worker', time: expiry, worker: client.worker, client: client.name, event: 'expired', session: client.session });
  }

  private leak(client: Client, lock: string, start: number): void {
    const czxid = this.nextZxid++;
    const path = `/locks/${lock}/lock-${String(this.nextSequence++).padStart(10, '0')}`;
    const giveUp = start + this.config.acquireTimeoutMs * MS;
    this.op(client, { f: 'acquire', lock, mode: 'try' }, start, 'fail', giveUp, { error: this.options.errorText ?? 'lock is held' });
    const proxy: ProxyLine = {
      kind: 'proxy', time: giveUp - 2 * MS, event: 'drop-delete', clientHost: client.worker, server: 2, session: client.session,
      xid: 4242, op: 'delete', path,
    };
    this.addFault({ id: 2000, f: 'lost-delete', time: giveUp - 3 * MS, description: `swallow the cleanup delete of ${client.name} and reset`, value: { clients: [client.name] } }, giveUp);
    this.pending.add(proxy);
    this.leaked = { lock, path, czxid, client };
    // The client goes idle with its session alive, so nothing ever claims the node (it would, waiting on the lock).
    client.next = Infinity;
  }

  private finalSnapshot(time: number): HistoryLine {
    const locks: Record<string, { name: string; path: string; czxid: number; ephemeralOwner: string }[]> = {};
    for (const lock of this.lockNames) locks[lock] = [];
    if (this.leaked !== undefined) {
      const { lock, path, czxid, client } = this.leaked;
      locks[lock] = [{ name: path.split('/').pop()!, path, czxid, ephemeralOwner: client.session }];
    }
    return {
      kind: 'snapshot', time, final: true, locks, sessions: this.clients.map((client) => client.session),
      resources: Object.fromEntries(this.lockNames.map((lock) => [lock, { value: this.counters.get(lock) ?? 0, highestToken: this.highestTokens.get(lock) ?? null }])),
    };
  }
}

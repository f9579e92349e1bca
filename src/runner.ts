/**
 * The runner: the one place that wires a test together. It starts an ensemble, the fault proxy and the
 * workers, drives the workload's client loops and the nemesis schedule for the time limit, heals everything,
 * takes the final snapshot, then checks the history and writes results.json and the report.
 * Every step that happens is streamed to history.jsonl first, so a crash keeps what was recorded.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createCluster, resolveBackend } from '../cluster/index.ts';
import type { Cluster } from '../cluster/types.ts';
import { formatSummary } from '../checker/summary.ts';
import { NEMESIS_MODULES } from '../nemesis/index.ts';
import { startProxy, type ProxyHandle } from '../nemesis/proxy/client.ts';
import type { ClientHost, Holder, NemesisContext } from '../nemesis/types.ts';
import { startFencedResource, type FencedResource } from '../workloads/fenced-resource.ts';
import { prepareRecipe, type RecipeName, type WorkerLaunch } from '../workloads/recipes.ts';
import { WorkerProcess } from '../workloads/worker-process.ts';
import { WORKLOADS, type ClientSession } from '../workloads/workloads.ts';
import type { WorkerAnswer, WorkerEvent, WorkerRequest } from '../workloads/protocol.ts';
import { holdKey, WORKER_PROTOCOL_VERSION } from '../workloads/protocol.ts';
import { registerCleanup, runCleanups } from '../ground/cleanup.ts';
import { checkRun } from './check.ts';
import { reproduceCommand, type RunConfig } from './config.ts';
import { exitCodeFor, UserError } from '../ground/errors.ts';
import { HISTORY_VERSION, type EndLine, type LockAccess, type OpLine, type SnapshotLine } from '../ground/history.ts';
import { HistoryWriter } from '../ground/history-writer.ts';
import { NemesisSchedule } from './nemesis-schedule.ts';
import { Progress } from './progress.ts';
import { createRandom, type Random } from '../ground/random.ts';
import { writeIndex, writeReport } from './report/index.ts';
import { createRunDirectory, type RunDirectory } from './run-dir.ts';
import { AdminSession } from '../ground/zk-admin.ts';
import { liveSessions } from '../cluster/sessions.ts';

const LOCK_ROOT = '/locks';

/** How long the final phase waits for client loops to finish what they were doing. */
const finishBoundMs = (config: RunConfig): number => config.acquireTimeoutMs + 2 * config.sessionTimeoutMs + 10_000;

/**
 * A worker process as the runner uses it: the client host of a few clients. While it is frozen its clients are
 * frozen too: they invoke nothing until it thaws, as a real process paused in its critical section would, so a
 * holder's window stays open across the pause (pathology P2).
 */
class Host implements ClientHost {
  private thawed: Promise<void> = Promise.resolve();
  private thaw: (() => void) | undefined;

  constructor(readonly name: string, readonly process: WorkerProcess) {}

  pause(): void {
    if (this.thaw !== undefined) return;
    this.thawed = new Promise((resolve) => (this.thaw = resolve));
    this.process.signal('SIGSTOP');
  }

  resume(): void {
    if (this.thaw === undefined) return;
    this.process.signal('SIGCONT');
    this.thaw();
    this.thaw = undefined;
  }

  untilRunning(): Promise<void> {
    return this.thawed;
  }
}

export async function runTest(requested: RunConfig): Promise<number> {
  // config.json records where the run really went, so the command it gives reproduces it.
  const config: RunConfig = { ...requested, backend: await resolveBackend(requested.backend) };
  const run = await createRunDirectory(config);
  const history = new HistoryWriter(run.historyPath);
  history.write({ kind: 'header', version: HISTORY_VERSION, runId: run.id, startedAt: new Date().toISOString(), config: { ...config } });
  let end: Omit<EndLine, 'kind' | 'time'> = { reason: 'interrupted' };
  // Registered first, so it runs last: the end line follows everything the teardown still records.
  const closeHistory = (): void => {
    history.write({ kind: 'end', time: history.now(), ...end });
    history.close();
  };
  registerCleanup('history', closeHistory);

  console.error(`jepsen: ${run.id}: ${reproduceCommand(config)}`);
  try {
    const test = new TestRun(config, run, history);
    await test.execute();
    end = { reason: 'completed' };
  } catch (error) {
    end = { reason: 'crashed', detail: error instanceof Error ? error.message : String(error) };
    throw error;
  } finally {
    // Workers, proxy, resource and cluster go, newest first; the history's end line comes last.
    await runCleanups();
  }
  return summarize(run);
}

/** Checks the recorded history, writes results.json, the report and the index, and prints the verdict. */
async function summarize(run: RunDirectory): Promise<number> {
  const results = await checkRun(run.path);
  const reportPath = await writeReport(run.path);
  await writeIndex(join(run.path, '..'));
  console.log(formatSummary(results));
  console.log(`report: ${reportPath}`);
  return exitCodeFor(results.valid);
}

class TestRun {
  private readonly random: Random;
  private readonly locks: string[];
  private cluster!: Cluster;
  private proxy!: ProxyHandle;
  private resource: FencedResource | undefined;
  private readonly hosts: Host[] = [];
  /** The features every worker announced in init_ok (docs/worker-protocol.md). */
  private features: ReadonlySet<string> = new Set();
  /** client → what it believes it holds (acquire ok, release not yet invoked), by holdKey. */
  private readonly holding = new Map<string, Map<string, HeldLock>>();
  /** client → the elections it campaigns in (campaign ok, resign not yet invoked). */
  private readonly candidacies = new Map<string, Map<string, Candidacy>>();
  private nextOpId = 0;
  private clientsRunning = true;
  private readonly progress: Progress;

  constructor(private readonly config: RunConfig, private readonly run: RunDirectory, private readonly history: HistoryWriter) {
    this.random = createRandom(config.seed);
    this.locks = Array.from({ length: config.locks }, (_, index) => `L${index + 1}`);
    this.progress = new Progress(config.timeLimitS);
  }

  async execute(): Promise<void> {
    await this.setUp();
    const schedule = new NemesisSchedule(
      this.config.nemesis.map((name) => NEMESIS_MODULES[name]),
      this.nemesisContext(),
      this.history,
      this.progress,
    );
    const loops = this.startClients();
    this.progress.start();
    schedule.start();
    const snapshots = this.takeMidRunSnapshots();
    await delay(this.config.timeLimitS * 1000);
    this.clientsRunning = false;
    await snapshots;
    await schedule.stopAndHeal();
    await this.healEverything();
    this.progress.stop();
    // An unref'd bound: once the loops are done it must not hold the process open until it fires.
    await Promise.race([Promise.all(loops), delay(finishBoundMs(this.config), undefined, { ref: false })]);
    await this.releaseWhatClientsBelieveTheyHold();
    // Sessions cut off during the run must expire (their ephemerals vanish) before the audit.
    await delay(this.config.sessionTimeoutMs + 2 * this.config.tickTimeMs);
    await this.snapshot(true);
  }

  /**
   * Every --snapshot-interval while clients run, the same audit as the final one, marked not final: an orphan
   * that a late cleanup or a session's end removes before the run ends still shows. A snapshot that cannot be
   * taken in the middle of a fault (no leader to list sessions) is skipped.
   */
  private async takeMidRunSnapshots(): Promise<void> {
    const intervalMs = (this.config.snapshotIntervalS ?? 0) * 1000;
    if (intervalMs <= 0) return;
    for (;;) {
      await delay(intervalMs);
      if (!this.clientsRunning) return;
      await this.snapshot(false).catch(() => undefined);
    }
  }

  private async setUp(): Promise<void> {
    const { config } = this;
    this.cluster = await createCluster({
      backend: config.backend,
      nodes: config.nodes,
      tickTimeMs: config.tickTimeMs,
      runDir: this.run.path,
      ...(config.connect === undefined ? {} : { connect: config.connect }),
      zkVersion: config.zkVersion,
    });
    await this.cluster.start();
    const admin = await AdminSession.connect(this.cluster.connectString());
    try {
      for (const lock of this.locks) await admin.ensurePath(`${LOCK_ROOT}/${lock}`);
    } finally {
      admin.close();
    }

    this.proxy = await startProxy({
      servers: new Map(this.cluster.nodeIds.map((id) => [id, this.cluster.clientAddress(id)])),
      logFile: join(this.run.path, 'proxy.log'),
    });
    this.proxy.onEvent((event) => {
      const { monotonicNs, ...line } = event;
      this.history.write({ kind: 'proxy', time: this.history.fromMonotonic(monotonicNs), ...line });
    });

    if (WORKLOADS[config.workload].usesResource) {
      const resource = await startFencedResource({
        fencing: config.fencing,
        onWrite: (write) => this.history.write({ kind: 'resource', time: this.history.now(), ...write }),
      });
      this.resource = resource;
      // Its listening server would keep the process alive after the report, and the CLI would never exit.
      registerCleanup('fenced resource', () => resource.close());
    }

    const launch: WorkerLaunch = config.worker === undefined
      ? await prepareRecipe(config.recipe as RecipeName)
      : { command: ['sh', '-c', `exec ${config.worker}`], env: process.env };
    const clientsOf = (hostIndex: number): string[] =>
      Array.from({ length: config.clients }, (_, index) => index).filter((index) => index % config.workers === hostIndex).map((index) => `c${index + 1}`);
    const announced: (readonly string[])[] = [];
    await Promise.all(Array.from({ length: config.workers }, async (_, hostIndex) => {
      const name = `w${hostIndex + 1}`;
      const connect = await this.proxy.addClientHost(name);
      const process = WorkerProcess.spawn({ name, command: launch.command, env: launch.env, logFile: join(this.run.path, 'workers', `${name}.log`) });
      // One microtask later: an answer read just before the event has its continuation queued already, so a
      // campaign's ok is recorded before the leadership event that follows it on the worker's stdout.
      process.onEvent((event) => queueMicrotask(() => this.workerEvent(name, event)));
      process.onExit((detail) => this.history.write({ kind: 'worker', time: this.history.now(), worker: name, event: this.clientsRunning ? 'crashed' : 'exited', detail }));
      this.hosts.push(new Host(name, process));
      const answer = await process.init({
        type: 'init',
        protocolVersion: WORKER_PROTOCOL_VERSION,
        connect,
        sessionTimeoutMs: config.sessionTimeoutMs,
        clients: clientsOf(hostIndex),
        lockRoot: LOCK_ROOT,
        options: config.leaderRecipe === undefined ? {} : { leaderRecipe: config.leaderRecipe },
      });
      if (answer.type !== 'init_ok') throw new Error(`worker ${name} did not start: ${answer.error ?? answer.type}`);
      announced.push(answer.features ?? []);
    }));
    this.hosts.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    this.features = new Set(announced.reduce((common, features) => common.filter((feature) => features.includes(feature))));
    const missing = WORKLOADS[config.workload].requires.filter((feature) => !this.features.has(feature));
    if (missing.length > 0) {
      throw new UserError(`--workload ${config.workload} needs workers that announce '${missing.join("', '")}' in init_ok; ` +
        `${config.worker ?? config.recipe} does not (docs/worker-protocol.md).`);
    }
  }

  private nemesisContext(): NemesisContext {
    return {
      cluster: this.cluster,
      proxy: this.proxy,
      random: this.random,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      intervalMs: this.config.nemesisIntervalS * 1000,
      lockRoot: LOCK_ROOT,
      clientHosts: this.hosts,
      holders: () => this.holders(),
    };
  }

  /** Clients that believe they hold a lock or a semaphore's lease, or lead an election (its name is the lock). */
  private holders(): Holder[] {
    const result: Holder[] = [];
    for (const host of this.hosts) {
      for (const client of host.process.clients) {
        for (const { lock } of this.holding.get(client)?.values() ?? []) result.push({ client, worker: host.name, lock });
        for (const [election, { leading }] of this.candidacies.get(client) ?? []) if (leading) result.push({ client, worker: host.name, lock: election });
      }
    }
    return result;
  }

  /** A worker's event into the history; a leadership event of a candidacy also into what its client believes. */
  private workerEvent(worker: string, event: WorkerEvent): void {
    const { type: _type, ...fields } = event;
    this.history.write({ kind: 'worker', time: this.history.now(), worker, ...fields });
    if (event.event !== 'leadership') return;
    const candidacy = this.candidacies.get(event.client)?.get(event.election);
    if (candidacy === undefined) return; // not campaigning (any more): the client believes nothing of it
    candidacy.leading = event.leading;
    if (event.leading) for (const wake of candidacy.waiters.splice(0)) wake();
  }

  private startClients(): Promise<void>[] {
    const workload = WORKLOADS[this.config.workload];
    const context = {
      locks: this.locks, holdMs: this.config.holdMs, acquireTimeoutMs: this.config.acquireTimeoutMs, permits: this.config.permits ?? 1,
      random: this.random, features: this.features,
    };
    return this.hosts.flatMap((host) => host.process.clients.map((client) => workload.run(this.session(host, client), context)));
  }

  /** A client as a workload sees it; every call becomes an invoke line and a completion line. */
  private session(host: Host, client: string): ClientSession {
    const resourceUrl = (lock: string): string => {
      if (this.resource === undefined) throw new Error(`workload ${this.config.workload} has no fenced resource`);
      return this.resource.url(lock);
    };
    return {
      client,
      running: () => this.clientsRunning && host.process.alive,
      acquire: (lock, mode, access, permits) => this.perform(host, {
        type: 'acquire', client, lock, mode, ...(mode === 'blocking' ? { timeoutMs: this.config.acquireTimeoutMs } : {}), ...accessField(access),
        ...(permits === undefined ? {} : { permits }),
      }),
      release: (lock, access) => this.perform(host, { type: 'release', client, lock, ...accessField(access) }),
      read: (name, guard = 'lock') => this.perform(host, { type: 'read', client, [guard]: name, resource: resourceUrl(name) }),
      fencedWrite: (name, value, guard = 'lock') => this.perform(host, { type: 'fenced-write', client, [guard]: name, resource: resourceUrl(name), value }),
      campaign: (election) => this.perform(host, { type: 'campaign', client, election }),
      resign: (election) => this.perform(host, { type: 'resign', client, election }),
      untilLeading: (election, timeoutMs) => this.untilLeading(client, election, timeoutMs),
      leading: (election) => this.candidacies.get(client)?.get(election)?.leading === true,
    };
  }

  private async untilLeading(client: string, election: string, timeoutMs: number): Promise<boolean> {
    const candidacy = this.candidacies.get(client)?.get(election);
    if (candidacy === undefined) return false;
    if (!candidacy.leading) {
      const elected = new Promise<void>((resolve) => candidacy.waiters.push(resolve));
      await Promise.race([elected, delay(timeoutMs, undefined, { ref: false })]);
    }
    return candidacy.leading;
  }

  private async perform(host: Host, request: DistributiveOmit<Exclude<WorkerRequest, { type: 'init' }>, 'id'>): Promise<WorkerAnswer> {
    await host.untilRunning();
    const id = this.nextOpId++;
    const lock = 'lock' in request ? request.lock : undefined;
    const election = 'election' in request ? request.election : undefined;
    const access = request.type === 'acquire' || request.type === 'release' ? request.access : undefined;
    const permits = request.type === 'acquire' ? request.permits : undefined;
    const common = {
      kind: 'op' as const,
      id,
      f: request.type,
      client: request.client,
      worker: host.name,
      ...(lock === undefined ? {} : { lock }),
      ...(election === undefined ? {} : { election }),
      ...(permits === undefined ? {} : { permits }),
      ...accessField(access),
    };
    const invoke: OpLine = {
      ...common,
      type: 'invoke',
      time: this.history.now(),
      ...(request.type === 'acquire' ? { mode: request.mode, ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }) } : {}),
      ...(request.type === 'fenced-write' ? { value: request.value } : {}),
    };
    this.history.write(invoke);
    // The hold window closes when release is invoked, whatever the answer.
    if (request.type === 'release') this.holding.get(request.client)?.delete(holdKey(request.lock, access));
    // Likewise leading and campaigning end when resign is invoked.
    if (request.type === 'resign') this.candidacies.get(request.client)?.delete(request.election);

    const answer = await host.process.request(request);
    // A protocol error leaves the outcome unknown: never read it as a definite answer.
    const outcome = answer.type === 'ok' || answer.type === 'fail' ? answer.type : 'info';
    this.history.write({
      ...common,
      type: outcome,
      time: this.history.now(),
      ...(answer.token === undefined ? {} : { token: answer.token }),
      ...(answer.node === undefined ? {} : { node: answer.node }),
      ...(answer.session === undefined ? {} : { session: answer.session }),
      ...(answer.value === undefined ? (request.type === 'fenced-write' ? { value: request.value } : {}) : { value: answer.value }),
      ...(answer.error === undefined ? (answer.type === 'error' ? { error: 'protocol error' } : {}) : { error: answer.error }),
    });
    this.progress.completed(outcome);
    if (request.type === 'acquire' && outcome === 'ok') {
      const held = this.holding.get(request.client) ?? new Map<string, HeldLock>();
      held.set(holdKey(request.lock, access), { lock: request.lock, ...accessField(access) });
      this.holding.set(request.client, held);
    }
    if (request.type === 'campaign' && outcome === 'ok') {
      const elections = this.candidacies.get(request.client) ?? new Map<string, Candidacy>();
      elections.set(request.election, { leading: false, waiters: [] });
      this.candidacies.set(request.client, elections);
    }
    return answer;
  }

  /** Heal every fault the proxy and the cluster may still carry, resume every process, restart dead servers. */
  private async healEverything(): Promise<void> {
    for (const host of this.hosts) host.resume();
    await this.proxy.healAll();
    await this.cluster.heal();
    for (const status of await this.cluster.status()) {
      if (status.state === 'paused') await this.cluster.resume(status.id);
      if (status.state === 'killed') await this.cluster.restart(status.id);
    }
  }

  private async releaseWhatClientsBelieveTheyHold(): Promise<void> {
    await Promise.all(this.hosts.flatMap((host) => host.process.clients.map(async (client) => {
      for (const { lock, access } of [...(this.holding.get(client)?.values() ?? [])]) {
        await this.perform(host, { type: 'release', client, lock, ...accessField(access) });
      }
      for (const election of [...(this.candidacies.get(client)?.keys() ?? [])]) await this.perform(host, { type: 'resign', client, election });
    })));
  }

  /** Every lock's children (czxid, owner) and every live session, straight from the ensemble, into the history. */
  private async snapshot(final: boolean): Promise<void> {
    const admin = await AdminSession.connect(this.cluster.connectString());
    try {
      // An election's candidate nodes are not a lock's: they go under `elections`. A semaphore's nodes may sit a
      // level down (Curator's leases/ and locks/).
      const workload = this.config.workload;
      const nodes: SnapshotLine['locks'] = {};
      for (const lock of this.locks) nodes[lock] = await admin.lockChildren(`${LOCK_ROOT}/${lock}`, workload === 'semaphore');
      const locks = workload === 'leader' ? {} : nodes;
      const resources: SnapshotLine['resources'] = {};
      for (const lock of this.resource === undefined ? [] : this.locks) resources[lock] = this.resource!.state(lock);
      this.history.write({
        kind: 'snapshot', time: this.history.now(), final, locks, ...(workload === 'leader' ? { elections: nodes } : {}), sessions: await liveSessions(this.cluster), resources,
      });
    } finally {
      admin.close();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A candidacy the client believes in: whether it leads, and the workload waiting for it to. */
interface Candidacy {
  leading: boolean;
  waiters: (() => void)[];
}

/** A hold a client believes it has: one per lock and side (a downgrading client has both sides of one lock). */
interface HeldLock {
  lock: string;
  access?: LockAccess;
}

/** `access` is left out of requests and history lines when absent, so the exclusive workloads look as before. */
const accessField = (access: LockAccess | undefined): { access?: LockAccess } => (access === undefined ? {} : { access });

/**
 * The runner: the one place that wires a test together. It stands up a testbed (ensemble, fault proxy, fenced
 * resource, workers), drives the workload's client loops and the nemesis schedule for the time limit, heals
 * everything, takes the final snapshot, then checks the history and writes results.json and the report.
 * Every step that happens is streamed to history.jsonl first, so a crash keeps what was recorded.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { resolveBackend } from '../cluster/index.ts';
import { liveSessions } from '../cluster/sessions.ts';
import type { SshOptions } from '../cluster/ssh/connection.ts';
import { capable } from '../cluster/types.ts';
import { formatSummary } from '../checker/summary.ts';
import { runCleanups } from '../ground/cleanup.ts';
import { exitCodeFor, UserError } from '../ground/errors.ts';
import { HISTORY_VERSION, type EndLine, type LockAccess, type NemesisLine, type OpLine, type SnapshotLine } from '../ground/history.ts';
import { HistoryWriter } from '../ground/history-writer.ts';
import { randomFor } from '../ground/random.ts';
import { AdminSession } from '../ground/zk-admin.ts';
import { NEMESES } from '../nemesis/index.ts';
import { NemesisSchedule, planSchedule, type ScheduleListener } from '../nemesis/schedule.ts';
import type { FaultPlan, Holder, NemesisContext, PlanSettings } from '../nemesis/types.ts';
import { Testbed, type WorkerHost } from '../testbed/testbed.ts';
import { holdKey, type WorkerAnswer, type WorkerEvent, type WorkerRequest } from '../workloads/protocol.ts';
import { prepareRecipe, type RecipeName, type WorkerLaunch } from '../workloads/recipes.ts';
import { WORKLOADS, type ClientSession } from '../workloads/workloads.ts';
import { checkRun } from './check.ts';
import { reproduceCommand, type RunConfig } from './config.ts';
import { Progress } from './progress.ts';
import { writeIndex, writeReport } from './report/index.ts';
import { runSuite, writeJUnit } from './junit.ts';
import { appendStepSummary, runStepSummary } from './step-summary.ts';
import { createRunDirectory, type RunDirectory } from './run-dir.ts';

const LOCK_ROOT = '/locks';

/** How long the final phase waits for client loops to finish what they were doing. */
const finishBoundMs = (config: RunConfig): number => config.acquireTimeoutMs + 2 * config.sessionTimeoutMs + 10_000;

/** The nemesis settings a run's flags make; the same for planning a schedule and for checking a recorded one. */
export function planSettings(config: RunConfig): PlanSettings {
  return {
    nodeIds: Array.from({ length: config.nodes }, (_, index) => index + 1),
    clientHosts: Array.from({ length: config.workers }, (_, index) => `w${index + 1}`),
    sessionTimeoutMs: config.sessionTimeoutMs,
    intervalMs: config.nemesisIntervalS * 1000,
    target: config.nemesisTarget ?? 'one',
    ...(config.faultDurationMs === undefined ? {} : { faultDurationMs: config.faultDurationMs }),
  };
}

/** The run's fault schedule: drawn from the seed's nemesis stream, or the one given (a replay). */
export function scheduleOf(config: RunConfig, given?: readonly FaultPlan[]): FaultPlan[] {
  if (given !== undefined) return [...given];
  const nemeses = config.nemesis.map((name) => NEMESES[name]);
  return planSchedule(nemeses, randomFor(config.seed, 'nemesis'), planSettings(config), config.timeLimitS * 1000);
}

/** How a run is carried out beyond its config: a recorded schedule (a replay), CI outputs. */
export interface RunOptions {
  /** A schedule to carry out instead of drawing one from the seed. */
  schedule?: readonly FaultPlan[];
  /** JUnit XML of the verdict (src/junit.ts). */
  junit?: string;
}

/** Runs one test; resolves with the verdict's exit code and the run's directory. */
export async function runTest(requested: RunConfig, options: RunOptions = {}): Promise<{ exitCode: number; runDir: string }> {
  // config.json records where the run really went, so the command it gives reproduces it.
  const config: RunConfig = { ...requested, backend: await resolveBackend(requested.backend) };
  const schedule = scheduleOf(config, options.schedule);
  const run = await createRunDirectory(config);
  await writeFile(join(run.path, 'schedule.json'), `${JSON.stringify({ version: 1, faults: schedule }, null, 2)}\n`);
  const history = new HistoryWriter(run.historyPath);
  history.write({ kind: 'header', version: HISTORY_VERSION, runId: run.id, startedAt: new Date().toISOString(), config: { ...config } });
  let end: Omit<EndLine, 'kind' | 'time'> = { reason: 'interrupted' };
  const closeHistory = (): void => {
    history.write({ kind: 'end', time: history.now(), ...end });
    history.close();
  };

  console.error(`jepsen: ${run.id}: ${reproduceCommand({ ...config, runId: run.id })}`);
  const test = new TestRun(config, run, history, schedule);
  try {
    await test.execute(closeHistory);
    end = { reason: 'completed' };
  } catch (error) {
    end = { reason: 'crashed', detail: error instanceof Error ? error.message : String(error) };
    throw error;
  } finally {
    // The testbed goes in its own order (workers, resource, proxy, ensemble), the history's end line after it.
    await test.teardown();
    await runCleanups();
  }
  return { exitCode: await summarize(run, options), runDir: run.path };
}

/** Checks the recorded history, writes results.json, the report and the index, and prints the verdict. */
async function summarize(run: RunDirectory, ci: Pick<RunOptions, 'junit'>): Promise<number> {
  const results = await checkRun(run.path);
  const reportPath = await writeReport(run.path);
  await writeIndex(join(run.path, '..'));
  console.log(formatSummary(results));
  console.log(`report: ${reportPath}`);
  if (ci.junit !== undefined) await writeJUnit(ci.junit, run.id, [runSuite(results, reportPath)]);
  // Without GITHUB_STEP_SUMMARY (not under GitHub Actions) this does nothing.
  await appendStepSummary(runStepSummary(results, reportPath));
  return exitCodeFor(results.valid);
}

class TestRun {
  private readonly locks: string[];
  private testbed: Testbed | undefined;
  /** The features every worker announced in init_ok (docs/worker-protocol.md). */
  private features: ReadonlySet<string> = new Set();
  /** client → what it believes it holds (acquire ok, release not yet invoked), by holdKey. */
  private readonly holding = new Map<string, Map<string, HeldLock>>();
  /** client → the elections it campaigns in (campaign ok, resign not yet invoked). */
  private readonly candidacies = new Map<string, Map<string, Candidacy>>();
  /** client → the session it last reported connected, while connected (the workers' session events). */
  private readonly connections = new Map<string, string>();
  private nextOpId = 0;
  private clientsRunning = true;
  private readonly progress: Progress;

  constructor(
    private readonly config: RunConfig,
    private readonly run: RunDirectory,
    private readonly history: HistoryWriter,
    private readonly schedule: readonly FaultPlan[],
  ) {
    this.locks = Array.from({ length: config.locks }, (_, index) => `L${index + 1}`);
    this.progress = new Progress(config.timeLimitS);
  }

  private get bed(): Testbed {
    if (this.testbed === undefined) throw new Error('the testbed is not up');
    return this.testbed;
  }

  async execute(closeHistory: () => void): Promise<void> {
    await this.setUp(closeHistory);
    const schedule = new NemesisSchedule(this.schedule, NEMESES, this.nemesisContext(), this.scheduleListener());
    const loops = this.startClients();
    this.progress.start();
    schedule.start();
    const stopSnapshots = new AbortController();
    const snapshots = this.takeMidRunSnapshots(stopSnapshots.signal);
    await delay(this.config.timeLimitS * 1000);
    this.clientsRunning = false;
    stopSnapshots.abort();
    await snapshots;
    await schedule.stopAndHeal();
    await this.healEverything();
    this.progress.stop();
    // An unref'd bound: once the loops are done it must not hold the process open until it fires.
    await Promise.race([Promise.all(loops), delay(finishBoundMs(this.config), undefined, { ref: false })]);
    await this.releaseWhatClientsBelieveTheyHold();
    await this.sessionsSettled();
    await this.snapshot(true);
  }

  /** Tears the testbed down (one that failed to start has torn itself down already). */
  async teardown(): Promise<void> {
    await this.testbed?.teardown();
  }

  /**
   * Every --snapshot-interval while clients run, the same audit as the final one, marked not final: an orphan
   * that a late cleanup or a session's end removes before the run ends still shows. A snapshot that cannot be
   * taken in the middle of a fault (no leader to list sessions) is skipped.
   */
  private async takeMidRunSnapshots(stop: AbortSignal): Promise<void> {
    const intervalMs = (this.config.snapshotIntervalS ?? 0) * 1000;
    if (intervalMs <= 0) return;
    for (;;) {
      // Aborted when the clients stop: the final audit need not wait out an interval.
      const stopped = await delay(intervalMs, false, { signal: stop }).catch(() => true);
      if (stopped || !this.clientsRunning) return;
      await this.snapshot(false).catch(() => undefined);
    }
  }

  /**
   * Sessions cut off during the run must expire (their ephemerals vanish) before the audit. Settled once every
   * client of a live worker is connected and every session the leader knows is one of theirs: nothing is left to
   * expire. Servers cannot be asked to tell when another's session expires, so the leader is asked each tick, for
   * at most a session timeout and two ticks (by then the server has expired every session cut off before the heal);
   * an ensemble shared with others (--connect) never settles early and waits that bound.
   */
  private async sessionsSettled(): Promise<void> {
    const { sessionTimeoutMs, tickTimeMs } = this.config;
    const deadline = performance.now() + sessionTimeoutMs + 2 * tickTimeMs;
    while (performance.now() < deadline) {
      const ours = this.connectedSessions();
      if (ours !== undefined) {
        const known = await liveSessions(this.bed.cluster).catch(() => undefined);
        if (known?.every((session) => ours.has(session))) return;
      }
      await delay(Math.min(tickTimeMs, Math.max(0, deadline - performance.now())));
    }
  }

  /** The sessions the clients of live workers are connected on, or undefined while one of them is not connected. */
  private connectedSessions(): Set<string> | undefined {
    const sessions = new Set<string>();
    for (const host of this.bed.hosts) {
      if (!host.process.alive) continue;
      for (const client of host.process.clients) {
        const session = this.connections.get(client);
        if (session === undefined) return undefined;
        sessions.add(session);
      }
    }
    return sessions;
  }

  private async setUp(closeHistory: () => void): Promise<void> {
    const { config } = this;
    const workload = WORKLOADS[config.workload];
    this.testbed = await Testbed.start({
      cluster: {
        backend: config.backend,
        nodes: config.nodes,
        tickTimeMs: config.tickTimeMs,
        runDir: this.run.path,
        ...(config.connect === undefined ? {} : { connect: config.connect }),
        ...(config.zkVersion === undefined ? {} : { zkVersion: config.zkVersion }),
        ...(config.hosts === undefined ? {} : { hosts: config.hosts, ssh: sshOptions(config) }),
      },
      ...(config.clientHosts === undefined ? {} : { clientHosts: { hosts: config.clientHosts, ssh: sshOptions(config), runDir: this.run.path } }),
      paths: this.locks.map((lock) => `${LOCK_ROOT}/${lock}`),
      // The toxics' random draws follow the run's seed; a Toxiproxy server of the user's draws its own.
      proxy: { logFile: join(this.run.path, 'proxy.log'), seed: config.seed, ...(config.toxiproxy === undefined ? {} : { toxiproxy: config.toxiproxy }) },
      ...(workload.usesResource
        ? { resource: { fencing: config.fencing, onWrite: (write) => this.history.write({ kind: 'resource', time: this.history.now(), ...write }) } }
        : {}),
      afterTeardown: closeHistory,
    });
    const bed = this.testbed;
    bed.proxy.onEvent((event) => {
      const { monotonicNs, ...line } = event;
      this.history.write({ kind: 'proxy', time: this.history.fromMonotonic(monotonicNs), ...line });
    });

    const launch: WorkerLaunch = config.worker === undefined
      ? await prepareRecipe(config.recipe as RecipeName)
      : { command: ['sh', '-c', `exec ${config.worker}`], env: process.env };
    const clientsOf = (hostIndex: number): string[] =>
      Array.from({ length: config.clients }, (_, index) => index).filter((index) => index % config.workers === hostIndex).map((index) => `c${index + 1}`);
    const hosts = await Promise.all(Array.from({ length: config.workers }, (_, hostIndex) => {
      const name = `w${hostIndex + 1}`;
      return bed.addWorkerHost({
        name,
        clients: clientsOf(hostIndex),
        launch,
        logFile: join(this.run.path, 'workers', `${name}.log`),
        sessionTimeoutMs: config.sessionTimeoutMs,
        lockRoot: LOCK_ROOT,
        options: config.leaderRecipe === undefined ? {} : { leaderRecipe: config.leaderRecipe },
      }, (process) => {
        // One microtask later: an answer read just before the event has its continuation queued already, so a
        // campaign's ok is recorded before the leadership event that follows it on the worker's stdout.
        process.onEvent((event) => queueMicrotask(() => this.workerEvent(name, event)));
        process.onExit((detail) => this.history.write({ kind: 'worker', time: this.history.now(), worker: name, event: this.clientsRunning ? 'crashed' : 'exited', detail }));
      });
    }));
    for (const host of hosts) {
      if (host.init.type !== 'init_ok') throw new Error(`worker ${host.name} did not start: ${host.init.error ?? host.init.type}`);
    }
    this.features = new Set(hosts.map((host) => host.features).reduce((common, features) => common.filter((feature) => features.includes(feature))));
    const missing = workload.requires.filter((feature) => !this.features.has(feature));
    if (missing.length > 0) {
      throw new UserError(`--workload ${config.workload} needs workers that announce '${missing.join("', '")}' in init_ok; ` +
        `${config.worker ?? config.recipe} does not (docs/worker-protocol.md).`);
    }
  }

  private nemesisContext(): NemesisContext {
    const bed = this.bed;
    return {
      cluster: bed.cluster,
      proxy: bed.proxy,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      intervalMs: this.config.nemesisIntervalS * 1000,
      lockRoot: LOCK_ROOT,
      clientHosts: bed.hosts,
      holders: () => this.holders(),
    };
  }

  /** Each fault becomes a `start` and a `stop` line of the history and a part of the progress line. */
  private scheduleListener(): ScheduleListener {
    const record = (type: NemesisLine['type'], index: number, plan: FaultPlan, description: string, value: Record<string, unknown>, offsetMs?: number): void => {
      this.history.write({
        kind: 'nemesis', id: index, type, time: this.history.now(), f: plan.nemesis, description, value,
        plan: { index, atMs: plan.atMs, durationMs: plan.durationMs, target: plan.target, ...(offsetMs === undefined ? {} : { offsetMs: Math.round(offsetMs) }) },
      });
    };
    const warn = (plan: FaultPlan, error: unknown): void => console.error(`nemesis ${plan.nemesis}: ${error instanceof Error ? error.message : String(error)}`);
    return {
      applying: (index, plan) => this.progress.faultApplying(index, plan.nemesis),
      started: (index, plan, fault, offsetMs) => {
        record('start', index, plan, fault.description, fault.value, offsetMs);
        this.progress.faultStarted(index, plan.nemesis, fault.description, plan.durationMs);
      },
      skipped: (index) => this.progress.faultEnded(index),
      healed: (index, plan, fault) => {
        record('stop', index, plan, fault.description, fault.value);
        this.progress.faultEnded(index);
      },
      failed: (index, plan, error) => {
        warn(plan, error);
        this.progress.faultEnded(index);
      },
    };
  }

  /** Clients that believe they hold a lock or a semaphore's lease, or lead an election (its name is the lock). */
  private holders(): Holder[] {
    const result: Holder[] = [];
    for (const host of this.bed.hosts) {
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
    // A worker that leaves the session out of `connected` leaves the final audit waiting its whole bound.
    if (event.event === 'connected' && event.session !== undefined) this.connections.set(event.client, event.session);
    else if (event.event !== 'leadership') this.connections.delete(event.client);
    if (event.event !== 'leadership') return;
    const candidacy = this.candidacies.get(event.client)?.get(event.election);
    if (candidacy === undefined) return; // not campaigning (any more): the client believes nothing of it
    candidacy.leading = event.leading;
    if (event.leading) for (const wake of candidacy.waiters.splice(0)) wake();
  }

  private startClients(): Promise<void>[] {
    const workload = WORKLOADS[this.config.workload];
    return this.bed.hosts.flatMap((host) => host.process.clients.map((client) => workload.run(this.session(host, client), {
      locks: this.locks,
      holdMs: this.config.holdMs,
      acquireTimeoutMs: this.config.acquireTimeoutMs,
      permits: this.config.permits ?? 1,
      // Each client its own stream: how many turns another client gets never shifts this one's choices.
      random: randomFor(this.config.seed, `client ${client}`),
      features: this.features,
    })));
  }

  /** A client as a workload sees it; every call becomes an invoke line and a completion line. */
  private session(host: WorkerHost, client: string): ClientSession {
    const resourceUrl = (lock: string): string => {
      const resource = this.bed.resource;
      if (resource === undefined) throw new Error(`workload ${this.config.workload} has no fenced resource`);
      return resource.url(lock);
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

  private async perform(host: WorkerHost, request: DistributiveOmit<Exclude<WorkerRequest, { type: 'init' }>, 'id'>): Promise<WorkerAnswer> {
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
    const { cluster, proxy, hosts } = this.bed;
    for (const host of hosts) host.resume();
    await proxy.healAll();
    if (capable(cluster, 'partition')) await cluster.heal();
    for (const status of await cluster.status()) {
      if (status.state === 'paused' && capable(cluster, 'pause')) await cluster.resume(status.id);
      if (status.state === 'killed' && capable(cluster, 'kill')) await cluster.restart(status.id);
    }
  }

  private async releaseWhatClientsBelieveTheyHold(): Promise<void> {
    await Promise.all(this.bed.hosts.flatMap((host) => host.process.clients.map(async (client) => {
      for (const { lock, access } of [...(this.holding.get(client)?.values() ?? [])]) {
        await this.perform(host, { type: 'release', client, lock, ...accessField(access) });
      }
      for (const election of [...(this.candidacies.get(client)?.keys() ?? [])]) await this.perform(host, { type: 'resign', client, election });
    })));
  }

  /** Every lock's children (czxid, owner) and every live session, straight from the ensemble, into the history. */
  private async snapshot(final: boolean): Promise<void> {
    const { cluster, resource } = this.bed;
    const admin = await AdminSession.connect(cluster.connectString());
    try {
      // An election's candidate nodes are not a lock's: they go under `elections`. A semaphore's nodes may sit a
      // level down (Curator's leases/ and locks/).
      const workload = this.config.workload;
      const nodes: SnapshotLine['locks'] = {};
      for (const lock of this.locks) nodes[lock] = await admin.lockChildren(`${LOCK_ROOT}/${lock}`, workload === 'semaphore');
      const locks = workload === 'leader' ? {} : nodes;
      const resources: SnapshotLine['resources'] = {};
      for (const lock of resource === undefined ? [] : this.locks) resources[lock] = resource!.state(lock);
      this.history.write({
        kind: 'snapshot', time: this.history.now(), final, locks, ...(workload === 'leader' ? { elections: nodes } : {}), sessions: await liveSessions(cluster), resources,
      });
    } finally {
      admin.close();
    }
  }
}

/** --ssh-key and --ssh-accept-new, for the servers' hosts and the client hosts alike. */
const sshOptions = (config: RunConfig): SshOptions => ({
  ...(config.sshKey === undefined ? {} : { keyFile: config.sshKey }),
  ...(config.sshAcceptNew ? { acceptNew: true } : {}),
});

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

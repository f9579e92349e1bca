/**
 * `npm run bench -- throughput [--clients 64] [--workers 4] [--locks 16] [--seconds 20] [--warmup 20] [--client-hosts N]`
 *
 * How close the try-lock workload through the whole suite comes to what the ensemble allows. One ensemble serves
 * every row, warmed up first (its JVMs spend their first tens of seconds compiling), and every row runs the same
 * sessions on the same locks for the same time:
 *
 * - raw, direct: npm `zookeeper` sessions doing a failing try-lock's work (create ephemeral-sequential,
 *   getChildren, delete), one loop per session, straight to the servers. The ceiling the suite should approach; measured first
 *   and again last, and the higher of the two counts, so a still-warming ensemble cannot flatter the suite.
 * - raw, via proxy: the same loops through the fault proxy, sessions spread over its client hosts as the suite's.
 * - recipe in-process: the node-safe recipe (workloads/workers/node/lock-recipe.ts) trying random locks and
 *   releasing what it gets, in this process, via the proxy: the recipe's own ZooKeeper work without the harness.
 * - suite: `npm run jepsen -- --recipe node-safe --workload try-lock --hold 0` on the same ensemble (backend
 *   external): proxy, worker processes, runner, history.
 * - with `--client-hosts N`: the ensemble runs on three local test hosts over SSH (hosts/), N more test hosts are
 *   client hosts, and the suite's row is run again with its workers on 1, 2, ... N of them (`--client-hosts`), a
 *   proxy on each: how the rate grows with client hosts. The test hosts share this machine's two cores, so the
 *   figure says what the SSH path costs and whether the harness scales out, not what N real machines would reach.
 *
 * An attempt is one try: a raw loop turn, or one completed acquire (a release is never an attempt). Beside each
 * rate: ZooKeeper requests/s (the servers' own `srvr` counters), the time of one turn per session, and the CPU of
 * each part (/proc), so the gap has numbers. Whatever else keeps the machine busy shows in its own column.
 */
import { spawn } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Cluster } from '../cluster/types.ts';
import { LockRecipe, SAFE } from '../workloads/workers/node/lock-recipe.ts';
import { Session } from '../workloads/workers/node/session.ts';
import { ZOO_EPHEMERAL_SEQUENTIAL, connectedZkHandle } from '../ground/zk.ts';
import type { HistoryLine } from '../ground/history.ts';
import { parseTarget } from '../cluster/ssh/target.ts';
import { createTestHosts } from '../hosts/test-hosts.ts';
import { Testbed } from '../testbed/testbed.ts';

interface Options {
  clients: number;
  workers: number;
  locks: number;
  seconds: number;
  warmup: number;
  /** Client hosts for the SSH rows; 0: no such rows, the ensemble on this machine. */
  clientHosts: number;
}

/** Bad flags: one line and exit 254, as the suite's own commands do. */
function parseOptions(args: string[]): Options {
  const fail = (message: string): never => {
    console.error(`throughput: ${message}`);
    process.exit(254);
  };
  let values: Record<Exclude<keyof Options, 'clientHosts'> | 'client-hosts', string>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        clients: { type: 'string', default: '64' },
        workers: { type: 'string', default: '4' },
        locks: { type: 'string', default: '16' },
        seconds: { type: 'string', default: '20' },
        warmup: { type: 'string', default: '20' },
        'client-hosts': { type: 'string', default: '0' },
      },
    }));
  } catch (error) {
    return fail((error as Error).message);
  }
  const number = (name: keyof typeof values, minimum = 1): number => {
    const value = Number(values[name]);
    return Number.isInteger(value) && value >= minimum ? value : fail(`--${name} takes a whole number from ${minimum} up`);
  };
  return {
    clients: number('clients'), workers: number('workers'), locks: number('locks'), seconds: number('seconds'), warmup: number('warmup'),
    clientHosts: number('client-hosts', 0),
  };
}

/**
 * The parts whose CPU is told apart: bench is this process (the raw and recipe rows' client; in the suite's row only
 * its meter); rest is everything else busy on the machine: other processes, kernel threads, interrupt work that no
 * process of ours was charged for.
 */
const PARTS = ['zookeeper', 'bench', 'proxy', 'runner', 'workers', 'rest'] as const;
type Part = (typeof PARTS)[number];

/** USER_HZ: /proc counts CPU time in these ticks on Linux. */
const CLOCK_TICKS_PER_S = 100;

/** One reading of the machine: ZooKeeper's request counters and CPU seconds so far, per part. */
interface Reading {
  wallMs: number;
  zkRequests: number;
  cpuS: Record<Part, number>;
}

interface Usage {
  zkRequestsPerS: number;
  /** Per part, in cores (1 = one core busy all the time). */
  cores: Record<Part, number>;
}

/**
 * Reads /proc and the servers' `srvr` counters. CPU of this process and its descendants is sorted into parts by
 * command line; everything else busy on the machine is the rest.
 */
class Meter {
  private readonly readings: Reading[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** `sshLabels`: test hosts whose tagged processes (servers, remote workers and proxies) count as ours. */
  constructor(private readonly cluster: Cluster, private readonly sshLabels: ReadonlySet<string> = new Set()) {}

  async read(): Promise<Reading> {
    const wallMs = Date.now();
    const counters = await Promise.all(this.cluster.nodeIds.map(async (id) => {
      const answer = await this.cluster.fourLetterWord(id, 'srvr');
      return Number(/^Received: (\d+)/m.exec(answer)?.[1] ?? 0);
    }));
    const reading = { wallMs, zkRequests: counters.reduce((sum, count) => sum + count, 0), cpuS: cpuByPart(this.sshLabels) };
    this.readings.push(reading);
    return reading;
  }

  /** Reads every intervalMs until stop(), for a run whose window is known only afterwards. */
  every(intervalMs: number): void {
    // A server slow to answer srvr costs one reading, not the run.
    this.timer = setInterval(() => void this.read().catch(() => {}), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Usage between the first reading at or after fromMs and the last at or before toMs. */
  usage(fromMs: number, toMs: number): Usage {
    const inside = this.readings.filter((reading) => reading.wallMs >= fromMs && reading.wallMs <= toMs).sort((a, b) => a.wallMs - b.wallMs);
    const first = inside[0];
    const last = inside.at(-1);
    if (first === undefined || last === undefined || last === first) throw new Error('no two readings inside the measured window');
    const seconds = (last.wallMs - first.wallMs) / 1000;
    const cores = Object.fromEntries(PARTS.map((part) => [part, (last.cpuS[part] - first.cpuS[part]) / seconds])) as Record<Part, number>;
    return { zkRequestsPerS: (last.zkRequests - first.zkRequests) / seconds, cores };
  }
}

/** Whether a process carries an ssh run's tag (`ZKJ_SSH=<run>@<label>`) for one of these hosts. */
function taggedFor(pid: number, labels: ReadonlySet<string>): boolean {
  if (labels.size === 0) return false;
  try {
    const tag = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((variable) => variable.startsWith('ZKJ_SSH='));
    return tag !== undefined && labels.has(tag.slice(tag.indexOf('@') + 1));
  } catch {
    return false;
  }
}

function cpuByPart(sshLabels: ReadonlySet<string>): Record<Part, number> {
  const cpuS = Object.fromEntries(PARTS.map((part) => [part, 0])) as Record<Part, number>;
  // cpu  user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const busyS = (ticks.reduce((sum, count) => sum + count, 0) - ticks[3]! - ticks[4]!) / CLOCK_TICKS_PER_S;
  const processes = new Map<number, { parent: number; cpuS: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      processes.set(Number(entry), { parent: Number(fields[1]), cpuS: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S });
    } catch {
      // it exited between the listing and the read
    }
  }
  // This process's descendants, and what runs on its test hosts over SSH (children of their sshds, not of ours).
  const ours = (pid: number): boolean => {
    for (let current = pid; current > 1; current = processes.get(current)?.parent ?? 0) if (current === process.pid) return true;
    return taggedFor(pid, sshLabels);
  };
  let oursS = 0;
  for (const [pid, { cpuS: seconds }] of processes) {
    if (!ours(pid)) continue;
    oursS += seconds;
    const part = partOf(pid);
    if (part !== undefined) cpuS[part] += seconds;
  }
  cpuS.rest = busyS - oursS;
  return cpuS;
}

function partOf(pid: number): Part | undefined {
  if (pid === process.pid) return 'bench';
  let command: string;
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  if (command.includes('QuorumPeerMain')) return 'zookeeper';
  // The proxy and the Node worker run as bundles on client hosts (testbed/client-hosts.ts).
  if (command.includes('nemesis/proxy/main.ts') || command.includes('bundle/proxy.mjs')) return 'proxy';
  if (command.includes('workers/node/main.ts') || command.includes('workloads-workers-node-main.mjs')) return 'workers';
  if (command.includes('src/cli.ts')) return 'runner';
  // The runner's SSH clients to its client hosts: its transport to the workers and proxies there.
  if (command.startsWith('ssh\0')) return 'runner';
  return undefined; // npm, sh, esbuild: small, counted in no part
}

interface RowResult {
  label: string;
  /** Whether this process ran the row's sessions (else the suite's workers did). */
  benchIsClient: boolean;
  attemptsPerS: number;
  usage: Usage;
  note?: string;
}

/** Runs one loop per session until the deadline; returns attempts/s over the span the loops ran. */
async function loopFor<S>(sessions: S[], seconds: number, meter: Meter, turn: (session: S, index: number) => Promise<void>): Promise<{ attemptsPerS: number; usage: Usage }> {
  const start = await meter.read();
  const deadline = performance.now() + seconds * 1000;
  let attempts = 0;
  await Promise.all(sessions.map(async (session, index) => {
    while (performance.now() < deadline) {
      await turn(session, index);
      attempts += 1;
    }
  }));
  const end = await meter.read();
  return { attemptsPerS: attempts / ((end.wallMs - start.wallMs) / 1000), usage: meter.usage(start.wallMs, end.wallMs) };
}

/** create + getChildren + delete, one loop per session on a lock of its own choosing (session i on lock i mod locks). */
async function rawRow(label: string, connectStrings: string[], options: Options, seconds: number, meter: Meter): Promise<RowResult> {
  const sessions = await Promise.all(Array.from({ length: options.clients }, (_, index) =>
    connectedZkHandle(connectStrings[index % connectStrings.length]!, 4000)));
  try {
    const result = await loopFor(sessions, seconds, meter, async (session, index) => {
      const parent = `/bench/raw/L${(index % options.locks) + 1}`;
      const node = await session.create(`${parent}/lock-`, '', ZOO_EPHEMERAL_SEQUENTIAL);
      await session.get_children(parent, false);
      await session.delete_(node, -1);
    });
    return { label, benchIsClient: true, ...result };
  } finally {
    for (const session of sessions) session.close();
  }
}

/** The node-safe recipe's try-lock on random locks, releasing what it gets, with no runner, worker or history. */
async function recipeRow(connectStrings: string[], options: Options, meter: Meter): Promise<RowResult> {
  const quiet = { connected: () => {}, disconnected: () => {}, ended: () => {} };
  const sessions = Array.from({ length: options.clients }, (_, index) => new Session(connectStrings[index % connectStrings.length]!, 4000, quiet));
  await Promise.all(sessions.map((session) => session.untilConnected()));
  const recipe = new LockRecipe(SAFE);
  try {
    const result = await loopFor(sessions, options.seconds, meter, async (session) => {
      const lock = `L${1 + Math.floor(Math.random() * options.locks)}`;
      const outcome = await recipe.acquire(session, `/bench/recipe/${lock}`, 'try', Infinity);
      if (outcome.type === 'ok') await recipe.release({ lock, node: outcome.node, token: outcome.token, session, lost: false });
    });
    return { label: 'recipe in-process: node-safe try-lock + release, via proxy', benchIsClient: true, ...result };
  } finally {
    for (const session of sessions) session.close();
  }
}

/**
 * The CLI's try-lock run on the same ensemble; attempts/s is completed acquires over the span the clients ran.
 * `remote`: its workers on client hosts over SSH instead.
 */
async function suiteRow(cluster: Cluster, options: Options, resultsDir: string, meter: Meter, remote?: { flags: string[]; hosts: number }): Promise<RowResult> {
  const args = [
    '--import', 'tsx', join(import.meta.dirname, 'cli.ts'),
    ...(remote?.flags ?? []),
    '--recipe', 'node-safe', '--workload', 'try-lock', '--hold', '0',
    '--backend', 'external', '--connect', cluster.connectString(),
    '--clients', String(options.clients), '--workers', String(options.workers), '--locks', String(options.locks),
    '--time-limit', String(options.seconds), '--results', resultsDir,
  ];
  meter.every(250);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  meter.stop();
  const history = join(await realpath(join(resultsDir, 'latest')), 'history.jsonl');
  let startedAtMs = 0;
  let first = Infinity;
  let last = 0;
  let completed = 0;
  for await (const text of createInterface({ input: createReadStream(history), crlfDelay: Infinity })) {
    const line = JSON.parse(text) as HistoryLine;
    if (line.kind === 'header') startedAtMs = Date.parse(line.startedAt);
    if (line.kind !== 'op' || line.f !== 'acquire') continue;
    first = Math.min(first, line.time);
    if (line.type === 'invoke') continue;
    completed += 1;
    last = Math.max(last, line.time);
  }
  // History time 0 is the header's startedAt (to the millisecond), which places the window on the meter's clock.
  const usage = meter.usage(startedAtMs + first / 1e6, startedAtMs + last / 1e6);
  return {
    label: remote === undefined
      ? `suite: node-safe try-lock, ${options.workers} workers, via proxy, history`
      : `suite, workers on ${remote.hosts} client host${remote.hosts === 1 ? '' : 's'} over SSH (test hosts on this machine), a proxy on each`,
    benchIsClient: false,
    attemptsPerS: completed / ((last - first) / 1e9),
    usage,
    ...(exitCode === 0 ? {} : { note: `the suite's run exited ${exitCode}: see its report` }),
  };
}

function printTable(rows: RowResult[], options: Options): void {
  const percent = (cores: number): string => `${Math.round(cores * 100)}`;
  console.log('');
  console.log(`${options.clients} sessions on ${options.locks} locks, ${options.seconds} s per row, one ensemble warmed for ${options.warmup} s. ` +
    'CPU in % of one core; bench is this process (the sessions of the raw and recipe rows, only a meter in the suite\'s). ' +
    'ms CPU/attempt: ZooKeeper, and the parts that did the client side (sessions, proxy, runner, workers).');
  console.log('');
  console.log('| row | attempts/s | ZK requests/s | ms per turn per session | ZooKeeper | bench | proxy | runner | workers | rest of machine | ms CPU/attempt: ZK + client side |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { label, attemptsPerS, usage, benchIsClient } of rows) {
    const { cores } = usage;
    const clientSide = (benchIsClient ? cores.bench : 0) + cores.proxy + cores.runner + cores.workers;
    console.log(`| ${label} | ${attemptsPerS.toFixed(0)} | ${usage.zkRequestsPerS.toFixed(0)} | ${(1000 * options.clients / attemptsPerS).toFixed(1)} | ` +
      `${PARTS.map((part) => percent(cores[part])).join(' | ')} | ${(1000 * cores.zookeeper / attemptsPerS).toFixed(2)} + ${(1000 * clientSide / attemptsPerS).toFixed(2)} |`);
  }
}

export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const scratch = await mkdtemp(join(tmpdir(), 'zkj-bench-'));
  console.error(`throughput: ${options.clients} sessions on ${options.locks} locks, warm-up ${options.warmup} s, then ${5 + options.clientHosts} rows of ${options.seconds} s`);
  const locks = Array.from({ length: options.locks }, (_, index) => `L${index + 1}`);
  // With client hosts, the servers too are test hosts: the client hosts reach them on their bridge.
  const testHosts = options.clientHosts === 0 ? undefined : await createTestHosts(3 + options.clientHosts);
  const ssh = testHosts === undefined ? undefined : { hosts: testHosts.targets(testHosts.hosts.slice(0, 3)), ssh: { keyFile: testHosts.keyFile } };
  const ensemble = await Testbed.start({
    cluster: { backend: ssh === undefined ? 'local' : 'ssh', runDir: join(scratch, 'ensemble'), ...ssh },
    paths: locks.flatMap((lock) => [`/bench/raw/${lock}`, `/bench/recipe/${lock}`]),
  }).catch(async (error: unknown) => {
    await testHosts?.remove();
    throw error;
  });
  try {
    const { cluster } = ensemble;
    const meter = new Meter(cluster, new Set(testHosts?.hosts.map((host) => parseTarget(host.address).label) ?? []));
    const direct = [cluster.connectString()];
    await rawRow('warm-up', direct, options, options.warmup, meter);

    const rawFirst = await rawRow('raw, direct: create + getChildren + delete', direct, options, options.seconds, meter);
    // The same ensemble behind the fault proxy, its sessions spread over client hosts as the suite's are.
    const proxied = await Testbed.start({ cluster: { use: cluster }, proxy: { logFile: join(scratch, 'proxy.log') } });
    const hosts = await Promise.all(Array.from({ length: options.workers }, (_, index) => proxied.connectFor(`w${index + 1}`)));
    const viaProxy = await rawRow('raw, via proxy: the same loops', hosts, options, options.seconds, meter);
    const recipe = await recipeRow(hosts, options, meter);
    await proxied.teardown();
    const suite = await suiteRow(cluster, options, join(scratch, 'suite'), meter);
    const remoteRows: RowResult[] = [];
    for (let count = 1; testHosts !== undefined && count <= options.clientHosts; count++) {
      const clientHosts = testHosts.targets(testHosts.hosts.slice(3, 3 + count));
      remoteRows.push(await suiteRow(cluster, options, join(scratch, `suite-${count}`), meter, {
        flags: ['--client-hosts', clientHosts, '--ssh-key', testHosts.keyFile], hosts: count,
      }));
    }
    const rawLast = await rawRow('raw, direct, again after the suite', direct, options, options.seconds, meter);

    printTable([rawFirst, viaProxy, recipe, suite, ...remoteRows, rawLast], options);
    if (remoteRows.length > 0) {
      console.log('');
      console.log(`client hosts: ${remoteRows.map((row, index) => `${index + 1} → ${row.attemptsPerS.toFixed(0)}/s`).join(', ')}. ` +
        'The test hosts are namespaces of this machine and share its two cores with the ensemble (servers, workers ' +
        'and proxies on them are counted in their parts by their run tags; the runner\'s ssh clients in "runner"): ' +
        'the growth shown is the harness scaling out on one machine, not what separate machines would reach.');
    }
    const ceiling = Math.max(rawFirst.attemptsPerS, rawLast.attemptsPerS);
    console.log('');
    console.log(`suite / raw direct (the higher of its two rows): ${(suite.attemptsPerS / ceiling).toFixed(2)} (target 0.9)`);
    console.log(`suite / raw via proxy: ${(suite.attemptsPerS / viaProxy.attemptsPerS).toFixed(2)}; suite / recipe in-process: ${(suite.attemptsPerS / recipe.attemptsPerS).toFixed(2)} (the runner, worker processes and history)`);
    if (suite.note !== undefined) console.log(`(${suite.note})`);
  } finally {
    await ensemble.teardown();
    await testHosts?.remove();
    await rm(scratch, { recursive: true, force: true });
  }
}

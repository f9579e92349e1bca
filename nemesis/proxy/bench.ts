/**
 * `npm run bench -- proxy [--requests N] [--seconds S] [--window W] [--rounds R] [--server host:port] [--profile]
 * [--profile-top N]`: what the fault proxy costs a client, with nothing armed. One server of a fresh ensemble (or
 * the running server given), the same client library (npm `zookeeper`) straight and through the proxy: round
 * trips of sequential `exists` (p50, p99), then the most `exists` per second with W in flight.
 *
 * Straight and proxied runs alternate in R rounds (at least 5) on one warmed server and one pair of sessions, the
 * order flipping every round, so that drift of a shared machine hits both alike; each ratio proxy/direct is taken
 * per round and printed as the median with its range, and the goal (ops/s proxy/direct ≥ 0.9) is judged on the
 * median. CPU time per request of each process (the bench's client, the proxy, the server) comes from the kernel's
 * accounting. With --profile, or when the goal is missed, two more proxied rounds run with V8's sampling profiler
 * in the client process (the inspector) and in a freshly spawned proxy (`node --cpu-prof`), and the top functions
 * of each process are printed.
 */
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCluster } from '../../cluster/index.ts';
import { EXIT } from '../../ground/errors.ts';
import { connectedZkHandle, type ZkHandle } from '../../ground/zk.ts';
import { startProxy, type ProxyHandle } from './client.ts';
import { monotonicUs, summarizeProfile, type CpuProfile, type ProfileSummary, type Window } from './cpu-profile.ts';

const MIN_ROUNDS = 5;
const WARMUP_REQUESTS = 300;
const WARMUP_LOAD_MS = 500;
const PROFILED_ROUNDS = 2;
const TARGET_SERVER = 1;
/** The goal: through the proxy, at least this share of the direct rate with W in flight (median of the rounds). */
const RATE_GOAL = 0.9;
/** /proc/<pid>/stat counts CPU time in these ticks per second (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

interface Options {
  requests: number;
  seconds: number;
  window: number;
  rounds: number;
  profile: boolean;
  profileTop: number;
  /** A running server to measure against instead of a fresh ensemble. */
  server?: { host: string; port: number };
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      requests: { type: 'string', default: '6000' },
      seconds: { type: 'string', default: '6' },
      window: { type: 'string', default: '128' },
      rounds: { type: 'string', default: '6' },
      server: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-top': { type: 'string', default: '15' },
    },
  });
  const positive = (name: 'requests' | 'seconds' | 'window' | 'rounds' | 'profile-top'): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, not '${values[name]}'`);
    return value;
  };
  const options: Options = {
    requests: positive('requests'),
    seconds: positive('seconds'),
    window: positive('window'),
    rounds: Math.round(positive('rounds')),
    profile: values.profile,
    profileTop: Math.round(positive('profile-top')),
  };
  if (options.rounds < MIN_ROUNDS) throw new Error(`--rounds must be at least ${MIN_ROUNDS} (a median of fewer says little on a shared machine), not ${options.rounds}`);
  if (values.server !== undefined) {
    const match = /^([^:]+):(\d+)$/.exec(values.server);
    if (match === null) throw new Error(`--server must be host:port, not '${values.server}'`);
    options.server = { host: match[1]!, port: Number(match[2]) };
  }
  return options;
}

export async function run(args: string[]): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`bench proxy: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = EXIT.badArguments;
    return;
  }
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-proxy-bench-'));
  try {
    if (options.server !== undefined) {
      await measureThroughProxy(options.server, undefined, options, runDir);
      return;
    }
    const cluster = await createCluster({ runDir });
    try {
      await cluster.start();
      await measureThroughProxy(cluster.clientAddress(TARGET_SERVER), await serverPid(join(runDir, 'nodes', `zk${TARGET_SERVER}`)), options, runDir);
    } finally {
      await cluster.teardown();
    }
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

type Side = 'direct' | 'proxied';
type Phase = 'sequential' | 'load';
const SIDES: readonly Side[] = ['direct', 'proxied'];

interface RoundFigures {
  p50: number;
  p99: number;
  rate: number;
}

/** What the kernel has counted for a process so far: CPU time (µs) and system calls that read or write. */
interface Usage {
  cpuUs: number;
  reads: number;
  writes: number;
}
type Counter = keyof Usage;

/** A process whose usage is counted. */
interface Meter {
  name: string;
  pid: number | undefined;
}

/** What each process used, and how many requests were done, per side and phase. */
class UsageLedger {
  private readonly used = new Map<string, Usage>();
  private readonly requests = new Map<string, number>();

  constructor(readonly meters: Meter[]) {}

  /** Runs `work` (which answers how many requests it completed) and books what each process used meanwhile. */
  async measure<T extends { requests: number }>(side: Side, phase: Phase, work: () => Promise<T>): Promise<T> {
    const before = await Promise.all(this.meters.map((meter) => processUsage(meter.pid)));
    const result = await work();
    const after = await Promise.all(this.meters.map((meter) => processUsage(meter.pid)));
    this.meters.forEach((meter, index) => {
      const [start, end] = [before[index], after[index]];
      if (start === undefined || end === undefined) return;
      const key = `${meter.name}|${side}|${phase}`;
      const sum = this.used.get(key) ?? { cpuUs: 0, reads: 0, writes: 0 };
      this.used.set(key, { cpuUs: sum.cpuUs + end.cpuUs - start.cpuUs, reads: sum.reads + end.reads - start.reads, writes: sum.writes + end.writes - start.writes });
    });
    this.requests.set(`${side}|${phase}`, (this.requests.get(`${side}|${phase}`) ?? 0) + result.requests);
    return result;
  }

  perRequest(meter: string, side: Side, phase: Phase, counter: Counter): number | undefined {
    const used = this.used.get(`${meter}|${side}|${phase}`);
    const requests = this.requests.get(`${side}|${phase}`) ?? 0;
    return used === undefined || requests === 0 ? undefined : used[counter] / requests;
  }
}

async function measureThroughProxy(server: { host: string; port: number }, zkPid: number | undefined, options: Options, runDir: string): Promise<void> {
  const proxy = await startProxy({ servers: new Map([[TARGET_SERVER, server]]), logFile: join(runDir, 'proxy.log') });
  const clients: ZkHandle[] = [];
  try {
    const direct = await connectedZkHandle(`${server.host}:${server.port}`, 10_000);
    clients.push(direct);
    const proxied = await connectedZkHandle(await proxy.addClientHost('bench'), 10_000);
    clients.push(proxied);
    const perRound = { requests: Math.ceil(options.requests / options.rounds), ms: (options.seconds * 1000) / options.rounds };
    console.log(`proxy benchmark: exists() on ${server.host}:${server.port}; ${options.requests} round trips and ${options.seconds} s of load each way, in ${options.rounds} alternating rounds (${perRound.requests} and ${(perRound.ms / 1000).toFixed(2)} s each); load average ${loadavg()[0]!.toFixed(1)}`);
    const meters: Meter[] = [
      { name: 'bench client', pid: process.pid },
      { name: 'proxy', pid: proxy.pid },
      ...(zkPid === undefined ? [] : [{ name: `ZooKeeper server zk${TARGET_SERVER}`, pid: zkPid }]),
    ];
    const ledger = new UsageLedger(meters);
    await warmUp(direct, proxied, options.window);
    const rounds = await measureRounds({ direct, proxied }, ledger, options, perRound);
    const rateRatio = printFigures(rounds, options);
    printUsage(ledger, options.window);
    console.log(`load average ${loadavg()[0]!.toFixed(1)} at the end`);
    const missed = rateRatio < RATE_GOAL;
    if (options.profile || missed) {
      console.log(`\nprofile (${missed ? 'the goal was missed' : '--profile'}): ${PROFILED_ROUNDS} more proxied rounds, through a fresh proxy, with V8's sampling profiler on in each process; not counted above`);
      await profileProxiedRounds(server, options, perRound, runDir);
    }
  } finally {
    for (const client of clients) client.close();
    await proxy.close();
  }
}

async function warmUp(direct: ZkHandle, proxied: ZkHandle, window: number): Promise<void> {
  for (const client of [direct, proxied]) {
    await roundTrips(client, WARMUP_REQUESTS);
    await throughput(client, WARMUP_LOAD_MS, window);
  }
}

async function measureRounds(clients: Record<Side, ZkHandle>, ledger: UsageLedger, options: Options, perRound: { requests: number; ms: number }): Promise<{ first: Side; figures: Record<Side, RoundFigures>; samples: Record<Side, number[]> }[]> {
  const rounds = [];
  for (let round = 0; round < options.rounds; round += 1) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    const order: readonly Side[] = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    const figures = {} as Record<Side, RoundFigures>;
    const samples = {} as Record<Side, number[]>;
    for (const side of order) {
      const client = clients[side];
      const sequential = await ledger.measure(side, 'sequential', async () => {
        const times = await roundTrips(client, perRound.requests);
        return { times, requests: times.length };
      });
      const load = await ledger.measure(side, 'load', () => throughput(client, perRound.ms, options.window));
      samples[side] = sequential.times;
      figures[side] = { p50: quantile(sequential.times, 0.5), p99: quantile(sequential.times, 0.99), rate: load.rate };
    }
    rounds.push({ first: order[0]!, figures, samples });
  }
  return rounds;
}

/** Prints every figure; answers the median ratio of the rates, which the goal is judged on. */
function printFigures(rounds: Awaited<ReturnType<typeof measureRounds>>, options: Options): number {
  // Pooled over the rounds, as this bench printed before the per-round figures: quantiles of all samples, the best rate.
  const pooled = (side: Side) => rounds.flatMap((round) => round.samples[side]);
  const latency = (side: Side, q: number) => quantile(pooled(side), q);
  const rate = (side: Side) => Math.max(...rounds.map((round) => round.figures[side].rate));
  const rows: [string, number, number, string][] = [
    ['round trip p50 (ms)', latency('direct', 0.5), latency('proxied', 0.5), signedMs(latency('proxied', 0.5) - latency('direct', 0.5))],
    ['round trip p99 (ms)', latency('direct', 0.99), latency('proxied', 0.99), signedMs(latency('proxied', 0.99) - latency('direct', 0.99))],
    [`max ops/s (${options.window} in flight)`, rate('direct'), rate('proxied'), `${((100 * rate('proxied')) / rate('direct')).toFixed(1)} % of direct`],
  ];
  console.log(formatTable(['', 'direct', 'through proxy', 'ratio', 'difference'], rows.map(([name, a, b, difference]) => [
    name,
    format(a),
    format(b),
    `${(b / a).toFixed(3)}×`,
    difference,
  ])));

  console.log('\nper round:');
  console.log(formatTable(
    ['round', 'first', 'p50 direct', 'p50 proxied', 'p99 direct', 'p99 proxied', 'ops/s direct', 'ops/s proxied', 'ops/s proxy/direct'],
    rounds.map((round, index) => {
      const { direct, proxied } = round.figures;
      return [String(index + 1), round.first, format(direct.p50), format(proxied.p50), format(direct.p99), format(proxied.p99), format(direct.rate), format(proxied.rate), (proxied.rate / direct.rate).toFixed(3)];
    }),
  ));

  const ratios = (measure: keyof RoundFigures) => rounds.map((round) => round.figures.proxied[measure] / round.figures.direct[measure]);
  const rateRatio = median(ratios('rate'));
  const verdict = `goal ≥ ${RATE_GOAL}: ${rateRatio >= RATE_GOAL ? 'met' : 'missed'}`;
  console.log(`\nproxy/direct per round, median (min–max) of ${rounds.length} rounds:`);
  console.log(formatTable(['measure', 'proxy/direct', 'goal'], [
    ['round trip p50', spread(ratios('p50')), 'lower is better'],
    ['round trip p99', spread(ratios('p99')), 'lower is better'],
    [`ops/s (${options.window} in flight)`, spread(ratios('rate')), verdict],
  ]));
  return rateRatio;
}

function printUsage(ledger: UsageLedger, window: number): void {
  const header = ['process', 'direct, sequential', 'proxied, sequential', `direct, ${window} in flight`, `proxied, ${window} in flight`];
  const table = (counter: Counter, digits: number) => formatTable(header, ledger.meters.map(({ name }) => {
    const cell = (side: Side, phase: Phase) => {
      const value = name === 'proxy' && side === 'direct' ? undefined : ledger.perRequest(name, side, phase, counter);
      return value === undefined ? '–' : value.toFixed(digits);
    };
    return [name, cell('direct', 'sequential'), cell('proxied', 'sequential'), cell('direct', 'load'), cell('proxied', 'load')];
  }));
  console.log('\nCPU time per request (µs; from the kernel, all rounds):');
  console.log(table('cpuUs', 1));
  console.log('\nsystem calls per request that read / write (from the kernel, all rounds):');
  console.log(table('reads', 2));
  console.log(table('writes', 2));
  // When client, proxy and server are all counted: the rate ratio that CPU alone would allow, free of the shared
  // machine's swings (the processes bound by two cores of their own).
  const total = (side: Side) => ledger.meters.reduce((sum, { name }) => sum + (name === 'proxy' && side === 'direct' ? 0 : ledger.perRequest(name, side, 'load', 'cpuUs') ?? Number.NaN), 0);
  if (ledger.meters.length === 3 && Number.isFinite(total('direct') + total('proxied'))) {
    console.log(`CPU time per request of client, proxy and server together, ${window} in flight: direct ${total('direct').toFixed(1)} µs, proxied ${total('proxied').toFixed(1)} µs; direct/proxied ${(total('direct') / total('proxied')).toFixed(3)} (the ops/s ratio if the three were bound by CPU alone)`);
  }
}

/**
 * Proxied rounds with both processes profiled: the client process by the inspector (in this process), the proxy
 * spawned afresh with `--cpu-prof` (written when it exits) and its samples kept only within the rounds.
 */
async function profileProxiedRounds(server: { host: string; port: number }, options: Options, perRound: { requests: number; ms: number }, runDir: string): Promise<void> {
  const profileDir = join(runDir, 'profiles');
  await mkdir(profileDir, { recursive: true });
  const proxy: ProxyHandle = await startProxy({
    servers: new Map([[TARGET_SERVER, server]]),
    logFile: join(runDir, 'proxy-profiled.log'),
    nodeOptions: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  });
  const pid = proxy.pid;
  const session = new Session();
  const windows: Window[] = [];
  let clientProfile: CpuProfile;
  try {
    const client = await connectedZkHandle(await proxy.addClientHost('bench'), 10_000);
    try {
      await roundTrips(client, WARMUP_REQUESTS);
      await throughput(client, WARMUP_LOAD_MS, options.window);
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      for (let round = 0; round < PROFILED_ROUNDS; round += 1) {
        const start = monotonicUs();
        await roundTrips(client, perRound.requests);
        await throughput(client, perRound.ms, options.window);
        windows.push([start, monotonicUs()]);
      }
      clientProfile = (await session.post('Profiler.stop')).profile as CpuProfile;
    } finally {
      client.close();
    }
  } finally {
    session.disconnect();
    await proxy.close();
  }
  const written = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
  printProfile(`bench client process (pid ${process.pid})`, summarizeProfile(clientProfile, options.profileTop));
  if (written.length === 0) {
    console.log(`proxy process (pid ${pid}): no profile was written`);
    return;
  }
  const proxyProfile = JSON.parse(await readFile(join(profileDir, written[0]!), 'utf8')) as CpuProfile;
  printProfile(`proxy process (pid ${pid})`, summarizeProfile(proxyProfile, options.profileTop, windows));
}

function printProfile(title: string, summary: ProfileSummary): void {
  const busy = summary.sampledMs - summary.idleMs;
  console.log(`\n${title}: ${summary.sampledMs.toFixed(0)} ms sampled, busy ${busy.toFixed(0)} ms (${((100 * busy) / Math.max(summary.sampledMs, 1)).toFixed(0)} %)`);
  console.log(formatTable(['kind of code', 'self ms', 'of busy'], summary.kinds.map((cost) => [cost.name, cost.ms.toFixed(0), `${(100 * cost.share).toFixed(1)} %`])));
  console.log(formatTable(['function (self time)', 'self ms', 'of busy'], summary.functions.map((cost) => [cost.name, cost.ms.toFixed(0), `${(100 * cost.share).toFixed(1)} %`])));
}

/**
 * A process's usage so far, all its threads: CPU time (user and system; this process's own to the microsecond,
 * another's in clock ticks) and its read and write system calls; undefined when it cannot be read.
 */
async function processUsage(pid: number | undefined): Promise<Usage | undefined> {
  if (pid === undefined) return undefined;
  try {
    const [stat, io] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/io`, 'utf8')]);
    const count = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    let cpuUs: number;
    if (pid === process.pid) {
      const { user, system } = process.cpuUsage();
      cpuUs = user + system;
    } else {
      // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuUs = ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_S;
    }
    return { cpuUs, reads: count('syscr'), writes: count('syscw') };
  } catch {
    return undefined;
  }
}

/** The server's process: the java whose command line names its log directory under the bench's run directory. */
async function serverPid(logDir: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.split('\0').includes(`-Dzookeeper.log.dir=${logDir}`)) return Number(entry);
  }
  return undefined;
}

/** Sequential round trips; milliseconds each. */
async function roundTrips(client: ZkHandle, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const startedAt = performance.now();
    await client.exists('/', false);
    samples.push(performance.now() - startedAt);
  }
  return samples;
}

/** Completed requests per second over `durationMs`, keeping `window` requests in flight. */
async function throughput(client: ZkHandle, durationMs: number, window: number): Promise<{ rate: number; requests: number }> {
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  let completed = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await client.exists('/', false);
      completed += 1;
    }
  };
  await Promise.all(Array.from({ length: window }, loop));
  return { rate: completed / ((performance.now() - startedAt) / 1000), requests: completed };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function spread(values: number[]): string {
  return `${median(values).toFixed(3)} (${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)})`;
}

function signedMs(value: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(3)} ms`;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(3);
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

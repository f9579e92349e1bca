/**
 * `npm run bench -- proxy [--requests N] [--seconds S] [--window W] [--server host:port]`: what the fault proxy
 * costs a client. One server of a fresh ensemble (or the running server given), the same client library (npm
 * `zookeeper`) straight and through the proxy: round trips of sequential `exists` (p50, p99), then the most
 * `exists` per second with W in flight. Straight and proxied runs alternate in rounds so that drift of a shared
 * machine hits both alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCluster } from '../../cluster/index.ts';
import { connectedZkHandle, type ZkHandle } from '../../ground/zk.ts';
import { startProxy } from './client.ts';

const ROUNDS = 4;
const WARMUP_REQUESTS = 300;
const TARGET_SERVER = 1;

interface Options {
  requests: number;
  seconds: number;
  window: number;
  /** A running server to measure against instead of a fresh ensemble. */
  server?: { host: string; port: number };
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      requests: { type: 'string', default: '4000' },
      seconds: { type: 'string', default: '4' },
      window: { type: 'string', default: '128' },
      server: { type: 'string' },
    },
  });
  const positive = (name: keyof Options): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, not '${values[name]}'`);
    return value;
  };
  const options: Options = { requests: positive('requests'), seconds: positive('seconds'), window: positive('window') };
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
    process.exitCode = 2;
    return;
  }
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-proxy-bench-'));
  const logFile = join(runDir, 'proxy.log');
  try {
    if (options.server !== undefined) {
      await measureThroughProxy(options.server, options, logFile);
      return;
    }
    const cluster = await createCluster({ runDir });
    try {
      await cluster.start();
      await measureThroughProxy(cluster.clientAddress(TARGET_SERVER), options, logFile);
    } finally {
      await cluster.teardown();
    }
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

async function measureThroughProxy(server: { host: string; port: number }, options: Options, logFile: string): Promise<void> {
  const proxy = await startProxy({ servers: new Map([[TARGET_SERVER, server]]), logFile });
  const clients: ZkHandle[] = [];
  try {
    const direct = await connectedZkHandle(`${server.host}:${server.port}`, 10_000);
    clients.push(direct);
    const proxied = await connectedZkHandle(await proxy.addClientHost('bench'), 10_000);
    clients.push(proxied);
    console.log(`proxy benchmark: exists() on ${server.host}:${server.port}; ${options.requests} round trips and ${options.seconds} s of load each way, in ${ROUNDS} alternating rounds`);
    await measureAndPrint(direct, proxied, options);
  } finally {
    for (const client of clients) client.close();
    await proxy.close();
  }
}

async function measureAndPrint(direct: ZkHandle, proxied: ZkHandle, options: Options): Promise<void> {
  await roundTrips(direct, WARMUP_REQUESTS);
  await roundTrips(proxied, WARMUP_REQUESTS);
  const samples = { direct: [] as number[], proxied: [] as number[] };
  const rates = { direct: [] as number[], proxied: [] as number[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    const order = round % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
    for (const which of order) {
      const client = which === 'direct' ? direct : proxied;
      samples[which].push(...(await roundTrips(client, Math.ceil(options.requests / ROUNDS))));
      rates[which].push(await throughput(client, (options.seconds * 1000) / ROUNDS, options.window));
    }
  }
  const latency = (which: keyof typeof samples, q: number) => quantile(samples[which], q);
  const rate = (which: keyof typeof rates) => Math.max(...rates[which]);
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
async function throughput(client: ZkHandle, durationMs: number, window: number): Promise<number> {
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
  return completed / ((performance.now() - startedAt) / 1000);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
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

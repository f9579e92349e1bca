/**
 * `npm run bench -- throughput [--clients 64] [--workers 4] [--locks 16] [--seconds 20]`
 *
 * The raw ceiling — npm `zookeeper` sessions doing a failing try-lock's work (create ephemeral-sequential,
 * getChildren, delete) as fast as the ensemble allows, one loop per session, straight to the servers — beside
 * the try-lock workload through the whole suite (proxy, workers, history, checker) at the same concurrency.
 * Both on the same machine, one after the other; the ratio is the suite's overhead.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createCluster } from '../cluster/index.ts';
import { ZOO_EPHEMERAL_SEQUENTIAL, newZkHandle, type ZkHandle } from '../workloads/workers/node/zk.ts';
import { runCleanups } from './cleanup.ts';
import type { HistoryLine } from './history.ts';
import { AdminSession } from './zk-admin.ts';

interface Options {
  clients: number;
  workers: number;
  locks: number;
  seconds: number;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      clients: { type: 'string', default: '64' },
      workers: { type: 'string', default: '4' },
      locks: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '20' },
    },
  });
  const number = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a whole number from 1 up`);
    return value;
  };
  return { clients: number('clients'), workers: number('workers'), locks: number('locks'), seconds: number('seconds') };
}

async function connected(handle: ZkHandle): Promise<ZkHandle> {
  await new Promise<void>((resolve) => {
    handle.on('connect', () => resolve());
    handle.init({});
  });
  return handle;
}

/** Attempts per second of `sessions` loops of create + getChildren + delete, straight to the ensemble. */
async function rawCeiling(options: Options, runDir: string): Promise<number> {
  const cluster = await createCluster({ backend: 'local', runDir });
  try {
    await cluster.start();
    const admin = await AdminSession.connect(cluster.connectString());
    for (let lock = 1; lock <= options.locks; lock += 1) await admin.ensurePath(`/bench/L${lock}`);
    admin.close();
    const sessions = await Promise.all(
      Array.from({ length: options.clients }, () => connected(newZkHandle(cluster.connectString(), 4000))),
    );
    const deadline = Date.now() + options.seconds * 1000;
    let attempts = 0;
    await Promise.all(sessions.map(async (session, index) => {
      const parent = `/bench/L${(index % options.locks) + 1}`;
      while (Date.now() < deadline) {
        const node = await session.create(`${parent}/lock-`, '', ZOO_EPHEMERAL_SEQUENTIAL);
        await session.get_children(parent, false);
        await session.delete_(node, -1);
        attempts += 1;
      }
    }));
    for (const session of sessions) session.close();
    return attempts / options.seconds;
  } finally {
    await cluster.teardown();
  }
}

/** Try-lock attempts per second through the suite: completed acquires over the span the clients ran. */
async function throughSuite(options: Options, resultsDir: string): Promise<{ rate: number; exitCode: number | null }> {
  const args = [
    '--import', 'tsx', join(import.meta.dirname, 'cli.ts'),
    '--recipe', 'node-safe', '--workload', 'try-lock', '--backend', 'local', '--hold', '0',
    '--clients', String(options.clients), '--workers', String(options.workers), '--locks', String(options.locks),
    '--time-limit', String(options.seconds), '--results', resultsDir,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const history = join(await realpath(join(resultsDir, 'latest')), 'history.jsonl');
  let first = Infinity;
  let last = 0;
  let completed = 0;
  for await (const text of createInterface({ input: createReadStream(history), crlfDelay: Infinity })) {
    const line = JSON.parse(text) as HistoryLine;
    if (line.kind !== 'op' || line.f !== 'acquire') continue;
    first = Math.min(first, line.time);
    if (line.type === 'invoke') continue;
    completed += 1;
    last = Math.max(last, line.time);
  }
  return { rate: completed / ((last - first) / 1e9), exitCode };
}

export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const scratch = await mkdtemp(join(tmpdir(), 'zkj-bench-'));
  try {
    console.error(`throughput: ${options.clients} clients on ${options.locks} locks, ${options.seconds} s each`);
    const raw = await rawCeiling(options, join(scratch, 'raw'));
    const suite = await throughSuite(options, join(scratch, 'suite'));
    console.log('');
    console.log('| path | try-lock attempts/s |');
    console.log('|---|---|');
    console.log(`| raw npm zookeeper, ${options.clients} sessions, straight to the servers | ${raw.toFixed(0)} |`);
    console.log(`| suite: node-safe try-lock, ${options.clients} clients in ${options.workers} workers, via proxy, history | ${suite.rate.toFixed(0)} |`);
    console.log(`| ratio suite / raw | ${(suite.rate / raw).toFixed(2)} |`);
    if (suite.exitCode !== 0) console.log(`(the suite's run exited ${suite.exitCode}: see its report)`);
  } finally {
    await runCleanups();
    await rm(scratch, { recursive: true, force: true });
  }
}

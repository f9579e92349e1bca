/**
 * `--toxiproxy URL` end to end, the way a real Toxiproxy is used: the project's proxy started alone with
 * `npm run proxy -- --api 127.0.0.1:0` (a Toxiproxy-compatible server), and a run of partition-clients through
 * it, which drives it only through Toxiproxy's API (toxiproxy-node-client; no extension). Its history shows the
 * partitions taking effect on the partitioned worker's clients, and its verdict matches the run of the same seed
 * through the built-in proxy. A nemesis that needs a ZooKeeper-aware toxic is refused before a run starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NemesisLine, WorkerLine } from '../../ground/history.ts';
import { exitWithin, linesOf, REPO, runJepsen, spawnScript, summary, tail, type JepsenRun } from './harness.ts';

const SEED = 21;
const RUN_BOUND_MS = 180_000;
const ARGS = [
  '--backend', 'local', '--seed', String(SEED), '--recipe', 'node-safe', '--workload', 'mutex', '--nemesis', 'partition-clients',
  '--nemesis-interval', '2', '--time-limit', '10', '--clients', '4', '--workers', '2', '--locks', '2', '--session-timeout', '1000',
];
/** After a partition heals, its connections close: the clients notice within this long. */
const NOTICE_MS = 3_000;

let proxyServer: ChildProcess | undefined;
let url: string;
let viaToxiproxy: JepsenRun;
let builtIn: JepsenRun;

/** `npm run proxy -- --api 127.0.0.1:0` in a process group of its own; resolves with its API's URL. */
function startProxyServer(): Promise<string> {
  const child = spawn('npm', ['run', '--silent', 'proxy', '--', '--api', '127.0.0.1:0'], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  proxyServer = child;
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line !== undefined && stdout.includes('\n')) resolve(`http://${(JSON.parse(line) as { api: string }).api}`);
    });
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`npm run proxy exited ${code} before it listened: ${stdout}`)));
  });
}

beforeAll(async () => {
  url = await startProxyServer();
  viaToxiproxy = await runJepsen([...ARGS, '--toxiproxy', url], RUN_BOUND_MS);
  builtIn = await runJepsen(ARGS, RUN_BOUND_MS);
}, 2 * RUN_BOUND_MS + 60_000);

afterAll(async () => {
  if (proxyServer?.pid !== undefined && proxyServer.exitCode === null) {
    const exited = new Promise((resolve) => proxyServer!.once('exit', resolve));
    process.kill(-proxyServer.pid, 'SIGTERM');
    await exited;
  }
  for (const run of [viaToxiproxy, builtIn]) if (run !== undefined) await rm(run.resultsDir, { recursive: true, force: true });
});

/** Each partition-clients fault: its workers, and whether each of their clients' sessions noticed the cut. */
function partitions(run: JepsenRun): { worker: string; noticed: boolean }[] {
  const nemesis = linesOf(run.history, 'nemesis') as NemesisLine[];
  const workers = linesOf(run.history, 'worker') as WorkerLine[];
  return nemesis.filter((line) => line.type === 'start' && line.f === 'partition-clients').map((start) => {
    const stop = nemesis.find((line) => line.type === 'stop' && line.id === start.id);
    const until = (stop?.time ?? Infinity) + NOTICE_MS * 1e6;
    // A fault cuts one or more client hosts (--nemesis-target); each of them must notice.
    const cut = start.value['workers'] as string[];
    const noticed = cut.every((worker) => workers.some((line) => line.worker === worker && line.event === 'disconnected' && line.time >= start.time && line.time <= until));
    return { worker: cut.join(','), noticed };
  });
}

describe('a run with --toxiproxy pointed at npm run proxy -- --api', () => {
  it('records the Toxiproxy URL and completes with a verdict', () => {
    expect(viaToxiproxy.config.toxiproxy).toBe(url);
    expect([0, 1], summary(viaToxiproxy)).toContain(viaToxiproxy.outcome.code);
    expect(viaToxiproxy.outcome.stderr).toContain(`--toxiproxy ${url}`);
  });

  it('shows the partitions taking effect: the partitioned worker loses its connections during each', () => {
    const faults = partitions(viaToxiproxy);
    console.log(`measure: --toxiproxy: ${faults.length} partitions, noticed by their worker: ${faults.filter((fault) => fault.noticed).length}`);
    expect(faults.length).toBeGreaterThanOrEqual(2);
    expect(faults.every((fault) => fault.noticed), JSON.stringify(faults)).toBe(true);
    // A Toxiproxy server has no event stream: the history has no proxy lines, only what the clients saw.
    expect(linesOf(viaToxiproxy.history, 'proxy')).toEqual([]);
  });

  it('reaches the verdict of the same seed through the built-in proxy, which records its toxics', () => {
    expect(viaToxiproxy.results.valid, `${summary(viaToxiproxy)}\n${summary(builtIn)}`).toBe(builtIn.results.valid);
    const builtInFaults = partitions(builtIn);
    expect(builtInFaults.every((fault) => fault.noticed), JSON.stringify(builtInFaults)).toBe(true);
    const toxics = linesOf(builtIn.history, 'proxy').filter((line) => line.event === 'toxic-added' && line.detail?.startsWith('partition_'));
    expect(toxics.length).toBeGreaterThanOrEqual(2 * builtInFaults.length);
  });
});

describe('--toxiproxy with a nemesis that needs a ZooKeeper-aware toxic', () => {
  it('is refused before the run starts: exit 254 and one line naming the nemesis', async () => {
    const cli = spawnScript('src/cli.ts', ['--toxiproxy', 'http://127.0.0.1:8474', '--nemesis', 'partition-clients,lost-reply', '--results', '/nonexistent/never-written']);
    const outcome = await exitWithin(cli, 30_000);
    expect(outcome.code, tail(outcome.stderr)).toBe(254);
    const lines = outcome.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^jepsen: --nemesis lost-reply needs this project's ZooKeeper-aware toxics/);
  });

  it('refuses a --toxiproxy that is not an http URL: exit 254', async () => {
    const outcome = await exitWithin(spawnScript('src/cli.ts', ['--toxiproxy', 'localhost:8474']), 30_000);
    expect(outcome.code).toBe(254);
  });
});

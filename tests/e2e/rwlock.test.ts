/**
 * The rwlock workload end to end: real runs of the CLI (an ensemble on the local backend, the fault proxy, real
 * workers), checked by the checker as a user would run them. Short runs; each takes about half a minute.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DoubleHolderAnomaly, Results } from '../../checker/types.ts';
import type { OpLine } from '../../ground/history.ts';

const directory = mkdtempSync(join(tmpdir(), 'rwlock-e2e-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  results: Results;
  ops: OpLine[];
}

function jepsen(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** One rwlock run; its results.json and the op lines of its history. */
async function rwlockRun(recipe: string, ...flags: string[]): Promise<Run> {
  const results = join(directory, recipe);
  const answer = await jepsen(['--recipe', recipe, '--workload', 'rwlock', '--backend', 'local', '--seed', '7', '--results', results, ...flags]);
  const read = (file: string): string => readFileSync(join(results, 'latest', file), 'utf8');
  const ops = read('history.jsonl').trim().split('\n').map((line) => JSON.parse(line) as { kind: string }).filter((line): line is OpLine => line.kind === 'op');
  return { ...answer, results: JSON.parse(read('results.json')) as Results, ops };
}

interface Window {
  client: string;
  lock: string;
  access: string | undefined;
  start: number;
  end: number;
}

/** [acquire ok, release invoked] per client, lock and side: what the test needs to see that the workload did its job. */
function holdWindows(ops: readonly OpLine[]): Window[] {
  const acquires = new Set<number>();
  const open = new Map<string, Window>();
  const windows: Window[] = [];
  for (const op of ops) {
    const key = `${op.client} ${op.lock} ${op.access}`;
    if (op.type === 'invoke' && op.f === 'acquire') acquires.add(op.id);
    if (op.type === 'invoke' && op.f === 'release') {
      const window = open.get(key);
      if (window !== undefined) window.end = op.time;
      open.delete(key);
    }
    if (op.type === 'ok' && acquires.has(op.id)) {
      const window = { client: op.client, lock: op.lock!, access: op.access, start: op.time, end: Infinity };
      windows.push(window);
      open.set(key, window);
    }
  }
  return windows;
}

const overlap = (a: Window, b: Window): boolean => a.lock === b.lock && a.start < b.end && b.start < a.end;

const writerDoubleHolders = (results: Results): DoubleHolderAnomaly[] =>
  results.checkers.mutex.anomalies.filter((anomaly) => anomaly.windows.some((window) => window.access === 'write'));

describe('npm run jepsen -- --workload rwlock', () => {
  it('node-safe without faults: readers share locks, writers exclude them, the run is valid', async () => {
    const run = await rwlockRun('node-safe', '--time-limit', '10');
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const windows = holdWindows(run.ops);
    const reads = windows.filter((window) => window.access === 'read');
    const writes = windows.filter((window) => window.access === 'write');
    expect(writes.length).toBeGreaterThan(10);
    expect(reads.some((a) => reads.some((b) => a.client !== b.client && overlap(a, b))), 'two readers held one lock at once').toBe(true);
    expect(run.results.checkers.mutex.anomalies).toEqual([]);
  });

  it('curator@5.7.1 without faults: writers downgrade (write, read, release write) and the run is valid', async () => {
    const run = await rwlockRun('curator@5.7.1', '--time-limit', '10');
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const windows = holdWindows(run.ops);
    const downgrades = windows.filter((read) => read.access === 'read' &&
      windows.some((write) => write.access === 'write' && write.client === read.client && overlap(write, read)));
    expect(downgrades.length).toBeGreaterThan(5);
  });

  it('curator@5.4.0 without faults: a writer queued behind a downgrade gets in while the downgraded reader reads (CURATOR-621)', async () => {
    const run = await rwlockRun('curator@5.4.0', '--time-limit', '15', '--locks', '2');
    expect(run.status, run.stderr + run.stdout).toBe(1);
    const found = writerDoubleHolders(run.results);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((anomaly) => anomaly.windows.some((window) => window.access === 'read')), 'a writer beside a reader').toBe(true);
  });

  it('node-safe under pause-holder: a paused holder outlives its session and a writer overlaps it', async () => {
    const run = await rwlockRun('node-safe', '--time-limit', '15', '--nemesis', 'pause-holder', '--nemesis-interval', '3', '--hold', '1000', '--locks', '1');
    expect(run.status, run.stderr + run.stdout).toBe(1);
    expect(writerDoubleHolders(run.results).length).toBeGreaterThan(0);
  });

  it('a worker that does not announce read-write is refused with one line', async () => {
    // The node worker with its features taken out of init_ok: a worker of protocol revision 1.0.
    const worker = `node --import tsx ${join(import.meta.dirname, '..', '..', 'workloads', 'workers', 'node', 'main.ts')} --recipe safe | sed -u 's/,"features":\\[[^]]*\\]//'`;
    const answer = await jepsen(['--worker', worker, '--workload', 'rwlock', '--backend', 'local', '--time-limit', '5', '--clients', '2', '--workers', '1', '--results', join(directory, 'custom')]);
    expect(answer.status).toBe(254);
    expect(answer.stderr).toMatch(/--workload rwlock needs workers that announce 'read-write' in init_ok/);
    expect(answer.stderr).not.toMatch(/\n\s+at /);
  });
});

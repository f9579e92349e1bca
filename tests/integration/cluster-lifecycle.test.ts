/**
 * The local backend's lifecycle through `npm run cluster` and through processes that own a cluster: nothing of a
 * cluster survives `down`, a signal, or a SIGKILL followed by the next `up`; a live cluster of another process
 * survives every sweep; bad input is one line.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { reaperOf, startClusterHolder } from '../fixtures/holder.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeftovers, readAllStates } from '../../cluster/resources.ts';
import { waitUntil } from '../../cluster/wait.ts';

const REPO = join(import.meta.dirname, '..', '..');
let scratch: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { env?: NodeJS.ProcessEnv; asNobody?: boolean } = {}): Promise<CliResult> {
  const command = [process.execPath, '--import', 'tsx', 'cluster/cli.ts', ...args];
  const [file, ...rest] = options.asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...command] : command;
  return new Promise((resolve) => {
    execFile(file!, rest, { cwd: REPO, env: options.env ?? process.env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Starts a process that owns a cluster; resolves with it and the cluster id. */
function startHolder(): Promise<{ holder: ChildProcess; clusterId: string }> {
  return startClusterHolder(join(scratch, 'holder'));
}

async function leftoversOf(clusterId: string) {
  return (await findLeftovers()).get(clusterId);
}

/** A SIGKILLed owner's cluster is gone once its reaper has polled (200 ms) and removed everything. */
const REAPED_BOUND_MS = 20_000;

function detachedIds(): Promise<string[]> {
  return readAllStates().then((states) => states.filter((state) => state.detached).map((state) => state.id));
}

function measure(what: string, startedAt: number): void {
  console.log(`measure: ${what}: ${Math.round(performance.now() - startedAt)} ms`);
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'zkj-lifecycle-test-'));
});

afterAll(async () => {
  // Whatever a failed test left of the CLI's cluster.
  await cli(['down']);
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('npm run cluster', () => {
  it('up prints the connect string once a leader is elected, status one line per node, down leaves nothing', async () => {
    let startedAt = performance.now();
    const up = await cli(['up', '--dir', join(scratch, 'cli')]);
    measure('cli up to elected leader (includes tsx start)', startedAt);
    expect(up.stderr).toContain('leader zk');
    expect(up.code).toBe(0);
    expect(up.stdout.trim()).toMatch(/^(\d+\.\d+\.\d+\.\d+:2181,){2}\d+\.\d+\.\d+\.\d+:2181$/);
    const [clusterId] = await detachedIds();
    expect(clusterId).toBeDefined();

    const status = await cli(['status']);
    expect(status.code).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.filter((line) => / leader /.test(line))).toHaveLength(1);
    expect(lines.filter((line) => / follower /.test(line))).toHaveLength(2);

    startedAt = performance.now();
    const down = await cli(['down']);
    measure('cli down (includes tsx start)', startedAt);
    expect(down.code).toBe(0);
    expect(down.stderr).toContain(clusterId);
    expect(await leftoversOf(clusterId!)).toBeUndefined();
  });

  it.each([
    ['an unknown flag', ['up', '--frobnicate'], /unknown option '--frobnicate'/],
    ['a node count below 1', ['up', '--nodes', '0'], /--nodes.*'0' is invalid/],
    ['a subnet over a host route', ['up', '--subnet', '127.0.0.0/24'], /overlaps an existing route/],
    ['status with no cluster up', ['status'], /no cluster is up/],
  ])('refuses %s with one line and a non-zero exit', async (_, args, message) => {
    const result = await cli(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('refuses to run without root, and without java, with one line', async () => {
    const notRoot = await cli(['up'], { asNobody: true });
    expect(notRoot.code).not.toBe(0);
    expect(notRoot.stderr.trim()).toBe('cluster: the local cluster needs root (network namespaces and iptables); run as root');

    // A PATH holding node alone: the CLI starts, java is missing.
    const nodeOnly = join(scratch, 'node-only-bin');
    await mkdir(nodeOnly, { recursive: true });
    await symlink(process.execPath, join(nodeOnly, 'node')).catch(() => {});
    const noJava = await cli(['up'], { env: { ...process.env, PATH: nodeOnly } });
    expect(noJava.code).not.toBe(0);
    expect(noJava.stderr.trim().split('\n')).toHaveLength(1);
    expect(noJava.stderr).toMatch(/'java' not found/);
  });
});

describe('a process that owns a cluster', () => {
  it('tears its cluster down on SIGTERM and exits 143', async () => {
    const { holder, clusterId } = await startHolder();
    expect((await leftoversOf(clusterId))?.processes).toHaveLength(3);
    holder.kill('SIGTERM');
    const [code] = await once(holder, 'exit');
    expect(code).toBe(143);
    expect(await leftoversOf(clusterId)).toBeUndefined();
  });

  it('keeps its cluster through another sweep while alive; after a SIGKILL the reaper removes all of it', async () => {
    const { holder, clusterId } = await startHolder();
    try {
      expect((await cli(['up', '--dir', join(scratch, 'cli')])).code).toBe(0);
      const alive = await leftoversOf(clusterId);
      expect(alive?.processes).toHaveLength(3);
      expect(alive?.namespaces).toHaveLength(3);
      expect(reaperOf(clusterId)).toBeDefined();
    } finally {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    }
    // Nobody tore anything down in order: the reaper saw its owner go and removed servers, namespaces, links, rules.
    await waitUntil('the reaper to remove the cluster', async () => ((await leftoversOf(clusterId)) === undefined ? true : undefined), { timeoutMs: REAPED_BOUND_MS });
    const log = await readFile(join(scratch, 'holder', 'nodes', 'reaper.log'), 'utf8');
    expect(log).toMatch(new RegExp(`reaper: owner \\d+ of cluster ${clusterId} is gone; removed 3 servers, 3 namespaces, \\d+ links, 1 iptables rule, \\d+ files`));
    expect(reaperOf(clusterId)).toBeUndefined();
    expect((await cli(['down'])).code).toBe(0);
  });

  it('when owner and reaper are both SIGKILLed, the next up sweeps the cluster and says so in one line', async () => {
    const { holder, clusterId } = await startHolder();
    process.kill(reaperOf(clusterId)!, 'SIGKILL');
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const orphaned = await leftoversOf(clusterId);
    expect(orphaned?.processes).toHaveLength(3);
    expect(orphaned?.iptablesRules).toHaveLength(1);

    const up = await cli(['up', '--dir', join(scratch, 'cli')]);
    expect(up.code).toBe(0);
    expect(up.stderr).toMatch(new RegExp(`^sweep: removed cluster ${clusterId} \\(owner \\d+ gone\\): 3 servers, 3 namespaces, \\d+ links, 1 iptables rule, \\d+ files$`, 'm'));
    expect(await leftoversOf(clusterId)).toBeUndefined();

    const [current] = await detachedIds();
    expect((await cli(['down'])).code).toBe(0);
    expect(await leftoversOf(current!)).toBeUndefined();
  });
});

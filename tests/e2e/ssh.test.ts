/**
 * Whole runs on hosts over SSH: `npm run jepsen -- --backend ssh --hosts ... --client-hosts ...` against five local
 * test hosts (three servers, two client hosts), as a user with their own fleet would run it, and `npm run hosts`
 * itself. kazoo 2.8.0 leaks its node under lost-delete (P1) with the workers and the proxies on the client hosts;
 * kazoo is valid under kill, pause and partition of servers over SSH. After each run nothing of it is on any host.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTarget } from '../../cluster/ssh/target.ts';
import { run } from '../../cluster/exec.ts';
import { createTestHosts, KNOWN_HOSTS, type TestHostSet } from '../../hosts/test-hosts.ts';
import { runDirectories, taggedProcesses } from '../fixtures/ssh-leftovers.ts';
import { waitUntil } from '../../cluster/wait.ts';
import { anomalyTypes, expectCompleteRun, exitWithin, linesOf, runJepsen, scratchDirectory, spawnScript, summary, type JepsenRun } from './harness.ts';

const RUN_BOUND_MS = 300_000;
const SEED = 11;
let hosts: TestHostSet;

beforeAll(async () => {
  hosts = await createTestHosts(5);
}, 60_000);

afterAll(async () => {
  await hosts?.remove();
});

const flags = (): string[] => [
  '--backend', 'ssh', '--hosts', hosts.targets(hosts.hosts.slice(0, 3)), '--client-hosts', hosts.targets(hosts.hosts.slice(3)),
  '--ssh-key', hosts.keyFile, '--seed', String(SEED),
];

/** Whatever any ssh run left on these hosts: directories, tagged processes, tagged rules. */
function leftOnHosts(): string[] {
  const labels = hosts.hosts.map((host) => parseTarget(host.address).label);
  const ours = (tag: string): boolean => labels.some((label) => tag.endsWith(`@${label}`));
  const found = runDirectories().filter(ours);
  for (const { pid, tag } of taggedProcesses()) if (ours(tag)) found.push(`process ${pid} ${tag}`);
  return found;
}

/** One run shared by the tests of a describe, its temporary results removed afterwards. */
function useSshRun(args: () => string[]): () => JepsenRun {
  let finished: JepsenRun | undefined;
  beforeAll(async () => {
    finished = await runJepsen(args(), RUN_BOUND_MS);
    console.log(`measure: ${args().slice(0, 8).join(' ')}...: ${finished.config.timeLimitS} s of operations, exit ${finished.outcome.code}`);
  }, RUN_BOUND_MS + 40_000);
  afterAll(async () => {
    if (finished !== undefined) await rm(finished.resultsDir, { recursive: true, force: true });
  });
  return () => {
    if (finished === undefined) throw new Error('the run did not finish');
    return finished;
  };
}

describe('kazoo 2.8.0, try-lock, lost-delete, workers on two client hosts (P1)', () => {
  const run = useSshRun(() => [
    ...flags(), '--recipe', 'kazoo', '--workload', 'try-lock', '--nemesis', 'lost-delete', '--nemesis-interval', '2',
    '--time-limit', '12', '--clients', '8', '--workers', '4', '--locks', '2', '--hold', '20', '--session-timeout', '1000',
  ]);

  it('finds the node leaked by a swallowed cleanup delete, and exits 1', () => {
    const { results, outcome } = run();
    expect(outcome.code, summary(run())).toBe(1);
    expect(anomalyTypes(results), summary(run())).toContain('leaked-node');
    expect(results.checkers.leaks.anomalies.some((leak) => leak.createdBy?.attribution === 'dropped-delete'), summary(run())).toBe(true);
  });

  it('ran the workers on the client hosts, spread over both, each beside its own proxy', () => {
    const { history, runDir } = run();
    const opened = linesOf(history, 'proxy').filter((line) => line.event === 'connection-opened').map((line) => line.clientHost);
    expect(new Set(opened)).toEqual(new Set(['w1', 'w2', 'w3', 'w4']));
    for (const host of hosts.hosts.slice(3)) {
      expect(existsSync(`${runDir}/client-hosts/${parseTarget(host.address).label}/proxy.log`)).toBe(true);
    }
    // Proxy events and operations are on one clock: each dropped delete falls inside its own delete's window.
    const dropped = linesOf(history, 'proxy').filter((line) => line.event === 'request-dropped');
    expect(dropped.length).toBeGreaterThan(0);
    for (const drop of dropped) expect(drop.time).toBeGreaterThan(0);
  });

  it('records a complete history and leaves nothing on the hosts', () => {
    expectCompleteRun(run(), SEED);
    expect(leftOnHosts()).toEqual([]);
  });
});

describe('kazoo 2.8.0, mutex, kill + pause + partition of servers over SSH', () => {
  const run = useSshRun(() => [
    ...flags(), '--recipe', 'kazoo', '--workload', 'mutex', '--nemesis', 'kill,pause,partition', '--nemesis-interval', '2',
    '--time-limit', '15', '--clients', '4', '--workers', '2', '--locks', '2', '--hold', '50',
  ]);

  it('is valid, exits 0, and every server fault was applied and healed', () => {
    const { results, outcome, history } = run();
    expect(outcome.code, summary(run())).toBe(0);
    expect(results.valid).toBe(true);
    const kinds = new Set(linesOf(history, 'nemesis').filter((line) => line.type === 'start').map((line) => line.f));
    expect(kinds.size, [...kinds].join(',')).toBeGreaterThanOrEqual(2);
  });

  it('records a complete history and leaves nothing on the hosts', () => {
    expectCompleteRun(run(), SEED);
    expect(leftOnHosts()).toEqual([]);
  });
});

describe('a runner SIGKILLed while a holder is frozen on its client host', () => {
  it('leaves nothing on any host, nor an ssh client here, once its reapers are done', async () => {
    const results = await scratchDirectory();
    const cli = spawnScript('src/cli.ts', [
      ...flags(), '--recipe', 'kazoo', '--workload', 'mutex', '--nemesis', 'pause-holder', '--nemesis-interval', '1',
      '--time-limit', '120', '--clients', '4', '--workers', '2', '--locks', '1', '--hold', '500', '--results', results,
    ]);
    let killed = false;
    try {
      // The hard case: a worker stopped by SIGSTOP reads no EOF when its channel closes.
      await waitUntil('a holder frozen by pause-holder', async () => {
        const history = await readFile(join(results, 'latest', 'history.jsonl'), 'utf8').catch(() => '');
        return history.includes('"type":"start","time"') && history.includes('"f":"pause-holder"') ? true : undefined;
      }, { timeoutMs: RUN_BOUND_MS, intervalMs: 200 });
      expect(leftOnHosts().length).toBeGreaterThan(0);
      // The start line is written once the SIGSTOP got there: a worker on a client host is stopped now.
      const stateOf = (pid: number): string => {
        try {
          return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? '';
        } catch {
          return 'gone';
        }
      };
      const stopped = taggedProcesses().filter(({ pid }) => stateOf(pid) === 'T');
      expect(stopped.length).toBeGreaterThan(0);
      cli.child.kill('SIGKILL');
      await cli.exited;
      killed = true;
      const started = performance.now();
      await waitUntil('the reapers to remove both runs (servers, client hosts)', async () => (leftOnHosts().length === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
      await waitUntil('the run\'s ssh clients here to end', async () => (sshClientsWith(hosts.keyFile).length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });
      console.log(`measure: SIGKILLed runner's runs removed from the hosts by their reapers in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      if (!killed) {
        cli.child.kill('SIGKILL');
        await cli.exited;
      }
      await rm(results, { recursive: true, force: true });
    }
  });
});

/** ssh client processes on this machine using a key file. */
function sshClientsWith(keyFile: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0] === 'ssh' && argv.includes(keyFile);
    } catch {
      return false;
    }
  });
}

describe('npm run hosts', () => {
  it('up N prints, last, the flags that use the hosts; down removes them', async () => {
    const up = await exitWithin(spawnScript('hosts/cli.ts', ['up', '2']), 60_000);
    expect(up.code, up.stderr).toBe(0);
    const last = up.stdout.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^--hosts root@10\.213\.\d+\.11,root@10\.213\.\d+\.12 --ssh-key \/run\/zk-lock-jepsen\/hosts\/zkh[0-9a-f]{6}\/id_ed25519$/);
    const id = /hosts\/(zkh[0-9a-f]{6})\//.exec(last)![1]!;
    const down = await exitWithin(spawnScript('hosts/cli.ts', ['down']), 60_000);
    expect(down.code, down.stderr).toBe(0);
    // Links: the bridge, and any veth whose namespace's deletion the kernel had not finished taking with it.
    expect(down.stderr).toMatch(new RegExp(`removed test hosts ${id} \\(detached\\): 2 sshds, 2 namespaces, \\d links?, 1 iptables rule, 2 known_hosts lines, 1 subnet claim`));
    expect(existsSync(`/run/zk-lock-jepsen/hosts/${id}`)).toBe(false);
    expect((await run('ip', ['-o', 'link', 'show'])) + (await run('ip', ['netns', 'list']))).not.toContain(id);
    expect((await run('ssh-keygen', ['-F', last.split(',')[0]!.split('@')[1]!, '-f', KNOWN_HOSTS]).catch(() => '')).trim()).toBe('');
    // A test's own hosts (owned by a live process) are not a detached set: down leaves them.
    expect(existsSync(hosts.keyFile)).toBe(true);
  });

  it('refuses a bad count with exit 254', async () => {
    const bad = await exitWithin(spawnScript('hosts/cli.ts', ['up', 'many']), 30_000);
    expect(bad.code).toBe(254);
    expect(bad.stderr).toContain('expected a whole number from 1 to 50');
  });
});

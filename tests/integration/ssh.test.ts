/**
 * The ssh backend and client hosts against real sshds: local test hosts (hosts/test-hosts.ts), four of them — three
 * for the servers, one client host. Every fault of the interface, what a teardown, a SIGKILLed owner (its reaper)
 * and the next run's sweep leave on the hosts (nothing), known_hosts being checked, and a client host's proxy and
 * clock. What is left on a host is read from this machine's side (the test hosts share its /proc, /var/tmp and
 * their namespaces' iptables), not through the code under test.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isolate } from '../../cluster/grudge.ts';
import { createCluster } from '../../cluster/index.ts';
import { run } from '../../cluster/exec.ts';
import { SshHost } from '../../cluster/ssh/connection.ts';
import { REMOTE_ROOT, sweepDeadRuns } from '../../cluster/ssh/remote-run.ts';
import { parseTarget } from '../../cluster/ssh/target.ts';
import type { SshCluster } from '../../cluster/ssh.ts';
import { describeStatus, leadersIn, waitForStatus, waitUntil } from '../../cluster/wait.ts';
import { connectedZkHandle, ZOO_PERSISTENT } from '../../ground/zk.ts';
import { createTestHosts, KNOWN_HOSTS, type TestHostSet } from '../../hosts/test-hosts.ts';
import { ClientHosts } from '../../testbed/client-hosts.ts';
import { startClusterHolder } from '../fixtures/holder.ts';
import { runDirectories, taggedProcesses } from '../fixtures/ssh-leftovers.ts';

let hosts: TestHostSet;
let scratch: string;
const serverTargets = (): string => hosts.targets(hosts.hosts.slice(0, 3));

beforeAll(async () => {
  const started = performance.now();
  hosts = await createTestHosts(4);
  console.log(`measure: 4 test hosts up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  scratch = await mkdtemp(join(tmpdir(), 'zkj-ssh-'));
});

afterAll(async () => {
  await hosts?.remove();
  await rm(scratch, { recursive: true, force: true });
});

/** Everything of a run on the test hosts: its directories, its tagged processes, its tagged rules. */
async function leftovers(runId: string): Promise<string[]> {
  const found = runDirectories().filter((entry) => entry.startsWith(`${runId}@`)).map((entry) => `directory ${entry}`);
  for (const { pid, tag } of taggedProcesses()) if (tag.startsWith(`${runId}@`)) found.push(`process ${pid}`);
  for (const host of hosts.hosts) {
    const rules = await run('ip', ['netns', 'exec', host.namespace, 'iptables', '-w', '-S', 'INPUT']);
    for (const rule of rules.split('\n')) if (rule.includes(runId)) found.push(`${host.name}: ${rule}`);
  }
  return found;
}

function secondsSince(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

describe('an ensemble over SSH', () => {
  let cluster: SshCluster;
  const runDir = (): string => join(scratch, 'ensemble');

  beforeAll(async () => {
    const started = performance.now();
    cluster = (await createCluster({ backend: 'ssh', runDir: runDir(), hosts: serverTargets(), ssh: { keyFile: hosts.keyFile } })) as SshCluster;
    await cluster.start();
    console.log(`measure: ensemble of 3 over SSH, start to elected leader: ${secondsSince(started)}`);
  });

  afterAll(async () => {
    await cluster?.teardown();
  });

  it('serves from the hosts\' own addresses, one leader, and a write on one server reads on another', async () => {
    expect(cluster.connectString()).toBe(hosts.hosts.slice(0, 3).map((host) => `${host.address}:2181`).join(','));
    expect(leadersIn(await cluster.status())).toHaveLength(1);
    const writer = await connectedZkHandle(`${cluster.clientAddress(1).host}:2181`, 4000);
    const reader = await connectedZkHandle(`${cluster.clientAddress(3).host}:2181`, 4000);
    try {
      await writer.create('/ssh-test', 'written on zk1', ZOO_PERSISTENT);
      await reader.sync('/ssh-test');
      expect(String((await reader.get('/ssh-test', false))[1])).toBe('written on zk1');
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('marks its servers with the run on their command line, so kill finds the right host\'s server', async () => {
    const marked = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`-Dzkjssh.cluster=${cluster.id}`);
      } catch {
        return false;
      }
    });
    expect(marked).toHaveLength(3);
  });

  it('SIGKILLs the leader, elects another, restarts it on its own data', async () => {
    const leader = (await cluster.leader())!;
    const started = performance.now();
    await cluster.kill(leader);
    const after = await waitForStatus(cluster, 'a new leader', (statuses) => statuses.some((node) => node.id !== leader && node.mode === 'leader'), 60_000);
    console.log(`measure: new leader after SIGKILL of zk${leader}: ${secondsSince(started)} (${describeStatus(after)})`);
    expect(after.find((node) => node.id === leader)?.state).toBe('killed');
    await cluster.restart(leader);
    await waitForStatus(cluster, 'every node serving', (statuses) => statuses.every((node) => node.mode !== 'not-serving'), 60_000);
    const reader = await connectedZkHandle(`${cluster.clientAddress(leader).host}:2181`, 4000);
    try {
      await reader.sync('/ssh-test');
      expect(String((await reader.get('/ssh-test', false))[1])).toBe('written on zk1');
    } finally {
      reader.close();
    }
  });

  it('pauses a server with SIGSTOP and resumes it', async () => {
    await cluster.pause(2);
    expect((await cluster.status()).find((node) => node.id === 2)?.state).toBe('paused');
    await cluster.resume(2);
    await waitForStatus(cluster, 'zk2 serving again', (statuses) => statuses.find((node) => node.id === 2)?.mode !== 'not-serving', 60_000);
  });

  it('isolates the leader with rules tagged by the run, while SSH still reaches its host, and heals', async () => {
    const leader = (await cluster.leader())!;
    const started = performance.now();
    await cluster.partition(isolate(cluster.nodeIds, leader));
    const rules = await leftovers(cluster.id);
    expect(rules.filter((rule) => rule.includes('DROP'))).toHaveLength(4);
    await waitForStatus(cluster, 'a leader among the majority', (statuses) => statuses.some((node) => node.id !== leader && node.mode === 'leader'), 60_000);
    console.log(`measure: new leader after isolating zk${leader}: ${secondsSince(started)}`);
    // status() itself asks the isolated host over SSH; it answers.
    expect((await cluster.status()).find((node) => node.id === leader)?.state).toBe('running');
    await cluster.heal();
    expect((await leftovers(cluster.id)).filter((rule) => rule.includes('DROP'))).toEqual([]);
    await waitForStatus(cluster, 'one leader, every node serving', (statuses) => leadersIn(statuses).length === 1 && statuses.every((node) => node.mode !== 'not-serving'), 60_000);
  });

  it('tears down leaving nothing on the hosts, with the servers\' logs fetched into the run directory', async () => {
    const runId = cluster.id;
    const started = performance.now();
    await cluster.teardown();
    console.log(`measure: teardown over SSH: ${secondsSince(started)}`);
    expect(await leftovers(runId)).toEqual([]);
    for (const log of cluster.logFiles().values()) expect((await stat(log)).size).toBeGreaterThan(0);
    expect(await readFile(join(runDir(), 'nodes', 'zk1', 'zoo.cfg'), 'utf8')).toContain(`server.2=${hosts.hosts[1]!.address}:2888:3888`);
    await cluster.teardown();
  });
});

describe('an owner that dies', () => {
  const holderArgs = (): string[] => [serverTargets(), hosts.keyFile];
  let holder: ChildProcess | undefined;

  afterAll(() => {
    holder?.kill('SIGKILL');
  });

  it('SIGKILLed: its reaper removes everything it made on the hosts, over SSH', async () => {
    const started = await startClusterHolder(join(scratch, 'reaped'), 'ssh', holderArgs());
    holder = started.holder;
    expect(await leftovers(started.clusterId)).not.toEqual([]);
    holder.kill('SIGKILL');
    await waitUntil('the reaper to remove the run', async () => ((await leftovers(started.clusterId)).length === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await waitUntil('the reaper to log', async () => ((await readFile(join(scratch, 'reaped', 'nodes', 'reaper.log'), 'utf8').catch(() => '')).includes('removed') ? true : undefined), { timeoutMs: 30_000 });
    const logged = await readFile(join(scratch, 'reaped', 'nodes', 'reaper.log'), 'utf8');
    expect(logged).toContain(`cluster ${started.clusterId} is gone; removed`);
    expect(logged.split('\n').find((line) => line.includes('reaper:'))!.match(/: 1 process, 1 directory/g)).toHaveLength(3);
  });

  it('SIGKILLed with its reaper: the next run\'s sweep removes it, one line per host, and spares a live run', async () => {
    const dead = await startClusterHolder(join(scratch, 'swept'), 'ssh', holderArgs());
    holder = dead.holder;
    const reaper = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).find((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.some((arg) => arg.endsWith('reaper-main.ts')) && argv.includes(dead.clusterId);
      } catch {
        return false;
      }
    });
    expect(reaper).toBeDefined();
    process.kill(reaper!, 'SIGKILL');
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder!.once('exit', resolve));
    expect(await leftovers(dead.clusterId)).not.toEqual([]);

    const sweep = async (): Promise<string[]> => {
      const said = vi.spyOn(console, 'error').mockImplementation(() => {});
      const sweepHosts = hosts.hosts.slice(0, 3).map((host) => new SshHost(parseTarget(`root@${host.address}`), { keyFile: hosts.keyFile }, join(scratch, 'ctl')));
      try {
        await Promise.all(sweepHosts.map((host) => host.open()));
        await sweepDeadRuns(sweepHosts);
        return said.mock.calls.map((call) => String(call[0]));
      } finally {
        said.mockRestore();
        await Promise.all(sweepHosts.map((host) => host.close()));
      }
    };
    const removed = (await sweep()).filter((line) => line.includes(`removed run ${dead.clusterId}`));
    expect(removed).toHaveLength(3);
    expect(removed.every((line) => /^sweep: root@[\d.]+: removed run zks[0-9a-f]{6} \(owner \d+ gone\): 1 process, 1 directory$/.test(line)), removed.join('\n')).toBe(true);
    expect(await leftovers(dead.clusterId)).toEqual([]);

    const live = await startClusterHolder(join(scratch, 'live'), 'ssh', holderArgs());
    try {
      expect((await sweep()).filter((line) => line.includes(live.clusterId))).toEqual([]);
      expect((await leftovers(live.clusterId)).filter((thing) => thing.startsWith('process'))).toHaveLength(3);
    } finally {
      live.holder.kill('SIGTERM');
      await new Promise((resolve) => live.holder.once('exit', resolve));
    }
    expect(await leftovers(live.clusterId)).toEqual([]);
  });
});

describe('known_hosts', () => {
  it('refuses a host whose key it does not know, in one line, and takes its first key with acceptNew', async () => {
    const host = hosts.hosts[3]!;
    const known = await readFile(KNOWN_HOSTS, 'utf8');
    await run('ssh-keygen', ['-R', host.address, '-f', KNOWN_HOSTS]);
    await rm(`${KNOWN_HOSTS}.old`, { force: true });
    try {
      const strict = new SshHost(parseTarget(`root@${host.address}`), { keyFile: hosts.keyFile }, join(scratch, 'ctl-known'));
      await expect(strict.open()).rejects.toThrow(/host key is not in known_hosts.*--ssh-accept-new/);
      const trusting = new SshHost(parseTarget(`root@${host.address}`), { keyFile: hosts.keyFile, acceptNew: true }, join(scratch, 'ctl-known'));
      await trusting.open();
      expect((await trusting.exec('echo $((6 * 7))')).trim()).toBe('42');
      await trusting.close();
      // ssh wrote it (hashed, as Debian's ssh_config asks): ssh-keygen -F finds it by name.
      expect(await run('ssh-keygen', ['-F', host.address, '-f', KNOWN_HOSTS])).toContain('ssh-ed25519');
    } finally {
      // Back to what hosts/ wrote, whatever happened.
      await run('ssh-keygen', ['-R', host.address, '-f', KNOWN_HOSTS]).catch(() => '');
      await rm(`${KNOWN_HOSTS}.old`, { force: true });
      const ours = known.split('\n').filter((line) => line.startsWith(`${host.address} `));
      await writeFile(KNOWN_HOSTS, `${(await readFile(KNOWN_HOSTS, 'utf8')).trimEnd()}\n${ours.join('\n')}\n`.replace(/^\n/, ''));
    }
  });

  it('refuses a key the host does not authorise, saying so', async () => {
    const otherKey = join(scratch, 'other_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const refused = new SshHost(parseTarget(`root@${hosts.hosts[3]!.address}`), { keyFile: otherKey }, join(scratch, 'ctl-key'));
    await expect(refused.open()).rejects.toThrow(/the key was refused/);
  });
});

describe('a client host', () => {
  it('gets a fault proxy reached through a forward, a clock offset near zero (it shares this clock), and leaves nothing', async () => {
    const started = performance.now();
    const clients = await ClientHosts.start({ hosts: hosts.targets(hosts.hosts.slice(3)), ssh: { keyFile: hosts.keyFile }, runDir: join(scratch, 'clients') });
    try {
      console.log(`measure: client host ready (proxy bundle copied, clock measured) in ${secondsSince(started)}; clock offset ${Number(clients.clockOffsetNs(0)) / 1e6} ms`);
      // The test hosts share this machine's CLOCK_MONOTONIC: the measured offset is the measurement's own error.
      expect(Math.abs(Number(clients.clockOffsetNs(0)))).toBeLessThan(20e6);
      const [proxy] = await clients.startProxies(new Map([[1, { host: hosts.hosts[0]!.address, port: 2181 }]]));
      clients.assign('w1');
      const connect = await proxy!.addClientHost('w1');
      expect(connect).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await proxy!.connections()).toEqual([]);
    } finally {
      await clients.teardown(join(scratch, 'clients'));
    }
    expect(existsSync(REMOTE_ROOT) ? readdirSync(REMOTE_ROOT).filter((entry) => entry.endsWith(`@${parseTarget(`root@${hosts.hosts[3]!.address}`).label}`)) : []).toEqual([]);
    expect(existsSync(join(scratch, 'clients', 'client-hosts', parseTarget(hosts.hosts[3]!.address).label, 'proxy.log'))).toBe(true);
  });
});

/**
 * What the docker backend does beyond the shared interface tests (cluster.test.ts): killed servers come back on
 * their own data; a partition set while a node was down or paused reaches it when it runs again; teardown leaves
 * no container or network but keeps the logs; the start-up sweep removes the cluster of a SIGKILLed owner and
 * spares a live one, and a signalled owner cleans up after itself. `auto` picks docker exactly when a daemon
 * answers. docker-compose.yml's zoo.cfg stays the backend's.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reaperOf, startClusterHolder } from '../fixtures/holder.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerUnavailableReason } from '../../cluster/docker-images.ts';
import { run } from '../../cluster/exec.ts';
import { DockerCluster } from '../../cluster/docker.ts';
import { dockerResourcesOf, sweepDockerClusters } from '../../cluster/docker-resources.ts';
import { isolate } from '../../cluster/grudge.ts';
import { DEFAULT_TICK_TIME_MS, resolveBackend } from '../../cluster/index.ts';
import { connectedZkHandle } from '../../ground/zk.ts';
import type { NodeId, NodeStatus } from '../../cluster/types.ts';
import { isSettled, leadersIn, waitForStatus, waitUntil } from '../../cluster/wait.ts';
import { zooConfig } from '../../cluster/zookeeper.ts';

const REPO = join(import.meta.dirname, '..', '..');
const SETTLE_BOUND_MS = 40_000;
const dockerSkipReason = await dockerUnavailableReason();
const nodeOf = (statuses: NodeStatus[], id: NodeId) => statuses.find((node) => node.id === id)!;

describe.skipIf(dockerSkipReason !== undefined)(`docker backend${dockerSkipReason ? ` (${dockerSkipReason})` : ''}`, () => {
  let scratch: string;
  let cluster: DockerCluster;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'zkj-docker-test-'));
    cluster = new DockerCluster({ nodes: 3, tickTimeMs: 200, runDir: join(scratch, 'main') });
    await cluster.start();
  });

  afterAll(async () => {
    await cluster?.teardown();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  function settled(): Promise<NodeStatus[]> {
    return waitForStatus(cluster, 'a settled ensemble', isSettled, SETTLE_BOUND_MS);
  }

  it('brings every server back on its own data after all were killed', async () => {
    const client = await connectedZkHandle(cluster.connectString(), 4_000);
    const path = `/survives-kill-${Date.now()}`;
    try {
      await client.create(path, 'written before the kill', 0);
    } finally {
      client.close();
    }
    await Promise.all(cluster.nodeIds.map((id) => cluster.kill(id)));
    expect((await cluster.status()).map((node) => node.state)).toEqual(['killed', 'killed', 'killed']);

    await Promise.all(cluster.nodeIds.map((id) => cluster.restart(id)));
    await settled();
    // Servers restarted empty would elect among themselves and the node would be gone.
    const reader = await connectedZkHandle(cluster.connectString(), 4_000);
    try {
      await reader.sync(path);
      const [, data] = await reader.get(path, false);
      expect(data.toString()).toBe('written before the kill');
    } finally {
      reader.close();
    }
  });

  it.each([
    ['killed', (id: NodeId) => cluster.kill(id), (id: NodeId) => cluster.restart(id)],
    ['paused', (id: NodeId) => cluster.pause(id), (id: NodeId) => cluster.resume(id)],
  ])('applies a partition set while a follower was %s once it runs again', async (_, suspend, wake) => {
    const leader = leadersIn(await settled())[0]!.id;
    const follower = cluster.nodeIds.find((id) => id !== leader)!;
    await suspend(follower);
    await cluster.partition(isolate(cluster.nodeIds, follower));
    await wake(follower);

    const others = cluster.nodeIds.filter((id) => id !== follower).map((id) => cluster.clientAddress(id).host);
    const rules = await run('docker', ['exec', `${cluster.id}-zk${follower}`, 'iptables', '-w', '-S', 'INPUT']);
    for (const host of others) expect(rules).toContain(`-A INPUT -s ${host}/32 -j DROP`);
    // Cut off from both peers it cannot join the quorum, while the majority keeps serving.
    await waitForStatus(
      cluster,
      `zk${follower} isolated, the others serving`,
      (statuses) => nodeOf(statuses, follower).mode === 'not-serving' && leadersIn(statuses).length === 1,
      SETTLE_BOUND_MS,
    );

    await cluster.heal();
    await waitForStatus(
      cluster,
      `zk${follower} back as a follower`,
      (statuses) => isSettled(statuses) && nodeOf(statuses, follower).mode === 'follower',
      SETTLE_BOUND_MS,
    );
  });

  it('refuses a subnet over a host route with one line and leaves nothing behind', async () => {
    const refused = new DockerCluster({ nodes: 3, tickTimeMs: 200, runDir: join(scratch, 'refused'), subnet: '127.0.0.0/24' });
    await expect(refused.start()).rejects.toThrow(/^subnet 127\.0\.0\.0\/24 overlaps an existing route: [^\n]*$/);
    expect(await dockerResourcesOf(refused.id)).toEqual({ containers: [], networks: [] });
  });

  it('teardown removes every container and the network, keeps the logs, and can run twice', async () => {
    expect((await dockerResourcesOf(cluster.id)).containers).toHaveLength(3);
    await cluster.teardown();
    await cluster.teardown();
    expect(await dockerResourcesOf(cluster.id)).toEqual({ containers: [], networks: [] });
    for (const log of cluster.logFiles().values()) expect((await stat(log)).size).toBeGreaterThan(0);
  });

  describe('ownership', () => {
    const holders: ChildProcess[] = [];

    /** A process that owns a docker cluster; resolves with it and the id. */
    async function startHolder(name: string): Promise<{ holder: ChildProcess; clusterId: string }> {
      const started = await startClusterHolder(join(scratch, name), 'docker');
      holders.push(started.holder);
      return started;
    }

    async function stopped(holder: ChildProcess, signal: NodeJS.Signals): Promise<void> {
      const exited = once(holder, 'exit');
      holder.kill(signal);
      await exited;
    }

    afterAll(async () => {
      for (const holder of holders) if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      // Whatever a failing test left: the holders are dead now, so their clusters are leftovers.
      await sweepDockerClusters();
    });

    it('the next start sweeps the cluster of an owner SIGKILLed with its reaper, a sweep spares a live one, SIGTERM cleans up', async () => {
      const dead = await startHolder('dead-owner');
      // Its reaper first: what the sweep is for is an owner whose reaper is gone too.
      process.kill(reaperOf(dead.clusterId)!, 'SIGKILL');
      await stopped(dead.holder, 'SIGKILL');
      expect((await dockerResourcesOf(dead.clusterId)).containers).toHaveLength(3);

      const live = await startHolder('live-owner');
      expect(await dockerResourcesOf(dead.clusterId)).toEqual({ containers: [], networks: [] });
      expect(await sweepDockerClusters()).not.toContain(live.clusterId);
      expect((await dockerResourcesOf(live.clusterId)).containers).toHaveLength(3);

      await stopped(live.holder, 'SIGTERM');
      expect(await dockerResourcesOf(live.clusterId)).toEqual({ containers: [], networks: [] });
    });

    it('npm run cluster -- up --backend docker leaves a detached cluster that status lists and down removes', async () => {
      const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', 'cluster/cli.ts', ...args], { cwd: REPO }, (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })));
      const up = await cli(['up', '--backend', 'docker', '--dir', join(scratch, 'cli')]);
      expect(up.code, up.stderr).toBe(0);
      const clusterId = /cluster (zkj[0-9a-f]{6}) \(docker\)/.exec(up.stderr)?.[1];
      expect(clusterId, up.stderr).toBeDefined();
      // Detached: the CLI has exited, and no reaper follows it.
      expect((await dockerResourcesOf(clusterId!)).containers).toHaveLength(3);
      const status = await cli(['status', '--backend', 'docker']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout.trim().split('\n').filter((line) => / (leader|follower) running /.test(line))).toHaveLength(3);
      expect(up.stdout.trim().split(',')).toHaveLength(3);
      const down = await cli(['down', '--backend', 'docker']);
      expect(down.code, down.stderr).toBe(0);
      expect(down.stderr).toContain(`sweep: removed docker cluster ${clusterId} (detached): 3 containers, 1 network`);
      expect(await dockerResourcesOf(clusterId!)).toEqual({ containers: [], networks: [] });
    });

    it("a SIGKILLed owner's containers are removed by its reaper, which says so in the run's reaper.log", async () => {
      const owner = await startHolder('reaped-owner');
      await stopped(owner.holder, 'SIGKILL');
      const log = join(scratch, 'reaped-owner', 'nodes', 'reaper.log');
      const said = await waitUntil('the reaper to say it removed the cluster', async () => {
        const text = await readFile(log, 'utf8');
        return text.includes('reaper:') ? text : undefined;
      }, { timeoutMs: 30_000 });
      expect(said).toMatch(new RegExp(`reaper: owner \\d+ of cluster ${owner.clusterId} is gone; removed 3 containers, 1 network`));
      expect(await dockerResourcesOf(owner.clusterId)).toEqual({ containers: [], networks: [] });
    });
  });
});

describe('backend auto', () => {
  it.skipIf(dockerSkipReason !== undefined)('is docker when a daemon answers', async () => {
    expect(await resolveBackend('auto')).toBe('docker');
  });

  it('is local when no daemon answers', async () => {
    const script = "import { resolveBackend } from './cluster/index.ts'; console.log(await resolveBackend('auto'));";
    const env = { ...process.env, DOCKER_HOST: `unix://${join(tmpdir(), 'no-docker-here.sock')}` };
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, env }, (error, out) =>
        error ? reject(error) : resolve(out),
      ),
    );
    expect(stdout.trim()).toBe('local');
  });
});

describe('docker-compose.yml', () => {
  it("mounts the backend's zoo.cfg, with service names for addresses", async () => {
    const servers = new Map([1, 2, 3].map((id) => [id, `zk${id}`]));
    const expected = zooConfig({ tickTimeMs: DEFAULT_TICK_TIME_MS, dataDir: '/zk/data', servers });
    expect(await readFile(join(REPO, 'cluster/images/compose/zoo.cfg'), 'utf8')).toBe(expected);
    expect(await readFile(join(REPO, 'docker-compose.yml'), 'utf8')).toContain('./cluster/images/compose/zoo.cfg:/zk/zoo.cfg:ro');
  });
});

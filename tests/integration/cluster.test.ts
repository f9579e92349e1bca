/**
 * The cluster interface against a real ensemble, once per backend. Faults run one after another on one cluster;
 * each test leaves it settled (one leader, every node serving) for the next.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerUnavailableReason } from '../../cluster/docker-images.ts';
import { isolate } from '../../cluster/grudge.ts';
import { BACKENDS, capabilitiesOf, createCluster, type BackendName, type KillRestart, type Partition, type Pause } from '../../cluster/index.ts';
import { connectedZkHandle } from '../../ground/zk.ts';
import type { Cluster, NodeId, NodeStatus } from '../../cluster/types.ts';
import { isSettled, leadersIn, waitForStatus } from '../../cluster/wait.ts';

/** Docker joins when a daemon answers and the image builds (CI's set-up starts the daemon); else a visible skip. */
const dockerSkipReason = await dockerUnavailableReason();
const backends: BackendName[] = ['local', ...(dockerSkipReason === undefined ? (['docker'] as const) : [])];
if (dockerSkipReason !== undefined) {
  describe.skip(`docker cluster (${dockerSkipReason})`, () => {
    it('runs the interface tests against the docker backend', () => {});
  });
}

/** Generous for two shared cores; an election with 200 ms ticks takes about a second when the machine is idle. */
const NEW_LEADER_BOUND_MS = 20_000;
const REJOIN_BOUND_MS = 40_000;

function measure(what: string, startedAt: number): number {
  const elapsed = Math.round(performance.now() - startedAt);
  console.log(`measure: ${what}: ${elapsed} ms`);
  return elapsed;
}

const nodeOf = (statuses: NodeStatus[], id: NodeId) => statuses.find((node) => node.id === id)!;

describe.each(backends)('%s cluster', (backend) => {
  let cluster: Cluster & KillRestart & Pause & Partition;
  let runDir: string | undefined;

  beforeAll(async () => {
    runDir = await mkdtemp(join(tmpdir(), `zkj-cluster-test-${backend}-`));
    const created = await createCluster({ backend, runDir });
    // The backend can do what its registry entry says, and the tests below use all of it.
    expect(capabilitiesOf(created)).toEqual(BACKENDS[backend].capabilities);
    cluster = created as typeof cluster;
    const startedAt = performance.now();
    await cluster.start();
    measure(`${backend} start to elected leader`, startedAt);
  });

  afterAll(async () => {
    const startedAt = performance.now();
    await cluster?.teardown();
    measure(`${backend} teardown`, startedAt);
    if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
  });

  async function currentLeader(): Promise<NodeId> {
    const statuses = await waitForStatus(cluster, 'a settled ensemble', isSettled, REJOIN_BOUND_MS);
    return leadersIn(statuses)[0]!.id;
  }

  /** Waits for a leader other than `old` (the old one may still believe it leads for a moment). */
  function waitForNewLeader(old: NodeId): Promise<NodeStatus[]> {
    return waitForStatus(
      cluster,
      `a leader other than zk${old}`,
      (statuses) => leadersIn(statuses).some((node) => node.id !== old),
      NEW_LEADER_BOUND_MS,
    );
  }

  function waitForRejoin(id: NodeId): Promise<NodeStatus[]> {
    return waitForStatus(
      cluster,
      `zk${id} back as a follower`,
      (statuses) => isSettled(statuses) && nodeOf(statuses, id).mode === 'follower',
      REJOIN_BOUND_MS,
    );
  }

  it('comes up with exactly one leader and every node serving', async () => {
    const statuses = await cluster.status();
    expect(statuses.map((node) => node.id)).toEqual([1, 2, 3]);
    expect(leadersIn(statuses)).toHaveLength(1);
    expect(statuses.every((node) => node.state === 'running' && node.mode !== 'not-serving')).toBe(true);
    expect(await cluster.leader()).toBe(leadersIn(statuses)[0]!.id);
    expect(cluster.connectString().split(',')).toHaveLength(3);
  });

  const address = (id: NodeId) => `${cluster.clientAddress(id).host}:${cluster.clientAddress(id).port}`;

  /** Reads a znode's data through one server, after a sync so the read sees every committed write. */
  async function readThrough(id: NodeId, path: string): Promise<string> {
    const reader = await connectedZkHandle(address(id), 4_000);
    try {
      await reader.sync(path);
      const [, data] = await reader.get(path, false);
      return data.toString();
    } finally {
      reader.close();
    }
  }

  async function writeThrough(id: NodeId, path: string, data: string): Promise<void> {
    const writer = await connectedZkHandle(address(id), 4_000);
    try {
      await writer.create(path, data, 0);
    } finally {
      writer.close();
    }
  }

  it('reads through one server what was written through another', async () => {
    const path = `/cluster-test-${Date.now()}`;
    await writeThrough(1, path, 'written through zk1');
    expect(await readThrough(3, path)).toBe('written through zk1');
  });

  it('elects a new leader when the leader is killed, and takes it back as a follower on restart', async () => {
    const old = await currentLeader();
    const killedAt = performance.now();
    await cluster.kill(old);
    const statuses = await waitForNewLeader(old);
    measure(`${backend} new leader after kill`, killedAt);
    expect(nodeOf(statuses, old)).toMatchObject({ state: 'killed', mode: 'not-serving' });

    await cluster.restart(old);
    const restartedAt = performance.now();
    await waitForRejoin(old);
    measure(`${backend} restarted node serving as follower`, restartedAt);
  });

  it('elects a new leader in the majority when the leader is isolated, and takes it back after heal', async () => {
    const old = await currentLeader();
    const isolatedAt = performance.now();
    await cluster.partition(isolate(cluster.nodeIds, old));
    await waitForNewLeader(old);
    measure(`${backend} new leader after isolating the leader`, isolatedAt);
    await waitForStatus(cluster, `isolated zk${old} not serving`, (s) => nodeOf(s, old).mode === 'not-serving', NEW_LEADER_BOUND_MS);
    // The isolated server still answers the host: partitions cut servers from each other, never from clients.
    expect(await cluster.fourLetterWord(old, 'srvr')).toContain('not currently serving');

    await cluster.heal();
    const healedAt = performance.now();
    await waitForRejoin(old);
    measure(`${backend} isolated node rejoined after heal`, healedAt);
  });

  it('elects a new leader when the leader is paused, and takes it back after resume', async () => {
    const old = await currentLeader();
    const pausedAt = performance.now();
    await cluster.pause(old);
    const statuses = await waitForNewLeader(old);
    measure(`${backend} new leader after pausing the leader`, pausedAt);
    expect(nodeOf(statuses, old)).toMatchObject({ state: 'paused', mode: 'not-serving' });

    await cluster.resume(old);
    const resumedAt = performance.now();
    await waitForRejoin(old);
    measure(`${backend} paused node rejoined after resume`, resumedAt);
  });

  it('keeps the data of every node through stop and start', async () => {
    const path = `/survives-stop-${Date.now()}`;
    await writeThrough(2, path, 'before stop');
    await cluster.stop();
    expect((await cluster.status()).every((node) => node.state === 'killed')).toBe(true);
    await cluster.start();
    expect(isSettled(await cluster.status())).toBe(true);
    expect(await readThrough(1, path)).toBe('before stop');
  });
});

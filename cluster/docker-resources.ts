/**
 * What the docker backend leaves in Docker, found by label: listing and removal for teardown, the start-up sweep and
 * the reaper. Light on purpose (dockerode only, no testcontainers), so the reaper starts fast.
 */
import { hostname } from 'node:os';
import { dockerClient as docker } from './docker-client.ts';
import { countsOf, processStartTime } from './resources.ts';

export const LABEL = {
  cluster: 'zk-lock-jepsen.cluster',
  node: 'zk-lock-jepsen.node',
  ownerPid: 'zk-lock-jepsen.owner-pid',
  ownerStartTime: 'zk-lock-jepsen.owner-start-time',
  ownerHost: 'zk-lock-jepsen.owner-host',
  /** "true" on a cluster `npm run cluster -- up` left running: only `down` or the next `up` removes it. */
  detached: 'zk-lock-jepsen.detached',
} as const;

/** Ids of the containers (running, paused or stopped) and networks labelled with the cluster id. */
export async function dockerResourcesOf(clusterId: string): Promise<{ containers: string[]; networks: string[] }> {
  const filters = { label: [`${LABEL.cluster}=${clusterId}`] };
  const [containers, networks] = await Promise.all([
    docker().listContainers({ all: true, filters }),
    docker().listNetworks({ filters }),
  ]);
  return { containers: containers.map((info) => info.Id), networks: networks.map((info) => info.Id) };
}

/** Removes every container and network of the cluster; its node directories (data, logs) stay. Says what it removed. */
export async function removeDockerCluster(clusterId: string): Promise<string> {
  const { containers, networks } = await dockerResourcesOf(clusterId);
  await Promise.all(containers.map((id) => docker().getContainer(id).remove({ force: true, v: true }).catch(ignoreNotFound)));
  for (const id of networks) await docker().getNetwork(id).remove().catch(ignoreNotFound);
  return countsOf({ container: containers.length, network: networks.length });
}


/**
 * Removes the docker clusters of this host whose owner process is gone (same pid, same start time), and only
 * those; detached ones only with `includeDetached`. Prints one line per cluster removed; returns their ids.
 */
export async function sweepDockerClusters(options: { includeDetached?: boolean } = {}): Promise<string[]> {
  const filters = { label: [LABEL.cluster] };
  const [containers, networks] = await Promise.all([
    docker().listContainers({ all: true, filters }),
    docker().listNetworks({ filters }),
  ]);
  const owners = new Map<string, Record<string, string>>();
  for (const labels of [...containers.map((c) => c.Labels), ...networks.map((n) => n.Labels ?? {})]) {
    owners.set(labels[LABEL.cluster]!, labels);
  }
  const removed: string[] = [];
  for (const [clusterId, labels] of owners) {
    if (labels[LABEL.ownerHost] !== hostname()) continue;
    if (labels[LABEL.detached] === 'true' ? !options.includeDetached : await ownerAlive(labels)) continue;
    const what = await removeDockerCluster(clusterId);
    console.error(`sweep: removed docker cluster ${clusterId} (${labels[LABEL.detached] === 'true' ? 'detached' : `owner ${labels[LABEL.ownerPid]} gone`}): ${what}`);
    removed.push(clusterId);
  }
  return removed;
}

/** The owner process of the labels still runs (same pid, same start time). */
export async function ownerAlive(labels: Record<string, string | undefined>): Promise<boolean> {
  const startTime = await processStartTime(Number(labels[LABEL.ownerPid]));
  return startTime !== undefined && startTime === labels[LABEL.ownerStartTime];
}

/** Another sweep or a cascade (a network removed with its last container) got there first. */
function ignoreNotFound(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode !== 404) throw error;
}


/** A detached docker cluster as Docker lists it: each server's container state and address. */
export interface DetachedDockerCluster {
  id: string;
  nodes: { id: number; address: string; state: 'running' | 'paused' | 'killed' }[];
}

/** The detached docker clusters of this host (`npm run cluster -- up --backend docker`), for `status`. */
export async function detachedDockerClusters(): Promise<DetachedDockerCluster[]> {
  const containers = await docker().listContainers({ all: true, filters: { label: [`${LABEL.detached}=true`] } });
  const clusters = new Map<string, DetachedDockerCluster>();
  for (const container of containers) {
    if (container.Labels[LABEL.ownerHost] !== hostname()) continue;
    const id = container.Labels[LABEL.cluster]!;
    const cluster = clusters.get(id) ?? { id, nodes: [] };
    const address = Object.values(container.NetworkSettings?.Networks ?? {})[0]?.IPAMConfig?.IPv4Address ?? '';
    const state = container.State === 'paused' ? 'paused' : container.State === 'running' ? 'running' : 'killed';
    cluster.nodes.push({ id: Number(container.Labels[LABEL.node]), address, state });
    clusters.set(id, cluster);
  }
  for (const cluster of clusters.values()) cluster.nodes.sort((a, b) => a.id - b.id);
  return [...clusters.values()];
}

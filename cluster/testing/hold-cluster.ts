/**
 * Test fixture: starts a cluster, prints its id on stdout, and holds it until killed. Lets the tests see what a
 * signal (cleanup runs) and a SIGKILL (leftovers for the next sweep) do to a process that owns a cluster.
 * Usage: node --import tsx cluster/testing/hold-cluster.ts <runDir> [local|docker]
 */
import { createCluster } from '../index.ts';
import type { DockerCluster } from '../docker.ts';
import type { LocalCluster } from '../local.ts';
import type { Cluster } from '../types.ts';

const runDir = process.argv[2];
if (runDir === undefined) {
  console.error('usage: hold-cluster.ts <runDir> [local|docker]');
  process.exit(2);
}
const backend = (process.argv[3] ?? 'local') as Cluster['backend'];
const cluster = (await createCluster({ runDir, backend })) as LocalCluster | DockerCluster;
await cluster.start();
console.log(cluster.id);
setInterval(() => {}, 60_000);

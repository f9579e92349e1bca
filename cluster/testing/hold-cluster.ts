/**
 * Test fixture: starts a cluster, prints its id on stdout, and holds it until killed. Lets the tests see what a
 * signal (cleanup runs) and a SIGKILL (leftovers for the next sweep) do to a process that owns a cluster.
 * Usage: node --import tsx cluster/testing/hold-cluster.ts <runDir>
 */
import { createCluster } from '../index.ts';
import type { LocalCluster } from '../local.ts';

const runDir = process.argv[2];
if (runDir === undefined) {
  console.error('usage: hold-cluster.ts <runDir>');
  process.exit(2);
}
const cluster = (await createCluster({ runDir })) as LocalCluster;
await cluster.start();
console.log(cluster.id);
setInterval(() => {}, 60_000);

/**
 * The reaper process (reaper.ts): `reaper-main.ts <local|docker|ssh> <clusterId> <ownerPid> <ownerStartTime>`.
 * Polls the owner; when it is gone (or its pid was reused), removes the cluster and exits.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { processStartTime, removeCluster } from './resources.ts';

const POLL_MS = 200;
const [backend, clusterId, ownerPid, ownerStartTime] = process.argv.slice(2);
if (clusterId === undefined || ownerPid === undefined || !['local', 'docker', 'ssh'].includes(backend ?? '')) {
  console.error('usage: reaper-main.ts <local|docker|ssh> <clusterId> <ownerPid> <ownerStartTime>');
  process.exit(2);
}

process.on('SIGTERM', () => process.exit(0));
while ((await processStartTime(Number(ownerPid))) === ownerStartTime) await delay(POLL_MS);

const removers = {
  local: () => removeCluster(clusterId),
  docker: async () => (await import('./docker-resources.ts')).removeDockerCluster(clusterId),
  ssh: async () => (await import('./ssh/remote-run.ts')).removeSshRun(clusterId),
};
const removed = await removers[backend as keyof typeof removers]();
console.error(`${new Date().toISOString()} reaper: owner ${ownerPid} of cluster ${clusterId} is gone; removed ${removed}`);

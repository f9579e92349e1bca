/** For tests: spawns cluster/testing/hold-cluster.ts and waits for the id of the cluster it holds. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cluster } from '../types.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export async function startClusterHolder(runDir: string, backend: Cluster['backend'] = 'local'): Promise<{ holder: ChildProcess; clusterId: string }> {
  const holder = spawn(process.execPath, ['--import', 'tsx', 'cluster/testing/hold-cluster.ts', runDir, backend], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  for await (const chunk of holder.stdout!) {
    output += String(chunk);
    if (output.includes('\n')) break;
  }
  const clusterId = output.trim();
  if (!/^zkj[0-9a-f]{6}$/.test(clusterId)) {
    holder.kill('SIGKILL');
    throw new Error(`the cluster holder printed no cluster id: ${JSON.stringify(output)}`);
  }
  return { holder, clusterId };
}

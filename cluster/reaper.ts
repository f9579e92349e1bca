/**
 * Servers follow their owner: every cluster a process starts (not a detached one) gets a reaper, a small process of
 * its own session that watches the owner and, once the owner is gone by any means (exit, crash, SIGKILL of it or of
 * its whole process group), removes the cluster's servers, namespaces, rules and containers, says so in one line of
 * `<runDir>/nodes/reaper.log`, and exits. A normal teardown stops the reaper first. For ssh runs (servers or
 * client hosts) it removes, over fresh SSH connections, what the run made on each host.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStartTime, signal } from './resources.ts';

const MAIN = fileURLToPath(new URL('./reaper-main.ts', import.meta.url));

export type ReapedBackend = 'local' | 'docker' | 'ssh';

export interface Reaper {
  /** The owner is tearing the cluster down itself: the reaper leaves. */
  stop(): void;
}

export async function startReaper(options: { backend: ReapedBackend; clusterId: string; runDir: string }): Promise<Reaper> {
  const logDir = join(options.runDir, 'nodes');
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, 'reaper.log'), 'a');
  const ownerStartTime = (await processStartTime(process.pid)) ?? '';
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, options.backend, options.clusterId, String(process.pid), ownerStartTime], {
    // Its own session: a signal to the owner's process group (a CI timeout, Ctrl-C) must not take the reaper too.
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  return {
    stop: () => {
      if (child.pid !== undefined && child.exitCode === null) signal(child.pid, 'SIGTERM');
    },
  };
}

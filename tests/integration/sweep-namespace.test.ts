/**
 * The sweep and processes of another PID namespace (a container's): a marked server process in it is not this
 * machine's dead cluster, while one in our own namespace without a live owner is. Needs root (the sweep lists
 * namespaces, links and iptables rules) and unshare; no ZooKeeper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { newClusterId, processStartTime, sweep, waitForExit } from '../../cluster/resources.ts';

const isRoot = process.getuid?.() === 0;
const started: ChildProcess[] = [];
/** The other namespace's first process: killing it ends every process in that namespace. */
let namespaceInit: number | undefined;
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
  if (namespaceInit !== undefined) process.kill(namespaceInit, 'SIGKILL');
});

/** The pid, seen from here, of the process whose arguments include `argument`. */
async function pidWithArgument(argument: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv.includes(argument)) return Number(pid);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no process with the argument ${argument} within 10 s`);
}

/** One process with the markers in its arguments, as a cluster's server has them, and no state file for its id. */
function markedSleeper(clusterId: string, inOwnPidNamespace: boolean): ChildProcess {
  const sleeper = [process.execPath, '-e', 'setTimeout(() => {}, 60_000)', '--', `-Dzkj.cluster=${clusterId}`, '-Dzkj.node=1'];
  // In a new PID namespace the markers stand only in the arguments of the process unshare's shell becomes.
  const child = inOwnPidNamespace
    ? spawn(sleeper[0]!, sleeper.slice(1), { stdio: 'ignore' })
    : spawn('unshare', ['--pid', '--fork', 'sh', '-c', `exec ${sleeper.map((part) => `'${part}'`).join(' ')}`], { stdio: 'ignore' });
  started.push(child);
  return child;
}

describe.skipIf(!isRoot)(`sweep across PID namespaces${isRoot ? '' : ' (skipped: needs root)'}`, () => {
  it("leaves a marked process of another PID namespace alone, and removes one of its own that has no owner", async () => {
    const containers = newClusterId();
    const ours = newClusterId();
    markedSleeper(containers, false);
    const inContainer = await pidWithArgument(`-Dzkj.cluster=${containers}`);
    namespaceInit = inContainer;
    // Ours last and found by its own pid: any sweep on this machine (another engineer's run) may take it at once.
    const here = markedSleeper(ours, true).pid!;
    expect(await readlink(`/proc/${inContainer}/ns/pid`)).not.toBe(await readlink('/proc/self/ns/pid'));

    const removed = await sweep();
    expect(removed).toContain(ours);
    expect(removed).not.toContain(containers);
    await waitForExit(here, 10_000);
    expect(await processStartTime(inContainer)).toBeDefined();
  });
});

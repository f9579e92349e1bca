/**
 * End to end on the docker backend: a short run on the docker backend with `--nemesis pause` completes, its pause faults are
 * `docker pause` (the containers were seen paused by Docker itself while the history said the fault was in
 * force), and nothing of the run stays in Docker. Skipped, saying so, only when no Docker daemon answers.
 */
import { describe, expect, it } from 'vitest';
import { dockerClient, dockerDaemonAnswers } from '../../cluster/docker-client.ts';
import { expectCompleteRun, expectLatestPointsAt, linesOf, summary, useJepsenRun, type CliProcess } from './harness.ts';

const SEED = 1;
// A missing server image is built at cluster start: about a minute and a half from nothing on this machine.
const RUN_BOUND_MS = 300_000;
const POLL_MS = 200;
const OWNER_PID_LABEL = 'zk-lock-jepsen.owner-pid';
const NODE_LABEL = 'zk-lock-jepsen.node';

const daemonAnswers = await dockerDaemonAnswers();

/** Containers and networks Docker lists as belonging to the process `pid`. */
async function dockerResourcesOwnedBy(pid: number, status?: 'paused'): Promise<{ containers: Record<string, string>[]; networks: number }> {
  const label = [`${OWNER_PID_LABEL}=${pid}`];
  const docker = dockerClient();
  const containers = await docker.listContainers({ all: true, filters: { label, ...(status === undefined ? {} : { status: [status] }) } });
  const networks = status === undefined ? (await docker.listNetworks({ filters: { label } })).length : 0;
  return { containers: containers.map((container) => container.Labels), networks };
}

describe.skipIf(!daemonAnswers)(`docker backend, pause${daemonAnswers ? '' : ' (skipped: no Docker daemon answers; npm run setup -- docker starts one)'}`, () => {
  /** Node ids Docker reported as paused while the run went on. */
  const seenPaused = new Set<number>();
  let ownerPid: number | undefined;

  const watchPausedContainers = async (cli: CliProcess): Promise<void> => {
    ownerPid = cli.child.pid!;
    let running = true;
    void cli.exited.then(() => (running = false));
    while (running) {
      for (const labels of (await dockerResourcesOwnedBy(ownerPid, 'paused')).containers) seenPaused.add(Number(labels[NODE_LABEL]));
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const run = useJepsenRun([
    '--backend', 'docker', '--seed', String(SEED), '--recipe', 'node-safe', '--workload', 'mutex', '--nemesis', 'pause',
    '--nemesis-interval', '2', '--time-limit', '8', '--clients', '4', '--workers', '2', '--locks', '2',
  ], RUN_BOUND_MS, watchPausedContainers);

  it('completes with a verdict and a complete history, on docker', async () => {
    const { outcome, history } = run();
    expect([0, 1], summary(run())).toContain(outcome.code);
    expectCompleteRun(run(), SEED);
    await expectLatestPointsAt(run());
    const [header] = history.lines;
    expect(header?.kind === 'header' ? header.config['backend'] : undefined).toBe('docker');
  });

  it('pauses servers with docker pause: each paused node in the history was paused in Docker', () => {
    const paused = linesOf(run().history, 'nemesis').filter((line) => line.f === 'pause' && line.type === 'start');
    expect(paused.length, 'pause faults in the history').toBeGreaterThan(0);
    const nodes = paused.flatMap((line) => line.value['nodes'] as number[]);
    expect([...seenPaused].sort(), 'nodes Docker showed paused').toEqual([...new Set(nodes)].sort());
  });

  it('leaves no container or network of the run in Docker', async () => {
    expect(ownerPid).toBeDefined();
    expect(await dockerResourcesOwnedBy(ownerPid!)).toEqual({ containers: [], networks: 0 });
  });
});

/**
 * Server faults aimed as Jepsen's nemeses aim them, against a real ensemble of five: a majority killed takes the
 * quorum away (no server leads while the fault is in force) and the ensemble recovers when it heals; a majority
 * partition cuts a minority side from a majority side, which keeps a leader; the leader alone isolated is replaced;
 * all servers paused serve nobody. Each test applies one planned fault through the nemesis itself and heals it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../cluster/types.ts';
import { isSettled, leadersIn, waitForStatus } from '../../cluster/wait.ts';
import { randomFor } from '../../ground/random.ts';
import { NEMESES } from '../../nemesis/index.ts';
import type { Fault, NemesisContext, PlanSettings, TargetSpec } from '../../nemesis/types.ts';
import { Testbed } from '../../testbed/testbed.ts';

const NODES = 5;
const SETTLE_BOUND_MS = 60_000;
let testbed: Testbed;
let context: NemesisContext;

beforeAll(async () => {
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-targets-'));
  testbed = await Testbed.start({ cluster: { backend: 'local', nodes: NODES, runDir }, afterTeardown: () => rm(runDir, { recursive: true, force: true }) });
  context = { cluster: testbed.cluster, proxy: undefined as never, sessionTimeoutMs: 2000, intervalMs: 2000, lockRoot: '/locks', clientHosts: [], holders: () => [] };
});

afterAll(async () => {
  await testbed?.teardown();
});

const settings = (target: TargetSpec): PlanSettings => ({ nodeIds: [1, 2, 3, 4, 5], clientHosts: [], sessionTimeoutMs: 2000, intervalMs: 2000, target });

async function applied(nemesis: 'kill' | 'pause' | 'partition', target: TargetSpec, seed = 1): Promise<Fault> {
  const draw = NEMESES[nemesis].plan(randomFor(seed, 'nemesis'), settings(target));
  const fault = await NEMESES[nemesis].apply({ nemesis, atMs: 0, ...draw }, context);
  expect(fault, `${nemesis} ${target} found something to hit`).toBeDefined();
  return fault!;
}

const settled = (): Promise<NodeStatus[]> => waitForStatus(testbed.cluster, 'a settled ensemble', isSettled, SETTLE_BOUND_MS);
const serving = (statuses: NodeStatus[]): NodeStatus[] => statuses.filter((node) => node.mode !== 'not-serving');

describe('server faults by target, five servers', () => {
  it('kill majority: three servers die, nobody leads while they are dead, and the ensemble recovers after', async () => {
    await settled();
    const fault = await applied('kill', 'majority');
    expect((fault.value['nodes'] as number[]).length).toBe(3);
    // The two left cannot form a quorum: they stop serving, and stay so while the fault lasts.
    const during = await waitForStatus(testbed.cluster, 'no quorum', (statuses) => serving(statuses).length === 0, SETTLE_BOUND_MS);
    expect(leadersIn(during)).toEqual([]);
    expect(during.filter((node) => node.state === 'killed')).toHaveLength(3);
    await fault.heal();
    const after = await settled();
    expect(leadersIn(after)).toHaveLength(1);
    expect(after.every((node) => node.state === 'running')).toBe(true);
  });

  it('partition majority: a majority side keeps a leader, the minority side serves nobody; heal reunites them', async () => {
    await settled();
    const fault = await applied('partition', 'majority', 2);
    const sides = fault.value['sides'] as number[][];
    expect(sides.map((side) => side.length).sort()).toEqual([2, 3]);
    const majority = sides.find((side) => side.length === 3)!;
    const during = await waitForStatus(testbed.cluster, 'a leader on the majority side only',
      (statuses) => leadersIn(statuses).length === 1 && majority.includes(leadersIn(statuses)[0]!.id) && serving(statuses).every((node) => majority.includes(node.id)), SETTLE_BOUND_MS);
    expect(serving(during).map((node) => node.id).sort()).toEqual([...majority].sort());
    await fault.heal();
    expect(serving(await settled())).toHaveLength(NODES);
  });

  it('partition leader: the leader alone is cut off and another one is elected', async () => {
    const [leader] = leadersIn(await settled());
    const fault = await applied('partition', 'leader');
    expect(fault.value['nodes']).toEqual([leader!.id]);
    await waitForStatus(testbed.cluster, 'a new leader', (statuses) => leadersIn(statuses).some((node) => node.id !== leader!.id), SETTLE_BOUND_MS);
    await fault.heal();
    await settled();
  });

  it('pause all: every server is frozen, and thaws into a settled ensemble', async () => {
    await settled();
    const fault = await applied('pause', 'all');
    expect(fault.value['nodes']).toEqual([1, 2, 3, 4, 5]);
    // A signal is delivered a moment after it is sent: wait for the kernel to show every JVM stopped.
    await waitForStatus(testbed.cluster, 'every server paused', (statuses) => statuses.every((node) => node.state === 'paused'), SETTLE_BOUND_MS);
    await fault.heal();
    expect(leadersIn(await settled())).toHaveLength(1);
  });
});

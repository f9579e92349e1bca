import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomFor } from '../ground/random.ts';
import { NEMESES, NEMESIS_NAMES } from './index.ts';
import { NemesisSchedule, planSchedule, type ScheduleListener } from './schedule.ts';
import { drawServers, targetCount } from './targets.ts';
import type { FaultPlan, Nemesis, NemesisContext, PlanSettings } from './types.ts';

const settings: PlanSettings = { nodeIds: [1, 2, 3, 4, 5], clientHosts: ['w1', 'w2', 'w3', 'w4'], sessionTimeoutMs: 2000, intervalMs: 3000, target: 'one' };
const all = NEMESIS_NAMES.map((name) => NEMESES[name]);

describe('the nemesis registry', () => {
  it('names every nemesis by its own name', () => {
    for (const name of NEMESIS_NAMES) expect(NEMESES[name].name).toBe(name);
  });
});

describe('planSchedule', () => {
  it('draws the same schedule from the same seed, another from another seed', () => {
    const plan = (seed: number) => planSchedule(all, randomFor(seed, 'nemesis'), settings, 120_000);
    expect(plan(7)).toEqual(plan(7));
    expect(plan(7)).not.toEqual(plan(8));
  });

  it('starts a fault every interval after the last one healed, until the time limit', () => {
    const plans = planSchedule(all, randomFor(1, 'nemesis'), settings, 60_000);
    expect(plans[0]!.atMs).toBe(settings.intervalMs);
    for (const [index, plan] of plans.entries()) {
      if (index > 0) expect(plan.atMs).toBe(plans[index - 1]!.atMs + plans[index - 1]!.durationMs + settings.intervalMs);
      expect(plan.atMs).toBeLessThan(60_000);
    }
  });

  it('keeps --fault-duration for every nemesis that stays, and one-shot faults at zero', () => {
    const plans = planSchedule(all, randomFor(3, 'nemesis'), { ...settings, faultDurationMs: 777 }, 600_000);
    for (const plan of plans) expect(plan.durationMs).toBe(plan.nemesis === 'lost-reply' || plan.nemesis === 'lost-delete' ? 0 : 777);
  });

  it('plans nothing without nemeses', () => {
    expect(planSchedule([], randomFor(1, 'nemesis'), settings, 60_000)).toEqual([]);
  });
});

describe('server targets', () => {
  it('count a minority, a majority and all as Jepsen does', () => {
    expect([1, 2, 3, 4, 5, 7].map((n) => targetCount('minority', n))).toEqual([0, 0, 1, 1, 2, 3]);
    expect([1, 2, 3, 4, 5, 7].map((n) => targetCount('majority', n))).toEqual([1, 2, 2, 3, 3, 4]);
    expect(targetCount('all', 5)).toBe(5);
  });

  it('draw distinct servers of the right count, roles for leader and followers, and one the leader half of the time', () => {
    const random = randomFor(5, 'nemesis');
    for (let turn = 0; turn < 50; turn++) {
      const majority = drawServers(random, 'majority', settings.nodeIds);
      expect('nodes' in majority && new Set(majority.nodes).size).toBe(3);
    }
    expect(drawServers(random, 'leader', settings.nodeIds)).toEqual({ role: 'leader' });
    expect(drawServers(random, 'followers', settings.nodeIds)).toEqual({ role: 'followers' });
    const ones = Array.from({ length: 400 }, () => drawServers(random, 'one', settings.nodeIds));
    const leaderTurns = ones.filter((target) => 'role' in target).length;
    expect(leaderTurns).toBeGreaterThan(150);
    expect(leaderTurns).toBeLessThan(250);
  });
});

describe('NemesisSchedule', () => {
  afterEach(() => vi.useRealTimers());

  /** A nemesis that only remembers when it was applied and healed (the schedule's own behaviour is under test). */
  function recorder(log: string[], now: () => number, nothingToHit = new Set<number>()): Nemesis {
    return {
      name: 'probe',
      needs: [],
      plan: () => ({ target: { nodes: [1] }, durationMs: 1000 }),
      apply: async (plan) => {
        if (nothingToHit.has(plan.atMs)) return undefined;
        log.push(`apply ${plan.atMs} at ${now()}`);
        return { description: 'probe', value: {}, heal: async () => void log.push(`heal ${plan.atMs} at ${now()}`) };
      },
    };
  }

  const listener = (events: string[]): ScheduleListener => ({
    applying: (index) => events.push(`applying ${index}`),
    started: (index, _plan, _fault, offsetMs) => events.push(`started ${index} +${Math.round(offsetMs)}`),
    skipped: (index) => events.push(`skipped ${index}`),
    healed: (index) => events.push(`healed ${index}`),
    failed: (index) => events.push(`failed ${index}`),
  });

  it('applies each fault at its offset, heals it after its duration, skips one with nothing to hit, and heals the one in force when stopped', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const log: string[] = [];
    const events: string[] = [];
    const plans: FaultPlan[] = [1000, 3000, 5000].map((atMs) => ({ nemesis: 'probe', atMs, durationMs: 1000, target: { nodes: [1] } }));
    const schedule = new NemesisSchedule(plans, { probe: recorder(log, () => Math.round(performance.now()), new Set([3000])) }, {} as NemesisContext, listener(events));
    schedule.start();
    await vi.advanceTimersByTimeAsync(5500);
    await schedule.stopAndHeal();
    expect(log).toEqual(['apply 1000 at 1000', 'heal 1000 at 2000', 'apply 5000 at 5000', 'heal 5000 at 5500']);
    expect(events).toEqual(['applying 0', 'started 0 +1000', 'healed 0', 'applying 1', 'skipped 1', 'applying 2', 'started 2 +5000', 'healed 2']);
  });

  it('refuses a schedule that names an unknown nemesis', () => {
    expect(() => new NemesisSchedule([{ nemesis: 'meteor', atMs: 0, durationMs: 0, target: { next: 'request' } }], {}, {} as NemesisContext, listener([]))).toThrow(/unknown nemesis 'meteor'/);
  });
});

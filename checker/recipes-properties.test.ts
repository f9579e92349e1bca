import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../ground/history.ts';
import { check, type AnomalyType, type Results } from './index.ts';
import { simulateElection, simulateSemaphore } from './simulate-recipes.ts';

const step = fc.record({
  client: fc.nat({ max: 7 }),
  dtNs: fc.integer({ min: 0, max: 50_000_000 }),
  giveUp: fc.boolean(),
  unknown: fc.boolean(),
});

const common = {
  clients: fc.integer({ min: 2, max: 8 }),
  sessionTimeoutMs: fc.constant(1000),
  holdMs: fc.constant(100),
  faultEvery: fc.integer({ min: 0, max: 30 }),
};
const electionSchedule = fc.tuple(fc.array(step, { maxLength: 300 }), fc.record({ ...common, fencing: fc.boolean() }));
const semaphoreSchedule = fc.tuple(fc.array(step, { maxLength: 300 }), fc.record({ ...common, permits: fc.integer({ min: 1, max: 4 }) }));

function anomalyTypes(results: Results): AnomalyType[] {
  return Object.values(results.checkers).flatMap((part) => part.anomalies.map((anomaly) => anomaly.type));
}

/** The most clients that held a lease at once, and how many leadership events there were: the schedules exercise something. */
function peaks(lines: readonly HistoryLine[]): { holders: number; leaderships: number } {
  const holding = new Set<string>();
  let holders = 0;
  let leaderships = 0;
  for (const line of lines) {
    if (line.kind === 'worker' && line.event === 'leadership' && line.leading) leaderships++;
    if (line.kind !== 'op') continue;
    if (line.f === 'acquire' && line.type === 'ok') holding.add(line.client);
    if (line.f === 'release' && line.type === 'invoke') holding.delete(line.client);
    holders = Math.max(holders, holding.size);
  }
  return { holders, leaderships };
}

describe('random schedules of a correct election service', () => {
  it('pass every check, though leaders follow each other, candidates give up and campaigns go unanswered', () => {
    let leaderships = 0;
    fc.assert(
      fc.property(electionSchedule, ([steps, options]) => {
        const lines = [...simulateElection(steps, options)];
        const results = check(lines);
        expect(anomalyTypes(results)).toEqual([]);
        expect(results.valid).toBe(true);
        leaderships += peaks(lines).leaderships;
      }),
      { numRuns: 300 },
    );
    expect(leaderships).toBeGreaterThan(100);
  });

  it('with a second leader told it leads: double-leader, tolerated only when fencing is on', () => {
    fc.assert(
      fc.property(electionSchedule, fc.nat({ max: 300 }), ([steps, options], atStep) => {
        const results = check(simulateElection(steps, { ...options, violation: { type: 'double-leader', atStep } }));
        expect(anomalyTypes(results)).toContain('double-leader');
        expect(results.valid).toBe(!options.fencing ? false : true);
      }),
      { numRuns: 150 },
    );
  });

  it('with a successor elected three bounds late: no-leader', () => {
    fc.assert(
      fc.property(electionSchedule, fc.nat({ max: 300 }), ([steps, options], atStep) => {
        const results = check(simulateElection(steps, { ...options, violation: { type: 'no-leader', atStep } }));
        expect(anomalyTypes(results)).toContain('no-leader');
        expect(results.valid).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe('random schedules of a correct semaphore', () => {
  it('pass every check: up to permits holders share it, and no double holder is read into them', () => {
    let shared = 0;
    fc.assert(
      fc.property(semaphoreSchedule, ([steps, options]) => {
        const lines = [...simulateSemaphore(steps, options)];
        const results = check(lines);
        expect(anomalyTypes(results)).toEqual([]);
        expect(results.valid).toBe(true);
        const { holders } = peaks(lines);
        expect(holders).toBeLessThanOrEqual(options.permits);
        if (holders > 1) shared++;
      }),
      { numRuns: 300 },
    );
    expect(shared).toBeGreaterThan(50);
  });

  it('with one holder let in past the permits: over-permits', () => {
    fc.assert(
      fc.property(semaphoreSchedule, fc.nat({ max: 300 }), ([steps, options], atStep) => {
        const results = check(simulateSemaphore(steps, { ...options, violation: { type: 'over-permits', atStep } }));
        const found = results.checkers.semaphore.anomalies;
        expect(found.length).toBeGreaterThan(0);
        expect(found.every((anomaly) => anomaly.windows.length > options.permits)).toBe(true);
        expect(results.checkers.mutex.anomalies).toEqual([]);
        expect(results.valid).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('with a try whose cleanup failed: leaked-node, and no lowest-node stuck acquire', () => {
    fc.assert(
      fc.property(semaphoreSchedule, fc.nat({ max: 300 }), ([steps, options], atStep) => {
        const results = check(simulateSemaphore(steps, { ...options, violation: { type: 'leaked-node', atStep } }));
        expect(anomalyTypes(results)).toEqual(['leaked-node']);
        expect(results.valid).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

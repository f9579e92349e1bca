import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, type AnomalyType, type Results } from './index.ts';
import { simulate, type SimulationOptions, type Violation } from './simulate.ts';

const step = fc.record({
  client: fc.nat({ max: 7 }),
  lock: fc.nat({ max: 3 }),
  dtNs: fc.integer({ min: 0, max: 50_000_000 }),
  tryLock: fc.boolean(),
});

const options = fc.record({
  clients: fc.integer({ min: 2, max: 8 }),
  locks: fc.integer({ min: 1, max: 4 }),
  fencedCounter: fc.boolean(),
  tokens: fc.boolean(),
  fencing: fc.boolean(),
  sessionTimeoutMs: fc.constant(1000),
  holdMs: fc.constant(100),
  snapshotEvery: fc.integer({ min: 0, max: 20 }),
  faultEvery: fc.integer({ min: 0, max: 30 }),
});

const schedule = fc.tuple(fc.array(step, { maxLength: 300 }), options);

function anomalyTypes(results: Results): AnomalyType[] {
  return Object.values(results.checkers).flatMap((part) => part.anomalies.map((anomaly) => anomaly.type));
}

function run(steps: Parameters<typeof simulate>[0], simulation: SimulationOptions): Results {
  return check(simulate(steps, simulation));
}

describe('random schedules of a correct lock service', () => {
  it('pass every check', () => {
    fc.assert(
      fc.property(schedule, ([steps, simulation]) => {
        const results = run(steps, simulation);
        expect(anomalyTypes(results)).toEqual([]);
        expect(results.valid).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the same schedules with one injected violation', () => {
  const cases: Array<{ violation: Violation; fencedCounter?: boolean; expected: AnomalyType }> = [
    { violation: 'double-holder', expected: 'double-holder' },
    { violation: 'leaked-node', expected: 'leaked-node' },
    { violation: 'stuck-acquire', expected: 'stuck-acquire' },
    { violation: 'lost-update', fencedCounter: true, expected: 'lost-update' },
  ];
  for (const { violation, fencedCounter, expected } of cases) {
    it(`are caught: ${violation}`, () => {
      fc.assert(
        fc.property(schedule, fc.nat({ max: 300 }), ([steps, simulation], atStep) => {
          const results = run(steps, { ...simulation, fencedCounter: fencedCounter ?? simulation.fencedCounter, violation: { type: violation, atStep } });
          expect(anomalyTypes(results)).toContain(expected);
          const doubleHolderOnly = violation === 'double-holder' && simulation.fencedCounter && simulation.fencing;
          expect(results.valid).toBe(doubleHolderOnly ? true : false);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('are caught: a stale write, unless the resource fences it off with real tokens', () => {
    fc.assert(
      fc.property(schedule, fc.nat({ max: 300 }), ([steps, simulation], atStep) => {
        const results = run(steps, { ...simulation, fencedCounter: true, violation: { type: 'stale-write', atStep } });
        const types = anomalyTypes(results);
        expect(types).toContain('double-holder');
        if (simulation.fencing && simulation.tokens) {
          expect(types).not.toContain('stale-write');
          expect(results.valid).toBe(true);
        } else {
          expect(types).toContain('stale-write');
          expect(results.valid).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });
});

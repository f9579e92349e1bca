import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../ground/history.ts';
import { check, type AnomalyType, type Results } from './index.ts';
import { simulate, type SimulationOptions, type Violation } from './simulate.ts';

const step = fc.record({
  client: fc.nat({ max: 7 }),
  lock: fc.nat({ max: 3 }),
  dtNs: fc.integer({ min: 0, max: 50_000_000 }),
  tryLock: fc.boolean(),
  read: fc.boolean(),
  downgrade: fc.boolean(),
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

const readWrite = (simulation: SimulationOptions): SimulationOptions => ({ ...simulation, readWrite: true, fencedCounter: false });

/** Read acquires answered ok while another client reads the lock, and while the same client writes it (downgrades). */
function readOverlaps(lines: readonly HistoryLine[]): { sharedReads: number; downgrades: number } {
  const holding = new Map<string, Set<string>>(); // lock → "client side" held
  const counts = { sharedReads: 0, downgrades: 0 };
  for (const line of lines) {
    if (line.kind !== 'op' || line.lock === undefined || line.access === undefined) continue;
    const held = holding.get(line.lock) ?? new Set<string>();
    holding.set(line.lock, held);
    if (line.f === 'release' && line.type === 'invoke') held.delete(`${line.client} ${line.access}`);
    if (line.f !== 'acquire' || line.type !== 'ok') continue;
    if (line.access === 'read') {
      if ([...held].some((entry) => entry.endsWith(' read') && !entry.startsWith(`${line.client} `))) counts.sharedReads++;
      if (held.has(`${line.client} write`)) counts.downgrades++;
    }
    held.add(`${line.client} ${line.access}`);
  }
  return counts;
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

describe('random schedules of a correct read/write lock service (readers share, writers downgrade)', () => {
  it('pass every check, though readers overlap and writers hold both sides while they downgrade', () => {
    const seen = { sharedReads: 0, downgrades: 0 };
    fc.assert(
      fc.property(schedule, ([steps, simulation]) => {
        const lines = [...simulate(steps, readWrite(simulation))];
        const results = check(lines);
        expect(anomalyTypes(results)).toEqual([]);
        expect(results.valid).toBe(true);
        const overlaps = readOverlaps(lines);
        seen.sharedReads += overlaps.sharedReads;
        seen.downgrades += overlaps.downgrades;
      }),
      { numRuns: 300 },
    );
    expect(seen.sharedReads).toBeGreaterThan(0);
    expect(seen.downgrades).toBeGreaterThan(0);
  });

  it('catch a writer let in beside the holders', () => {
    fc.assert(
      fc.property(schedule, fc.nat({ max: 300 }), ([steps, simulation], atStep) => {
        const results = run(steps, { ...readWrite(simulation), violation: { type: 'double-holder', atStep } });
        const found = results.checkers.mutex.anomalies;
        expect(found.length).toBeGreaterThan(0);
        expect(found.every((anomaly) => anomaly.windows.some((window) => window.access === 'write'))).toBe(true);
        expect(results.valid).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('catch a reader that waits while nobody writes', () => {
    fc.assert(
      fc.property(schedule, fc.nat({ max: 300 }), ([steps, simulation], atStep) => {
        const results = run(steps, { ...readWrite(simulation), violation: { type: 'stuck-acquire', atStep } });
        expect(results.checkers.liveness.anomalies.map((anomaly) => anomaly.cause)).toContain('reader-waited-without-writer');
        expect(results.valid).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { FaultPlan } from '../nemesis/types.ts';
import { smallerCandidates, type Candidate } from './shrink.ts';

const fault = (atMs: number): FaultPlan => ({ nemesis: 'lost-reply', atMs, durationMs: 0, target: { next: 'request' } });
const start: Candidate = { schedule: [1, 2, 3, 4, 5].map((n) => fault(n * 5000)), clients: 8, workers: 4, locks: 4, timeLimitS: 60 };

describe('shrink candidates', () => {
  it('drop faults by halves, then quarters, down to one at a time, then halve clients, locks and the time limit', () => {
    const removed = [...smallerCandidates(start, new Set())].map((step) => step.removed);
    expect(removed).toEqual([
      'faults 1–3 of 5', 'faults 4–5 of 5',
      'faults 1–2 of 5', 'faults 3–4 of 5', 'fault 5 (lost-reply) of 5',
      'fault 1 (lost-reply) of 5', 'fault 2 (lost-reply) of 5', 'fault 3 (lost-reply) of 5', 'fault 4 (lost-reply) of 5', 'fault 5 (lost-reply) of 5',
      'clients 8 → 4', 'locks 4 → 2', 'time limit 60 s → 30 s',
    ]);
  });

  it('keep workers within clients, and never cut the time before the last fault has healed', () => {
    const steps = [...smallerCandidates({ ...start, clients: 3, workers: 3, timeLimitS: 30 }, new Set())];
    expect(steps.find((step) => step.removed.startsWith('clients'))!.candidate).toMatchObject({ clients: 2, workers: 2 });
    // The last fault is at 25 s: a second after it is the shortest run that still has it.
    expect(steps.find((step) => step.removed.startsWith('time'))!.removed).toBe('time limit 30 s → 26 s');
    expect([...smallerCandidates({ ...start, timeLimitS: 26 }, new Set())].some((step) => step.removed.startsWith('time'))).toBe(false);
  });

  it('try the one fault left on its own', () => {
    expect([...smallerCandidates({ ...start, schedule: [fault(5000)] }, new Set())].map((step) => step.removed)[0]).toBe('fault 1 (lost-reply) of 1');
  });

  it('do not try again a schedule that already lost the anomaly', () => {
    const lost = new Set([JSON.stringify(start.schedule.slice(3))]);
    expect([...smallerCandidates(start, lost)].map((step) => step.removed)).not.toContain('faults 1–3 of 5');
  });
});

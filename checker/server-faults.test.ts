import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NemesisLine } from '../ground/history.ts';
import { ServerFaultTime } from './server-faults.ts';

const line = (id: number, type: 'start' | 'stop', time: number, f = 'kill'): NemesisLine => ({ kind: 'nemesis', id, type, time, f, description: f, value: {} });

describe('ServerFaultTime', () => {
  it('counts overlapping server faults once, ignores client-side ones, and keeps a fault never healed in force', () => {
    const faults = new ServerFaultTime();
    for (const next of [line(0, 'start', 10), line(1, 'start', 15, 'pause'), line(2, 'start', 16, 'lost-reply'), line(0, 'stop', 20), line(1, 'stop', 30, 'pause'), line(2, 'stop', 90, 'lost-reply'), line(3, 'start', 50, 'partition')]) faults.line(next);
    expect(faults.within(0, 100)).toBe(20 + 50);
    expect(faults.within(12, 25)).toBe(13);
    expect(faults.within(30, 50)).toBe(0);
    expect(faults.within(60, 40)).toBe(0);
  });

  it('agrees with counting each nanosecond, for any faults', () => {
    const interval = fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 20 }));
    fc.assert(fc.property(fc.array(interval, { maxLength: 6 }), interval, (spans, [from, length]) => {
      const events = spans.flatMap(([start, span], id) => [line(id, 'start', start), line(id, 'stop', start + span)]).sort((a, b) => a.time - b.time || Number(a.type === 'stop') - Number(b.type === 'stop'));
      const faults = new ServerFaultTime();
      for (const event of events) faults.line(event);
      // Replaying the same lines in order: a nanosecond [t, t+1) is faulted when a fault started at or before t is not yet stopped.
      let expected = 0;
      for (let time = from; time < from + length; time++) {
        let open = 0;
        for (const event of events) if (event.time <= time) open += event.type === 'start' ? 1 : -1;
        if (open > 0) expected++;
      }
      expect(faults.within(from, from + length)).toBe(expected);
    }));
  });
});

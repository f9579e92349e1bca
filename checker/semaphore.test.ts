import { describe, expect, it } from 'vitest';
import { check } from './index.ts';
import { child, DEFAULT_CONFIG, sessionOf, TestHistory } from './test-history.ts';

const SEMAPHORE_CONFIG = { ...DEFAULT_CONFIG, workload: 'semaphore', permits: 2 };

function history(): TestHistory {
  return new TestHistory(SEMAPHORE_CONFIG).connected('c1').connected('c2').connected('c3');
}

/** A lease of semaphore S (2 permits), from ok at `okMs` to release at `releaseMs` (never when null). */
function lease(h: TestHistory, client: string, startMs: number, okMs: number | null, releaseMs: number | null, outcome: 'ok' | 'info' = 'ok'): number {
  const id = h.acquire(client, 'S', startMs, okMs, outcome, { permits: 2, node: `/locks/S/leases/${client}-lease`, token: 100 + startMs });
  if (releaseMs !== null) h.release(client, 'S', releaseMs);
  return id;
}

describe('semaphore: over-permits', () => {
  it('as many holders as permits overlap freely: no double holder, no anomaly', () => {
    const h = history();
    lease(h, 'c1', 1, 2, 50);
    lease(h, 'c2', 3, 4, 60);
    lease(h, 'c3', 5, 55, 90); // waits for c1's lease
    h.snapshot(99, true, { S: [] }, []);
    h.end(100);
    const results = check(h.lines());
    expect(results.checkers.semaphore).toMatchObject({ valid: true, windows: 3, semaphores: 1, anomalies: [] });
    expect(results.checkers.mutex.anomalies).toEqual([]);
    expect(results.valid).toBe(true);
  });

  it('one holder past the permits is an over-permits listing every window open then', () => {
    const h = history();
    const a = lease(h, 'c1', 1, 2, 50);
    const b = lease(h, 'c2', 3, 4, 60);
    const c = lease(h, 'c3', 5, 10, 40);
    h.snapshot(99, true, { S: [] }, []);
    h.end(100);
    const results = check(h.lines());
    const found = results.checkers.semaphore.anomalies;
    expect(found).toHaveLength(1);
    expect(found[0]!.permits).toBe(2);
    expect(found[0]!.windows.map((window) => window.client)).toEqual(['c1', 'c2', 'c3']);
    expect(found[0]!.overlap).toEqual({ start: 10e6, end: 40e6 });
    expect(found[0]!.ops).toEqual(expect.arrayContaining([a, b, c]));
    expect(results.checkers.mutex.anomalies).toEqual([]);
    expect(results.valid).toBe(false);
  });

  it('unknown and pending acquires hold nothing; windows still open at the end stay open to it', () => {
    const h = history();
    lease(h, 'c1', 1, 2, null);
    lease(h, 'c2', 3, 4, 30, 'info');
    lease(h, 'c3', 5, null, null);
    h.end(100);
    expect(check(h.lines()).checkers.semaphore.anomalies).toEqual([]);
    const open = history();
    lease(open, 'c1', 1, 2, null);
    lease(open, 'c2', 3, 4, null);
    lease(open, 'c3', 5, 6, null);
    open.end(100);
    expect(check(open.lines()).checkers.semaphore.anomalies[0]!.overlap).toEqual({ start: 6e6, end: 100e6 });
  });

  it('a leaked lease node is a leaked node, but not a lock head that blocks everyone', () => {
    const h = history();
    lease(h, 'c1', 1, 2, 20);
    lease(h, 'c2', 3, 4, 30, 'info'); // its node stays, owned by its live session
    h.snapshot(99, true, { S: [child('S', 1, sessionOf('c2'), 201, 'leases/')] }, [sessionOf('c1'), sessionOf('c2')]);
    h.end(100);
    const results = check(h.lines());
    expect(results.checkers.leaks.anomalies.map((anomaly) => anomaly.type)).toEqual(['leaked-node']);
    expect(results.checkers.liveness.anomalies).toEqual([]);
  });
});

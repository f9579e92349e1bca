import { describe, expect, it } from 'vitest';
import { check, createChecker, type Results } from './index.ts';
import { CHECKS } from './registry.ts';
import { child, DEFAULT_CONFIG, sessionOf, TestHistory } from './test-history.ts';

const MS = 1e6;
const FENCED_ON = { ...DEFAULT_CONFIG, workload: 'fenced-counter', fencing: 'on' };
const FENCED_OFF = { ...DEFAULT_CONFIG, workload: 'fenced-counter', fencing: 'off' };

/** Ends a history the way the runner does: every client idle, a final snapshot with no lock nodes, an end line. */
function finished(history: TestHistory, atMs: number, sessions = ['c1', 'c2', 'c3'].map(sessionOf), resources = {}): Results {
  return check(history.snapshot(atMs, true, { L1: [] }, sessions, resources).end(atMs + 1).lines());
}

describe('mutex', () => {
  it('reports two clients whose hold windows overlap, with both windows, the overlap and the faults around it', () => {
    const h = new TestHistory();
    h.fault(7, 'pause-holder', 150, 2500);
    const first = h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000001', token: 11 });
    const second = h.acquire('c2', 'L1', 200, 1500, 'ok', { node: '/locks/L1/lock-0000000002', token: 12 });
    h.release('c2', 'L1', 1800);
    h.release('c1', 'L1', 3000);
    const results = finished(h, 4000);
    expect(results.valid).toBe(false);
    const [anomaly, ...others] = results.checkers.mutex.anomalies;
    expect(others).toEqual([]);
    expect(anomaly).toMatchObject({
      type: 'double-holder',
      lock: 'L1',
      overlap: { start: 1500 * MS, end: 1800 * MS },
      windows: [
        { client: 'c1', session: '0x11', node: '/locks/L1/lock-0000000001', token: 11, start: 100 * MS, end: 3000 * MS, acquireOp: first },
        { client: 'c2', session: '0x12', node: '/locks/L1/lock-0000000002', token: 12, start: 1500 * MS, end: 1800 * MS, acquireOp: second },
      ],
    });
    expect(anomaly!.ops).toContain(first);
    expect(anomaly!.events.map((event) => event.kind === 'nemesis' && event.f)).toContain('pause-holder');
    expect(anomaly!.explanation).toMatch(/c1 .* and c2 .* both believed they held L1 for 300\.0 ms/);
  });

  it('accepts windows that follow each other, a release invoked before the next acquire answers', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.acquire('c2', 'L1', 50, 400);
    h.release('c1', 'L1', 300, 390);
    h.release('c2', 'L1', 500);
    const results = finished(h, 1000);
    expect(results.checkers.mutex).toMatchObject({ valid: true, anomalies: [], windows: 2 });
    expect(results.valid).toBe(true);
  });

  it('does not open a window for an acquire answered info', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'info');
    h.acquire('c2', 'L1', 50, 150);
    h.release('c2', 'L1', 500);
    expect(finished(h, 1000).checkers.mutex.anomalies).toEqual([]);
  });

  it('keeps a window that is never closed open to the end of the history', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.acquire('c2', 'L1', 5000, 5100);
    const results = check(h.end(6000).lines());
    expect(results.checkers.mutex.anomalies[0]).toMatchObject({ overlap: { start: 5100 * MS, end: 6000 * MS } });
  });

  it('ignores a client acquiring a lock it already holds, and windows on different locks', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.acquire('c1', 'L1', 200, 300);
    h.acquire('c2', 'L2', 0, 100);
    h.release('c1', 'L1', 400);
    h.release('c2', 'L2', 400);
    expect(finished(h, 1000).checkers.mutex.anomalies).toEqual([]);
  });

  it('still reports double holders in fenced-counter with fencing on, but lets the fencing check decide', () => {
    const h = new TestHistory(FENCED_ON);
    h.acquire('c1', 'L1', 0, 100, 'ok', { token: 11 });
    h.acquire('c2', 'L1', 200, 300, 'ok', { token: 12 });
    h.release('c2', 'L1', 400);
    h.release('c1', 'L1', 500);
    const results = finished(h, 1000);
    expect(results.checkers.mutex.anomalies).toHaveLength(1);
    expect(results.checkers.mutex.valid).toBe(true);
    expect(results.checkers.mutex.tolerated).toMatch(/fencing on/);
    expect(results.valid).toBe(true);
  });
});

describe('read/write locks', () => {
  const RWLOCK = { ...DEFAULT_CONFIG, workload: 'rwlock' };

  it('lets readers share a lock, and a client hold both sides while it downgrades', () => {
    const h = new TestHistory(RWLOCK);
    h.hold('c1', 'L1', 'read', 0, 10, 1000);
    h.hold('c2', 'L1', 'read', 50, 60, 900);
    h.hold('c3', 'L1', 'write', 100, 1010, 1500);
    h.hold('c3', 'L1', 'read', 1100, 1110, 2000); // downgrade: read beside its own write…
    h.release('c3', 'L1', 1500, 1501, { access: 'write' }); // …then the write side goes
    h.hold('c1', 'L1', 'read', 1600, 1610, 1900);
    const results = finished(h, 3000);
    expect(results.checkers.mutex).toMatchObject({ valid: true, anomalies: [], windows: 5 });
    expect(results.valid).toBe(true);
  });

  it('reports a writer beside a reader, with the side of each window', () => {
    const h = new TestHistory(RWLOCK);
    h.hold('c1', 'L1', 'read', 0, 10, 1000);
    const writer = h.hold('c2', 'L1', 'write', 50, 500, 700);
    const [anomaly, ...others] = finished(h, 2000).checkers.mutex.anomalies;
    expect(others).toEqual([]);
    expect(anomaly).toMatchObject({
      overlap: { start: 500 * MS, end: 700 * MS },
      windows: [{ client: 'c1', access: 'read' }, { client: 'c2', access: 'write', acquireOp: writer }],
    });
    expect(anomaly!.explanation).toMatch(/c1 \(read side, .*c2 \(write side/);
  });

  it('reports the writer that gets in while a downgraded client still reads (CURATOR-621)', () => {
    const h = new TestHistory(RWLOCK);
    h.acquire('c1', 'L1', 0, 10, 'ok', { access: 'write' });
    h.acquire('c2', 'L1', 50, 310, 'ok', { access: 'write' }); // queued behind c1
    h.hold('c1', 'L1', 'read', 200, 210, 500);
    h.release('c1', 'L1', 300, 301, { access: 'write' });
    h.release('c2', 'L1', 600, 601, { access: 'write' });
    const anomalies = finished(h, 2000).checkers.mutex.anomalies;
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]).toMatchObject({ overlap: { start: 310 * MS, end: 500 * MS }, windows: [{ client: 'c1', access: 'read' }, { client: 'c2', access: 'write' }] });
  });

  it('reports a reader that waits longer than the bound while nobody writes or waits to, though readers hold', () => {
    const h = new TestHistory(RWLOCK); // bound: 2 × 1000 + 100 ms
    h.hold('c1', 'L1', 'read', 0, 10, 5000);
    const stuck = h.acquire('c2', 'L1', 100, 3000, 'fail', { access: 'read', error: 'timeout' });
    const results = finished(h, 6000);
    expect(results.checkers.liveness.anomalies).toMatchObject([
      { cause: 'reader-waited-without-writer', acquire: { id: stuck, access: 'read' }, freeSpan: { start: 100 * MS, end: 3000 * MS } },
    ]);
    expect(results.checkers.liveness.anomalies[0]!.explanation).toMatch(/no client held or waited for the write side of L1/);
    expect(results.valid).toBe(false);
  });

  it('lets a reader wait as long as a writer holds or waits, and a writer as long as readers hold', () => {
    const h = new TestHistory(RWLOCK);
    h.hold('c1', 'L1', 'write', 0, 10, 5000);
    h.hold('c2', 'L1', 'read', 100, 5010, 12_000); // waited for c1's write
    h.hold('c3', 'L1', 'write', 6000, 12_010, 12_400); // waits for reader c2
    h.hold('c4', 'L1', 'read', 6100, 12_410, 12_500); // waits behind c3, which waits
    const results = finished(h, 13_000, ['c1', 'c2', 'c3', 'c4'].map(sessionOf));
    expect(results.checkers.liveness.anomalies).toEqual([]);
    expect(results.valid).toBe(true);
  });

  it('does not take the nodes of a client holding both sides for leaks', () => {
    const h = new TestHistory(RWLOCK);
    h.acquire('c1', 'L1', 0, 10, 'ok', { access: 'write', node: '/locks/L1/write-0000000001' });
    h.acquire('c1', 'L1', 100, 110, 'ok', { access: 'read', node: '/locks/L1/read-0000000002' });
    h.snapshot(5000, false, { L1: [child('L1', 1, sessionOf('c1'), 101, 'write-'), child('L1', 2, sessionOf('c1'), 102, 'read-')] }, [sessionOf('c1')]);
    h.release('c1', 'L1', 6000, 6001, { access: 'write' });
    h.release('c1', 'L1', 7000, 7001, { access: 'read' });
    expect(finished(h, 8000).checkers.leaks.anomalies).toEqual([]);
  });

  it('leaves a reader and a later writer waiting for each other to the writer: the lock was free (kazoo #649)', () => {
    const h = new TestHistory(RWLOCK);
    h.acquire('c1', 'L1', 0, 5000, 'fail', { access: 'read', error: 'timeout' });
    const writer = h.acquire('c2', 'L1', 100, 5100, 'fail', { access: 'write', error: 'timeout' });
    expect(finished(h, 6000).checkers.liveness.anomalies).toMatchObject([{ cause: 'waited-while-free', acquire: { id: writer } }]);
  });
});

describe('leaks', () => {
  it('reports a node of a live session whose client neither holds nor waits, attributed to the acquire that named it', () => {
    const h = new TestHistory();
    const acquire = h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000001' });
    h.release('c1', 'L1', 200);
    const results = check(h.snapshot(1000, true, { L1: [child('L1', 1, '0x11')] }, ['0x11']).end(1001).lines());
    expect(results.checkers.leaks.valid).toBe(false);
    expect(results.checkers.leaks.anomalies[0]).toMatchObject({
      type: 'leaked-node',
      lock: 'L1',
      node: { path: '/locks/L1/lock-0000000001', ephemeralOwner: '0x11' },
      owner: { session: '0x11', client: 'c1', worker: 'w1' },
      createdBy: { id: acquire, attribution: 'node-path' },
      guid: null,
      seen: { first: 1000 * MS, last: 1000 * MS, final: true },
    });
  });

  it('attributes a node whose delete the proxy dropped to the try-lock in progress, and finds its GUID', () => {
    const h = new TestHistory();
    const guid = '0123456789abcdef0123456789abcdef';
    const node = child('L1', 3, '0x11', 103, `${guid}__lock__`);
    h.connected('c1');
    const tryLock = h.acquire('c1', 'L1', 0, 100, 'fail', { mode: 'try' });
    h.proxy(50, { event: 'request-dropped', session: '0x11', op: 'delete', path: node.path });
    const results = check(h.snapshot(1000, true, { L1: [node] }, ['0x11']).end(1001).lines());
    const [leak] = results.checkers.leaks.anomalies;
    expect(leak).toMatchObject({ createdBy: { id: tryLock, attribution: 'dropped-delete', mode: 'try' }, guid, droppedDelete: { event: 'request-dropped' } });
    expect(leak!.explanation).toContain('request-dropped');
  });

  it('does not report the nodes of the holder, of a waiter, of a dead session or a persistent node', () => {
    const h = new TestHistory();
    h.connected('c2');
    h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000001' });
    h.acquire('c2', 'L1', 50, null);
    const locks = { L1: [child('L1', 1, '0x11'), child('L1', 2, '0x12'), child('L1', 3, '0x13'), child('L1', 4, '0x0')] };
    const results = check(h.snapshot(1000, true, locks, ['0x11', '0x12']).end(1001).lines());
    expect(results.checkers.leaks).toMatchObject({ valid: true, anomalies: [] });
  });

  it('reports the orphan beside the node a holder acquired with (a retried create in the same session)', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000002' });
    const results = check(h.snapshot(1000, true, { L1: [child('L1', 1, '0x11'), child('L1', 2, '0x11')] }, ['0x11']).end(1001).lines());
    expect(results.checkers.leaks.anomalies.map((leak) => leak.node.path)).toEqual(['/locks/L1/lock-0000000001']);
  });

  it('lists an orphan that only a mid-run snapshot showed without failing the run, and one seen twice once', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'info');
    h.snapshot(2000, false, { L1: [child('L1', 1, '0x11')] }, ['0x11']);
    h.snapshot(3000, false, { L1: [child('L1', 1, '0x11')] }, ['0x11']);
    const results = check(h.snapshot(4000, true, { L1: [] }, ['0x11']).end(4001).lines());
    expect(results.checkers.leaks.anomalies).toHaveLength(1);
    expect(results.checkers.leaks.anomalies[0]!.seen).toEqual({ first: 2000 * MS, last: 3000 * MS, final: false });
    expect(results.checkers.leaks).toMatchObject({ valid: true, snapshots: 3 });
    expect(results.checkers.leaks.tolerated).toMatch(/gone by the final/);
  });

  it('gives a client that just finished an operation the grace of a non-atomic mid-run snapshot', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000001' });
    h.release('c1', 'L1', 200, 300);
    h.snapshot(600, false, { L1: [child('L1', 1, '0x11')] }, ['0x11']);
    expect(finished(h, 5000).checkers.leaks.anomalies).toEqual([]);
  });
});

describe('liveness', () => {
  it('reports a blocking acquire still pending while the lock has been free longer than the bound', () => {
    const h = new TestHistory(); // bound: 2 × 1000 + 100 ms
    h.acquire('c1', 'L1', 0, 100);
    h.release('c1', 'L1', 500);
    const waiting = h.acquire('c2', 'L1', 400, null);
    const results = check(h.snapshot(5000, true, { L1: [child('L1', 1, '0x11'), child('L1', 2, '0x12')] }, ['0x11', '0x12']).end(5001).lines());
    expect(results.checkers.liveness).toMatchObject({ valid: false, boundNs: 2100 * MS, boundSource: 'config' });
    const waited = results.checkers.liveness.anomalies.find((anomaly) => anomaly.cause === 'waited-while-free');
    expect(waited).toMatchObject({
      acquire: { id: waiting, outcome: 'pending' },
      freeSpan: { start: 500 * MS, end: 5001 * MS },
      blockingNode: { path: '/locks/L1/lock-0000000001' },
      blockingOwner: { session: '0x11', client: 'c1' },
    });
  });

  it('reports an acquire that timed out after the lock had been free longer than the bound', () => {
    const h = new TestHistory();
    const timedOut = h.acquire('c2', 'L1', 0, 3000, 'fail', { timeoutMs: 3000 });
    const results = finished(h, 4000);
    expect(results.checkers.liveness.anomalies).toMatchObject([{ cause: 'waited-while-free', acquire: { id: timedOut, outcome: 'fail' } }]);
  });

  it('measures the bound over the time with no server fault in force: a wait through a quorum loss is not stuck, one that outlasts the heal is', () => {
    const through = new TestHistory(); // bound 2100 ms; free 500 → 4500, of which 1000 → 3000 and 2500 → 4000 under server faults
    through.acquire('c1', 'L1', 0, 100);
    through.release('c1', 'L1', 500);
    through.acquire('c2', 'L1', 400, 4500);
    through.faultOn(0, 'kill', { nodes: [1, 2] }, 1000, 3000).faultOn(1, 'pause', { nodes: [3] }, 2500, 4000);
    through.fault(2, 'lost-reply', 600, 4400); // a client-side fault counts as ordinary time
    through.release('c2', 'L1', 4600);
    expect(finished(through, 5000).checkers.liveness).toMatchObject({ valid: true, anomalies: [] });

    const outlasting = new TestHistory();
    outlasting.acquire('c1', 'L1', 0, 100);
    outlasting.release('c1', 'L1', 500);
    const waiting = outlasting.acquire('c2', 'L1', 400, null);
    outlasting.faultOn(0, 'partition', { grudge: { zk1: [2, 3] } }, 1000, 3000);
    const liveness = finished(outlasting, 6000).checkers.liveness;
    expect(liveness.anomalies).toMatchObject([{ cause: 'waited-while-free', acquire: { id: waiting }, freeSpan: { start: 500 * MS, end: 6001 * MS }, unfaultedNs: 3501 * MS }]);
    expect(liveness.anomalies[0]!.explanation).toContain('waited 5.501 s (0.500000 s to 6.001000 s) while no client held L1, 3.501 s of it with no server fault in force');
  });

  it('accepts long waits while the lock is held, and short waits while it is free', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.acquire('c2', 'L1', 200, 6050);
    h.release('c1', 'L1', 6000);
    h.release('c2', 'L1', 6100);
    h.acquire('c3', 'L1', 7000, 8000);
    h.release('c3', 'L1', 8100);
    expect(finished(h, 9000).checkers.liveness).toMatchObject({ valid: true, anomalies: [] });
  });

  it('takes the bound from the options over the config', () => {
    const h = new TestHistory();
    h.acquire('c2', 'L1', 0, 1000, 'fail');
    const lines = h.snapshot(2000, true, {}, []).end(2001).lines();
    expect(check(lines).checkers.liveness.valid).toBe(true);
    expect(check(lines, { livenessBoundNs: 500 * MS }).checkers.liveness).toMatchObject({ valid: false, boundSource: 'option' });
  });

  it('reports a final lock whose lowest node belongs to a client that is not acquiring it', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'info');
    const results = check(h.snapshot(1000, true, { L1: [child('L1', 4, '0x11'), child('L1', 9, '0x12')] }, ['0x11', '0x12']).end(1001).lines());
    const stuck = results.checkers.liveness.anomalies.find((anomaly) => anomaly.cause === 'lowest-node-unclaimed');
    expect(stuck).toMatchObject({ lock: 'L1', blockingNode: { name: 'lock-0000000004' }, blockingOwner: { session: '0x11', client: 'c1' } });
  });

  it('accepts a final lock whose lowest node is its holder\'s', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'ok', { node: '/locks/L1/lock-0000000004' });
    const results = check(h.snapshot(1000, true, { L1: [child('L1', 4, '0x11')] }, ['0x11']).end(1001).lines());
    expect(results.checkers.liveness.anomalies).toEqual([]);
  });
});

describe('fencing', () => {
  it('reports a write accepted with a token lower than one already accepted', () => {
    const h = new TestHistory(FENCED_OFF);
    h.write('c2', 'L1', 100, 200, 1, 12, true);
    const stale = h.write('c1', 'L1', 300, 400, 1, 11, true);
    const results = finished(h, 1000, undefined, { 'counter-L1': { value: 1, highestToken: 12 } });
    const found = results.checkers.fencing.anomalies.find((anomaly) => anomaly.type === 'stale-write');
    expect(found).toMatchObject({ resource: 'counter-L1', tokenKind: 'fence', write: { client: 'c1', token: 11, op: stale }, newer: { client: 'c2', token: 12 } });
  });

  it('accepts a lower token that the resource rejected', () => {
    const h = new TestHistory(FENCED_ON);
    h.write('c2', 'L1', 100, 200, 1, 12, true);
    h.write('c1', 'L1', 300, 400, 1, 11, false);
    const results = finished(h, 1000, undefined, { 'counter-L1': { value: 1, highestToken: 12 } });
    expect(results.checkers.fencing).toMatchObject({ valid: true, anomalies: [], resources: { 'counter-L1': { accepted: 1, rejected: 1, acknowledged: 1, finalValue: 1 } } });
  });

  it('without tokens, compares the starts of the writers\' hold windows', () => {
    const h = new TestHistory(FENCED_ON);
    h.acquire('c1', 'L1', 0, 100);
    h.acquire('c2', 'L1', 200, 300);
    h.write('c2', 'L1', 400, 500, 1, null, true);
    h.write('c1', 'L1', 600, 700, 1, null, true);
    h.release('c2', 'L1', 800);
    h.release('c1', 'L1', 900);
    const results = finished(h, 1000, undefined, { 'counter-L1': { value: 1, highestToken: null } });
    const stale = results.checkers.fencing.anomalies.find((anomaly) => anomaly.type === 'stale-write');
    expect(stale).toMatchObject({ tokenKind: 'implicit', write: { client: 'c1', implicitToken: 100 * MS }, newer: { client: 'c2', implicitToken: 300 * MS } });
    expect(results.valid).toBe(false);
  });

  it('reports an acknowledged increment overwritten by a later write of the same value', () => {
    const h = new TestHistory(FENCED_OFF);
    const lost = h.write('c1', 'L1', 100, 200, 1, 11, true);
    const overwriting = h.write('c2', 'L1', 300, 400, 1, 12, true);
    const results = finished(h, 1000, undefined, { 'counter-L1': { value: 1, highestToken: 12 } });
    expect(results.checkers.fencing.anomalies).toMatchObject([
      { type: 'lost-update', cause: 'overwritten', value: 1, op: { id: lost }, overwrittenBy: { client: 'c2', op: overwriting } },
    ]);
  });

  it('reports acknowledged increments the resource rejected or the final counter lacks', () => {
    const h = new TestHistory(FENCED_OFF);
    h.write('c1', 'L1', 100, 200, 1, 11, true);
    h.write('c2', 'L1', 300, 400, 2, 12, true);
    h.write('c3', 'L1', 500, 600, 3, 13, false, 'ok');
    const results = finished(h, 1000, undefined, { 'counter-L1': { value: 1, highestToken: 12 } });
    expect(results.checkers.fencing.anomalies.map((anomaly) => anomaly.type === 'lost-update' && [anomaly.op.client, anomaly.cause])).toEqual([
      ['c2', 'missing-from-final'],
      ['c3', 'missing-from-final'],
    ]);
  });

  it('accepts a sequence of increments that all count', () => {
    const h = new TestHistory(FENCED_OFF);
    for (let value = 1; value <= 5; value++) h.write(`c${value % 3}`, 'L1', value * 100, value * 100 + 50, value, 10 + value, true);
    expect(finished(h, 1000, undefined, { 'counter-L1': { value: 5, highestToken: 15 } }).checkers.fencing).toMatchObject({ valid: true, anomalies: [] });
  });
});

describe('unknown', () => {
  it('answers unknown for the checks that need a final snapshot when there is none', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.release('c1', 'L1', 200);
    const results = check(h.lines());
    expect(results.checkers.mutex.valid).toBe(true);
    expect(results.checkers.leaks).toMatchObject({ valid: 'unknown', reason: 'the history has no final snapshot' });
    expect(results.checkers.liveness.valid).toBe('unknown');
    expect(results.checkers.fencing.valid).toBe(true);
    expect(results.valid).toBe('unknown');
    expect(results.history).toMatchObject({ end: null, finalSnapshot: false });
  });

  it('answers unknown when lines could not be read, and false when an anomaly is found anyway', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100);
    h.release('c1', 'L1', 200);
    const cleanChecker = createChecker();
    for (const line of h.snapshot(1000, true, { L1: [] }, []).end(1001).lines()) cleanChecker.add(line);
    cleanChecker.unreadable({ line: 7, reason: 'truncated last line (not JSON)' });
    const clean = cleanChecker.finish();
    expect(clean.valid).toBe('unknown');
    expect(clean.checkers.mutex.reason).toMatch(/1 line\(s\) of the history could not be used \(first: line 7, truncated/);
    expect(clean.history).toMatchObject({ unreadableCount: 1, unreadable: [{ line: 7 }] });

    const overlapping = new TestHistory();
    overlapping.acquire('c1', 'L1', 0, 100);
    overlapping.acquire('c2', 'L1', 50, 150);
    const checker = createChecker();
    for (const line of overlapping.lines()) checker.add(line);
    checker.unreadable({ line: 3, reason: 'not JSON' });
    expect(checker.finish().valid).toBe(false);
  });

  it('answers unknown without a header, or with a history version it does not read', () => {
    const headless = new TestHistory(null);
    headless.snapshot(10, true, {}, []);
    expect(check(headless.lines()).valid).toBe('unknown');
    const future = new TestHistory().snapshot(10, true, {}, []).lines();
    future[0] = { ...future[0]!, version: 99 } as never;
    const results = check(future);
    expect(results.valid).toBe('unknown');
    expect(results.history.unreadable[0]!.reason).toMatch(/version 99 is not supported/);
  });

  it('treats a completion without an invoke as a line it could not use', () => {
    const lines = new TestHistory().snapshot(10, true, {}, []).lines();
    lines.splice(1, 0, { kind: 'op', id: 42, type: 'ok', time: 5, f: 'release', client: 'c1', worker: 'w1', lock: 'L1' });
    const results = check(lines);
    expect(results.valid).toBe('unknown');
    expect(results.history.unreadable[0]).toEqual({ line: 2, reason: 'operation 42 completed (ok) without a pending invoke' });
  });
});

describe('stats', () => {
  it('counts per function and outcome, latency percentiles, throughput per bucket and fault windows', () => {
    const h = new TestHistory();
    h.fault(1, 'kill', 100, 900);
    h.fault(2, 'partition', 950, null);
    for (let i = 0; i < 10; i++) h.acquire(`c${i}`, `L${i}`, i * 100, i * 100 + (i + 1) * 10, i < 8 ? 'ok' : 'fail', { mode: 'try' });
    h.acquire('c1', 'L1', 1500, null);
    const { stats } = check(h.end(2500).lines(), { throughputBucketNs: 1000 * MS });
    expect(stats.counts.acquire).toEqual({ ok: 8, fail: 2, info: 0, pending: 1 });
    expect(stats.latency.acquire).toMatchObject({ count: 10 });
    expect(stats.latency.acquire!.p50).toBeCloseTo(50, 0);
    expect(stats.latency.acquire!.max).toBeCloseTo(100, 0);
    expect(stats.throughput).toEqual({ bucketNs: 1000 * MS, ok: [8, 0], fail: [1, 1], info: [0, 0] });
    expect(stats.faults).toMatchObject([{ id: 1, f: 'kill', start: 100 * MS, end: 900 * MS }, { id: 2, f: 'partition', end: null }]);
    expect(stats.durationNs).toBe(2500 * MS);
  });
});


describe('composition', () => {
  it('gives each registered check its entry in results, in registry order, and the worst of them as the verdict', () => {
    const h = new TestHistory();
    h.acquire('c1', 'L1', 0, 100, 'ok');
    h.acquire('c2', 'L1', 200, 300, 'ok');
    const results = check(h.end(500).lines());
    expect(Object.keys(results.checkers)).toEqual(CHECKS.map((registered) => registered.name));
    expect(Object.keys(results.checkers)).toEqual(['mutex', 'leaks', 'liveness', 'fencing', 'leader', 'semaphore']);
    expect(results.checkers.mutex.valid).toBe(false);
    expect(results.checkers.leaks.valid).toBe('unknown');
    expect(results.valid).toBe(false);
  });
});

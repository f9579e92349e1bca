import { describe, expect, it } from 'vitest';
import { check } from './index.ts';
import { DEFAULT_CONFIG, sessionOf, TestHistory } from './test-history.ts';

/** Bound of DEFAULT_CONFIG: 2 × sessionTimeoutMs (1000) + holdMs (100) = 2.1 s. */
const LEADER_CONFIG = { ...DEFAULT_CONFIG, workload: 'leader', fencing: 'off', nodes: 3 };

/** cN is hosted by worker wN. */
function history(config: Record<string, unknown> = LEADER_CONFIG): TestHistory {
  const h = new TestHistory(config);
  for (const n of [1, 2, 3]) h.workerEvent('connected', 0, `c${n}`, sessionOf(`c${n}`), `w${n}`);
  return h;
}

const campaign = (h: TestHistory, client: string, startMs: number, endMs: number | null, outcome: 'ok' | 'fail' | 'info' = 'ok', worker = 'w1'): number =>
  h.op(client, 'campaign', startMs, endMs, outcome, { election: 'E', worker });
const resign = (h: TestHistory, client: string, atMs: number, worker = 'w1'): number => h.op(client, 'resign', atMs, atMs + 1, 'ok', { election: 'E', worker });

function leaderResult(h: TestHistory) {
  const results = check(h.lines());
  return { results, leader: results.checkers.leader, types: results.checkers.leader.anomalies.map((anomaly) => anomaly.type) };
}

describe('leader: double-leader', () => {
  it('leaders in turn are valid: each window ends with its resign, before the next begins', () => {
    const h = history();
    campaign(h, 'c1', 1, 2);
    campaign(h, 'c2', 3, 4);
    h.leadership('c1', 'E', 5, true, 10);
    resign(h, 'c1', 50);
    h.leadership('c2', 'E', 52, true, 11);
    resign(h, 'c2', 90);
    h.end(100);
    const { results, leader } = leaderResult(h);
    expect(leader.anomalies).toEqual([]);
    expect(leader.windows).toBe(2);
    expect(leader.elections).toBe(1);
    expect(results.checkers.leader.valid).toBe(true);
  });

  it('two clients believing they lead at once are a double leader, with the overlap and both windows', () => {
    const h = history();
    const c1 = campaign(h, 'c1', 1, 2);
    const c2 = campaign(h, 'c2', 3, 4);
    h.leadership('c1', 'E', 10, true, 10);
    h.leadership('c2', 'E', 30, true, 11);
    const r1 = resign(h, 'c1', 50);
    resign(h, 'c2', 60);
    h.end(100);
    const { results, leader } = leaderResult(h);
    expect(leader.anomalies).toHaveLength(1);
    const anomaly = leader.anomalies[0]!;
    expect(anomaly.type).toBe('double-leader');
    if (anomaly.type !== 'double-leader') return;
    expect(anomaly.overlap).toEqual({ start: 30e6, end: 50e6 });
    expect(anomaly.windows.map((window) => [window.client, window.token, window.endedBy])).toEqual([['c1', 10, 'resign'], ['c2', 11, 'resign']]);
    expect(anomaly.ops).toEqual(expect.arrayContaining([c1, c2, r1]));
    expect(results.valid).toBe(false);
  });

  it('a leadership event ends the window (leading: false), and so does the worker\'s death', () => {
    const h = history();
    campaign(h, 'c1', 1, 2);
    campaign(h, 'c2', 3, 4, 'ok', 'w2');
    h.leadership('c1', 'E', 10, true, 10);
    h.leadership('c1', 'E', 20, false);
    h.leadership('c2', 'E', 30, true, 11, 'w2');
    h.workerEvent('crashed', 40, undefined, undefined, 'w2');
    campaign(h, 'c3', 41, 42);
    h.leadership('c3', 'E', 45, true, 12);
    resign(h, 'c3', 60);
    h.end(100);
    const { leader } = leaderResult(h);
    expect(leader.anomalies).toEqual([]);
    expect(leader.windows).toBe(3);
  });

  it('only an ok campaign not resigned can lead: events of pending, unknown, resigned or repeated candidacies open nothing', () => {
    const h = history();
    campaign(h, 'c1', 1, null); // pending to the end
    campaign(h, 'c2', 2, 3, 'info');
    campaign(h, 'c3', 4, 5);
    h.leadership('c3', 'E', 6, true, 13);
    h.leadership('c1', 'E', 7, true, 10);
    h.leadership('c2', 'E', 8, true, 11);
    h.leadership('c3', 'E', 9, true, 13); // a repeat: still one window
    resign(h, 'c3', 20);
    h.leadership('c3', 'E', 21, true, 13); // after its resign
    h.end(30);
    const { leader } = leaderResult(h);
    expect(leader.anomalies).toEqual([]);
    expect(leader.windows).toBe(1);
  });

  it('with fencing on, double leaders are listed but tolerated: the fencing check decides', () => {
    const h = history({ ...LEADER_CONFIG, fencing: 'on' });
    campaign(h, 'c1', 1, 2);
    campaign(h, 'c2', 3, 4);
    h.leadership('c1', 'E', 10, true, 10);
    h.leadership('c2', 'E', 30, true, 11);
    resign(h, 'c1', 50);
    resign(h, 'c2', 60);
    h.snapshot(99, true, {}, []);
    h.end(100);
    const { results, types, leader } = leaderResult(h);
    expect(types).toEqual(['double-leader']);
    expect(leader.valid).toBe(true);
    expect(leader.tolerated).toMatch(/fencing check decides/);
    expect(results.valid).toBe(true);
  });
});

describe('leader: no-leader', () => {
  it('candidates that could lead with nobody leading past the bound are a no-leader, also when the history ends in it', () => {
    const h = history();
    campaign(h, 'c1', 1, 2);
    campaign(h, 'c2', 3, 4);
    h.leadership('c1', 'E', 5, true, 10);
    resign(h, 'c1', 100);
    // c2 waits 3 s with nobody leading (bound 2.1 s), then c1 campaigns again and leads.
    campaign(h, 'c1', 3100, 3101);
    h.leadership('c1', 'E', 3102, true, 12);
    resign(h, 'c1', 3200);
    resign(h, 'c2', 3201);
    campaign(h, 'c3', 3300, 3301);
    h.end(6000); // c3 alone, never elected, to the end
    const { results, leader } = leaderResult(h);
    const found = leader.anomalies.filter((anomaly) => anomaly.type === 'no-leader');
    expect(found.map((anomaly) => anomaly.type === 'no-leader' && [anomaly.leaderless.start / 1e6, anomaly.leaderless.end / 1e6, anomaly.candidates])).toEqual([
      [100, 3102, ['c1', 'c2']],
      [3301, 6000, ['c3']],
    ]);
    expect(results.valid).toBe(false);
  });

  it('a stretch within the bound is no anomaly', () => {
    const h = history();
    campaign(h, 'c1', 1, 2);
    h.leadership('c1', 'E', 2000, true, 10);
    resign(h, 'c1', 2100);
    h.end(2200);
    expect(leaderResult(h).leader.anomalies).toEqual([]);
  });

  it('nobody could lead while the candidates were disconnected, expired, frozen or cut off: no anomaly', () => {
    const h = history();
    campaign(h, 'c1', 1, 2);
    h.workerEvent('disconnected', 3, 'c1');
    h.workerEvent('connected', 5000, 'c1');
    h.leadership('c1', 'E', 5001, true, 10);
    resign(h, 'c1', 5002);
    // c2's session expires: its candidacy was on the old session, so the new one cannot lead.
    campaign(h, 'c2', 5100, 5101);
    h.workerEvent('expired', 5102, 'c2');
    h.workerEvent('connected', 5103, 'c2', '0x99');
    resign(h, 'c2', 9000);
    // c3's worker frozen by pause-holder, then cut off by partition-clients.
    campaign(h, 'c3', 9100, 9101, 'ok', 'w3');
    h.faultOn(1, 'pause-holder', { workers: ['w3'], holders: [{ client: 'c3', lock: 'E' }] }, 9102, 12_000);
    h.faultOn(2, 'partition-clients', { workers: ['w3'] }, 12_000, 15_000);
    resign(h, 'c3', 15_001, 'w3');
    h.end(16_000);
    expect(leaderResult(h).leader.anomalies).toEqual([]);
  });

  it('without a quorum nobody can lead; one server down of three leaves one, two do not', () => {
    const lonely = (faults: (h: TestHistory) => void) => {
      const h = history();
      campaign(h, 'c1', 1, 2);
      faults(h);
      resign(h, 'c1', 5000);
      h.end(5100);
      return leaderResult(h).types;
    };
    expect(lonely((h) => h.faultOn(1, 'kill', { nodes: [1] }, 0, 6000).faultOn(2, 'pause', { nodes: [2] }, 0, 6000))).toEqual([]);
    expect(lonely((h) => h.faultOn(1, 'partition', { grudge: { zk1: [2, 3], zk2: [1, 3], zk3: [1, 2] } }, 0, 6000))).toEqual([]);
    expect(lonely((h) => h.faultOn(1, 'kill', { nodes: [3] }, 0, 6000))).toEqual(['no-leader']);
    expect(lonely((h) => h.faultOn(1, 'partition', { grudge: { zk1: [2, 3], zk2: [1], zk3: [1] } }, 0, 6000))).toEqual(['no-leader']);
    // The ensemble's size unknown: any server fault may have taken the quorum.
    const h = history({ ...LEADER_CONFIG, nodes: undefined });
    campaign(h, 'c1', 1, 2);
    h.faultOn(1, 'kill', { nodes: [3] }, 0, 6000);
    resign(h, 'c1', 5000);
    h.end(5100);
    expect(leaderResult(h).types).toEqual([]);
  });

  it('a candidate with an unknown campaign is no candidate to count on; a lock workload has no elections', () => {
    const h = history();
    campaign(h, 'c1', 1, 2, 'info');
    campaign(h, 'c2', 3, null);
    h.end(9000);
    expect(leaderResult(h).leader.anomalies).toEqual([]);
    const locks = new TestHistory().connected('c1');
    locks.acquire('c1', 'L1', 1, 2);
    locks.release('c1', 'L1', 10);
    locks.end(9000);
    const results = check(locks.lines());
    expect(results.checkers.leader).toMatchObject({ valid: true, windows: 0, elections: 0, anomalies: [] });
  });
});

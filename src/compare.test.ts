import { describe, expect, it } from 'vitest';
import type { Results } from '../checker/types.ts';
import { renderComparePage } from './compare-page.ts';
import { anomalyCounts, describeDifferences, summarizeCell, type CellRun, type CompareDocument } from './compare-summary.ts';
import { parseScenarios } from './compare.ts';

function run(seed: number, found: Partial<CellRun> = {}): CellRun {
  return {
    seed, runId: `r${seed}`, report: `runs/r${seed}/report.html`, log: `logs/r${seed}.log`, exitCode: 0, signal: null,
    valid: true, crashed: false, error: null, anomalies: {}, tolerated: {}, seconds: 30, ...found,
  };
}

const leaking = (seed: number): CellRun => run(seed, { valid: false, exitCode: 1, anomalies: { 'leaked-node': 2 } });

describe('scenarios', () => {
  it('reads none, one nemesis, nemeses joined with + and all, and refuses an unknown one', () => {
    expect(parseScenarios('lost-delete, none,kill+pause+partition,kill+kill')).toEqual([
      { name: 'lost-delete', nemesis: ['lost-delete'] },
      { name: 'none', nemesis: [] },
      { name: 'kill+pause+partition', nemesis: ['kill', 'pause', 'partition'] },
      { name: 'kill', nemesis: ['kill'] },
    ]);
    expect(parseScenarios('all')[0]!.nemesis).toContain('lost-reply');
    expect(() => parseScenarios('kill+nope')).toThrow(/unknown nemesis 'nope'/);
    expect(() => parseScenarios(' , ')).toThrow(/at least one/);
  });
});

describe('cells and differences', () => {
  it('counts only what the checker counts: tolerated double holders and transient orphans apart', () => {
    const results = {
      checkers: {
        mutex: { valid: true, tolerated: 'fenced-counter with fencing on', anomalies: [{ type: 'double-holder' }, { type: 'double-holder' }] },
        leaks: { valid: false, tolerated: 'gone by the final one', anomalies: [{ type: 'leaked-node', seen: { final: true } }, { type: 'leaked-node', seen: { final: false } }] },
        liveness: { valid: false, anomalies: [{ type: 'stuck-acquire' }] },
        fencing: { valid: true, anomalies: [] },
      },
    } as unknown as Results;
    expect(anomalyCounts(results)).toEqual({
      anomalies: { 'leaked-node': 1, 'stuck-acquire': 1 },
      tolerated: { 'double-holder': 2, 'leaked-node': 1 },
    });
  });

  it('gives a cell the worst verdict of its runs, and crashed only when every run crashed', () => {
    expect(summarizeCell('kazoo', 'try-lock', 'none', [run(1), leaking(2)])).toMatchObject({ verdict: 'invalid', anomalies: { 'leaked-node': 2 }, anomalyRuns: { 'leaked-node': 1 } });
    expect(summarizeCell('kazoo', 'try-lock', 'none', [run(1), run(2, { crashed: true, valid: null })]).verdict).toBe('unknown');
    expect(summarizeCell('kazoo', 'try-lock', 'none', [run(1, { crashed: true, valid: null })]).verdict).toBe('crashed');
    expect(summarizeCell('kazoo', 'try-lock', 'none', []).verdict).toBe('not run');
  });

  it('compares the versions of one family cell by cell, oldest first, differences first', () => {
    const cells = [
      // Given newest first: the summary still reads oldest first (2.8.0 before 2.11.0, numerically).
      summarizeCell('kazoo@2.11.0', 'try-lock', 'lost-delete', [leaking(1), leaking(2), leaking(3)]),
      summarizeCell('kazoo@2.8.0', 'try-lock', 'lost-delete', [leaking(1), leaking(2), leaking(3)]),
      summarizeCell('curator@5.4.0', 'try-lock', 'lost-delete', [run(1), run(2), run(3)]),
      summarizeCell('curator@5.7.1', 'try-lock', 'lost-delete', [run(1), leaking(2), run(3)]),
      summarizeCell('node-naive', 'try-lock', 'lost-delete', [leaking(1)]),
      summarizeCell('node-safe', 'try-lock', 'lost-delete', [run(1)]),
    ];
    expect(describeDifferences(cells)).toEqual([
      { family: 'curator', workload: 'try-lock', scenario: 'lost-delete', differs: true, text: 'lost-delete (try-lock): curator@5.4.0: no anomaly (3/3 valid); curator@5.7.1 leaks (1/3)' },
      { family: 'kazoo', workload: 'try-lock', scenario: 'lost-delete', differs: false, text: 'lost-delete (try-lock): kazoo@2.8.0 leaks (3/3 runs); kazoo@2.11.0 leaks too (3/3)' },
    ]);
    const stuckToo = (seed: number): CellRun => run(seed, { valid: false, anomalies: { 'leaked-node': 1, 'stuck-acquire': 1 } });
    const [both] = describeDifferences([
      summarizeCell('kazoo@2.8.0', 'mutex', 'none', [stuckToo(1), leaking(2)]),
      summarizeCell('kazoo', 'mutex', 'none', [stuckToo(1), stuckToo(2)]),
    ]);
    expect(both).toMatchObject({ differs: false, text: 'none (mutex): kazoo leaks (2/2 runs) and gets stuck (2/2); kazoo@2.8.0 leaks (2/2) and gets stuck too (1/2)' });
  });

  it('writes every string of a run into the page as text', () => {
    const hostile = '<script>alert(1)</script>';
    const cells = [summarizeCell('node-naive', 'mutex', 'none', [run(7, { crashed: true, valid: null, error: hostile })])];
    const document: CompareDocument = {
      version: 1, id: 'compare-x', startedAt: 'now', finishedAt: null, complete: false, command: `npm run jepsen -- compare ${hostile}`,
      recipes: ['node-naive'], scenarios: [{ name: 'none', nemesis: [] }], workloads: ['mutex'], runsPerCell: 1, seeds: [7],
      passThrough: [hostile], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells),
    };
    const page = renderComparePage(document);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).toContain('href="logs/r7.log"');
  });
});

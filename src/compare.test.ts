import { describe, expect, it } from 'vitest';
import type { Results } from '../checker/types.ts';
import { renderComparePage } from './compare-page.ts';
import {
  anomalyCounts, changesSince, describeDifferences, parseCompareDocument, summarizeCell, type Cell, type CellRun, type CompareDocument,
} from './compare-summary.ts';
import { parseScenarios } from './compare.ts';

function run(seed: number, found: Partial<CellRun> = {}): CellRun {
  return {
    seed, runId: `r${seed}`, report: `runs/r${seed}/report.html`, log: `logs/r${seed}.log`, exitCode: 0, signal: null,
    valid: true, crashed: false, error: null, anomalies: {}, tolerated: {}, seconds: 30, ...found,
  };
}

const leaking = (seed: number): CellRun => run(seed, { valid: false, exitCode: 1, anomalies: { 'leaked-node': 2 } });

/** A comparison as version 1 of the format wrote it (no baseline field). */
function versionOne(id: string, cells: Cell[]): Record<string, unknown> {
  return {
    version: 1, id, startedAt: '2026-11-20T02:23:00.000Z', finishedAt: '2026-11-20T03:40:00.000Z', complete: true, command: 'npm run jepsen -- compare',
    recipes: [...new Set(cells.map((cell) => cell.recipe))], scenarios: [{ name: 'lost-delete', nemesis: ['lost-delete'] }], workloads: ['try-lock'],
    runsPerCell: 1, seeds: [1], passThrough: [], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells),
  };
}

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
      version: 2, id: 'compare-x', startedAt: 'now', finishedAt: null, complete: false, command: `npm run jepsen -- compare ${hostile}`,
      recipes: ['node-naive'], scenarios: [{ name: 'none', nemesis: [] }], workloads: ['mutex'], runsPerCell: 1, seeds: [7],
      passThrough: [hostile], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells), baseline: null,
    };
    const page = renderComparePage(document);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).toContain('href="logs/r7.log"');
  });
});

describe('changes since a baseline', () => {
  it('lists cells whose verdict or anomaly types changed, new anomalies first, each in matrix order', () => {
    const stuck = (seed: number): CellRun => run(seed, { valid: false, anomalies: { 'leaked-node': 1, 'stuck-acquire': 4 } });
    const before = [
      summarizeCell('a', 'try-lock', 'lost-delete', [run(1)]),
      summarizeCell('b', 'try-lock', 'lost-delete', [leaking(1)]),
      summarizeCell('c', 'try-lock', 'lost-delete', [leaking(1)]),
      summarizeCell('d', 'try-lock', 'lost-delete', [leaking(1)]),
      summarizeCell('e', 'try-lock', 'lost-delete', [stuck(1)]),
    ];
    const now = [
      summarizeCell('a', 'try-lock', 'lost-delete', [run(1)]),                    // the same
      summarizeCell('b', 'try-lock', 'lost-delete', [run(1)]),                    // fixed
      summarizeCell('c', 'try-lock', 'lost-delete', [leaking(1), leaking(2)]),   // more of the same: not a change
      summarizeCell('d', 'try-lock', 'lost-delete', [stuck(1)]),                  // a new kind, verdict as before
      summarizeCell('e', 'try-lock', 'lost-delete', [run(1, { crashed: true, valid: null })]),
      summarizeCell('f', 'try-lock', 'lost-delete', [leaking(1)]),                // not in the baseline
      summarizeCell('a', 'mutex', 'lost-delete', [run(1)]),                       // another workload: not in the baseline
    ];
    expect(changesSince(now, before).map((change) => change.text)).toEqual([
      'd · try-lock · lost-delete: invalid as before; new: stuck-acquire ×4',
      'f · try-lock · lost-delete: not in the baseline, invalid; new: leaked-node ×2',
      'b · try-lock · lost-delete: invalid → valid; gone: leaked-node',
      'e · try-lock · lost-delete: invalid → crashed; gone: leaked-node, stuck-acquire',
      'a · mutex · lost-delete: not in the baseline, valid',
    ]);
    expect(changesSince(now, before)[0]).toMatchObject({ before: { verdict: 'invalid', anomalies: { 'leaked-node': 2 } }, after: { verdict: 'invalid' }, newTypes: ['stuck-acquire'], goneTypes: [] });
  });

  it('reads compare.json of version 1 (as having no baseline) and 2, and refuses anything else in one line', () => {
    const cells = [summarizeCell('kazoo', 'try-lock', 'lost-delete', [leaking(1)])];
    const old = parseCompareDocument(JSON.stringify(versionOne('compare-old', cells)));
    expect(old.version).toBe(1);
    expect(old.document).toMatchObject({ id: 'compare-old', baseline: null, cells: [{ recipe: 'kazoo', verdict: 'invalid' }] });
    expect(parseCompareDocument(JSON.stringify({ ...versionOne('compare-new', cells), version: 2, baseline: null })).version).toBe(2);
    expect(() => parseCompareDocument(JSON.stringify({ ...versionOne('x', cells), version: 3 }))).toThrow('compare format version 3; this suite reads versions 1 and 2');
    expect(() => parseCompareDocument('{"version": 1')).toThrow(/^not JSON/);
    expect(() => parseCompareDocument(JSON.stringify({ ...versionOne('x', cells), cells: [{ recipe: 'kazoo' }] }))).toThrow(/^not a compare.json: cells\.0\.workload/);
  });

  it('shows the changes on the page, linking to the baseline, and marks the changed cells', () => {
    const before = [summarizeCell('kazoo', 'try-lock', 'lost-delete', [run(1)])];
    const cells = [summarizeCell('kazoo', 'try-lock', 'lost-delete', [leaking(1)]), summarizeCell('curator', 'try-lock', 'lost-delete', [run(1)])];
    const document = {
      ...versionOne('compare-b', cells), version: 2,
      baseline: { document: '../compare-a/compare.json', id: 'compare-a', startedAt: 'then', version: 1, changes: changesSince(cells, before) },
    } as unknown as CompareDocument;
    const page = renderComparePage(document);
    expect(page).toContain('<h2>Changed since <a href="../compare-a/index.html">compare-a</a></h2>');
    expect(page).toMatch(/<ul data-changes><li><span class="tag">new anomaly<\/span> kazoo · try-lock · lost-delete: valid → invalid; new: leaked-node ×2<\/li><li>curator · try-lock · lost-delete: not in the baseline, valid<\/li><\/ul>/);
    expect(page.match(/<td class="changed">/g)).toHaveLength(2);
    const unchanged = renderComparePage({ ...document, baseline: { ...document.baseline!, changes: [] } });
    expect(unchanged).toContain('No cell changed');
    expect(unchanged).not.toContain('class="changed"');
  });
});

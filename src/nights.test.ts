import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { changesSince, describeDifferences, summarizeCell, type Cell, type CellRun, type CompareDocument } from './compare-summary.ts';
import { newestNight, updateNights, type NightsIndex } from './nights.ts';

const directory = mkdtempSync(join(tmpdir(), 'nights-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const run = (seed: number, found: Partial<CellRun> = {}): CellRun => ({
  seed, runId: `r${seed}`, report: `runs/r${seed}/report.html`, log: `logs/r${seed}.log`, exitCode: 0, signal: null, valid: true,
  crashed: false, error: null, anomalies: {}, tolerated: {}, seconds: 30, ...found,
});
const leaking = (seed: number): CellRun => run(seed, { valid: false, exitCode: 1, anomalies: { 'leaked-node': 2 } });

/** A night as runCompare writes it, compared with `before` when given. */
function writeNight(id: string, cells: Cell[], before?: { id: string; cells: Cell[] }, version = 2): void {
  const document: CompareDocument = {
    version: 2, id, startedAt: `${id.slice(8, 18)}T${id.slice(19, 21)}:${id.slice(22, 24)}:00.000Z`, finishedAt: null, complete: true,
    command: 'npm run jepsen -- compare', recipes: [...new Set(cells.map((cell) => cell.recipe))],
    scenarios: [...new Set(cells.map((cell) => cell.scenario))].map((name) => ({ name, nemesis: [] })), workloads: ['try-lock'],
    runsPerCell: 1, seeds: [1], passThrough: [], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells),
    baseline: before === undefined ? null : { document: `../${before.id}/compare.json`, id: before.id, startedAt: 'then', version: 2, changes: changesSince(cells, before.cells) },
  };
  mkdirSync(join(directory, id), { recursive: true });
  const written: Record<string, unknown> = { ...document, version };
  if (version === 1) delete written['baseline'];
  writeFileSync(join(directory, id, 'compare.json'), JSON.stringify(written));
}

const NIGHTS = ['compare-2026-11-18T02-23-00-000Z', 'compare-2026-11-19T02-23-00-000Z', 'compare-2026-11-20T02-23-00-000Z', 'compare-2026-11-21T02-23-00-000Z'];

describe('the nights of the nightly', () => {
  it('keeps the newest nights\' files, indexes every night in nights.json and draws the trend: a row per night, a column per cell, verdicts linking to runs', async () => {
    const naive = (cellRun: CellRun): Cell => summarizeCell('node-naive', 'try-lock', 'lost-delete', [cellRun]);
    const safe = (cellRun: CellRun): Cell => summarizeCell('node-safe', 'try-lock', 'lost-delete', [cellRun]);
    const first = [naive(leaking(1)), safe(run(1))];
    const second = [naive(leaking(2)), safe(run(2, { valid: false, anomalies: { 'double-holder': 1 } }))];
    const third = [naive(run(3, { crashed: true, valid: null, report: null })), safe(run(3)), summarizeCell('kazoo', 'try-lock', 'none', [run(3)])];
    writeNight(NIGHTS[0]!, first, undefined, 1);
    writeNight(NIGHTS[1]!, first, undefined, 1);
    writeNight(NIGHTS[2]!, second, { id: NIGHTS[1]!, cells: first });
    // The newest night's compare.json is cut short (a crash while writing it): listed as unreadable, never a baseline.
    writeNight(NIGHTS[3]!, third, { id: NIGHTS[2]!, cells: second });
    writeFileSync(join(directory, NIGHTS[3]!, 'compare.json'), readFileSync(join(directory, NIGHTS[3]!, 'compare.json'), 'utf8').slice(0, 100));
    mkdirSync(join(directory, 'compare-not-a-night'));

    expect(await newestNight(directory)).toBe(join(directory, NIGHTS[2]!, 'compare.json'));
    const { index, removed } = await updateNights(directory, 3);
    expect(removed).toEqual([NIGHTS[0]]);
    expect(existsSync(join(directory, NIGHTS[0]!))).toBe(false);
    expect(existsSync(join(directory, 'compare-not-a-night'))).toBe(true);

    const stored = JSON.parse(readFileSync(join(directory, 'nights.json'), 'utf8')) as NightsIndex;
    expect(stored).toEqual(index);
    expect(stored.nights.map((night) => [night.id, night.kept, night.compare, night.baseline, night.changes, night.verdicts])).toEqual([
      [NIGHTS[2], true, `${NIGHTS[2]}/compare.json`, NIGHTS[1], 1, { invalid: 2 }],
      [NIGHTS[1], true, `${NIGHTS[1]}/compare.json`, null, null, { invalid: 1, valid: 1 }],
      // Its files are gone; its verdicts stay, without links.
      [NIGHTS[0], false, null, null, null, { invalid: 1, valid: 1 }],
    ]);
    expect(stored.nights[2]!.cells.map((cell) => [cell.recipe, cell.verdict, cell.runs])).toEqual([['node-naive', 'invalid', []], ['node-safe', 'valid', []]]);
    expect(stored.nights[0]!.cells[1]).toMatchObject({ recipe: 'node-safe', verdict: 'invalid', anomalies: { 'double-holder': 1 }, runs: [`${NIGHTS[2]}/runs/r2/report.html`], change: expect.stringMatching(/valid → invalid/) });
    expect(stored.unreadable).toEqual([{ id: NIGHTS[3], error: expect.stringMatching(/^not JSON/) }]);

    const page = readFileSync(join(directory, 'index.html'), 'utf8');
    const rows = [...page.matchAll(/<tr data-night="([^"]+)">([\s\S]*?)<\/tr>/g)];
    expect(rows.map((row) => row[1])).toEqual([NIGHTS[2], NIGHTS[1], NIGHTS[0]]);
    const cellsOf = (row: string): string[] => [...row.matchAll(/<td class="(trend[^"]*)"[^>]*>(.*?)<\/td>/g)].map((cell) => `${cell[1]}: ${cell[2]}`);
    expect(cellsOf(rows[0]![2]!)).toEqual([
      `trend trend-invalid: <a href="${NIGHTS[2]}/runs/r2/report.html">✗</a>`,
      `trend trend-invalid trend-changed: <a href="${NIGHTS[2]}/runs/r2/report.html">✗</a>`,
    ]);
    expect(cellsOf(rows[1]![2]!)).toEqual([
      `trend trend-invalid: <a href="${NIGHTS[1]}/runs/r1/report.html">✗</a>`,
      `trend trend-valid: <a href="${NIGHTS[1]}/runs/r1/report.html">✓</a>`,
    ]);
    expect(cellsOf(rows[2]![2]!)).toEqual(['trend trend-invalid: ✗', 'trend trend-valid: ✓']);
    expect(rows[2]![2]).toContain('<span title="its files were deleted; nights.json keeps its verdicts">2026-11-18 02:23</span>');

    // The next night: the forgotten night stays in the index, read back from nights.json alone.
    writeNight(NIGHTS[3]!, third, { id: NIGHTS[2]!, cells: second });
    const next = await updateNights(directory, 2);
    expect(next.removed).toEqual([NIGHTS[1]]);
    expect(next.index.nights.map((night) => [night.id, night.kept])).toEqual([[NIGHTS[3], true], [NIGHTS[2], true], [NIGHTS[1], false], [NIGHTS[0], false]]);
    expect(next.index.unreadable).toEqual([]);
    expect(next.index.nights[0]!.cells.map((cell) => cell.recipe)).toEqual(['node-naive', 'node-safe', 'kazoo']);
    expect(page).toContain('<th colspan="2">try-lock · lost-delete</th>');
    expect(page).toContain('title="node-safe · try-lock · lost-delete: invalid (1 double-holder)\nchanged: node-safe · try-lock · lost-delete: valid → invalid; new: double-holder ×1"');
    expect(page).toContain(`<li><a href="${NIGHTS[3]}/">${NIGHTS[3]}</a>: not JSON`);
  });

  it('draws a night of several runs per cell as several links, and a cell missing from a night as empty', async () => {
    const dir = join(directory, 'more');
    mkdirSync(dir);
    const id = 'compare-2026-12-01T02-23-00-000Z';
    const older = 'compare-2026-11-30T02-23-00-000Z';
    for (const [night, cells] of [[older, [summarizeCell('kazoo', 'mutex', 'none', [run(1)])]], [id, [summarizeCell('curator', 'mutex', 'none', [run(1), leaking(2), run(3, { crashed: true, valid: null })])]]] as const) {
      mkdirSync(join(dir, night));
      writeFileSync(join(dir, night, 'compare.json'), JSON.stringify({ version: 2, id: night, startedAt: 'now', finishedAt: null, complete: false, cells, baseline: null }));
    }
    await updateNights(dir, 30);
    const page = readFileSync(join(dir, 'index.html'), 'utf8');
    const newest = /<tr data-night="compare-2026-12-01[^"]*">([\s\S]*?)<\/tr>/.exec(page)![1]!;
    expect(newest).toContain(`<a href="${id}/runs/r1/report.html">✗</a><a href="${id}/runs/r2/report.html">2</a><a href="${id}/logs/r3.log">3</a>`);
    expect(newest).toContain('<td class="trend-absent" title="not in this night\'s matrix"></td>');
    expect(newest).toContain('<span class="problem">incomplete</span>');
  });
});

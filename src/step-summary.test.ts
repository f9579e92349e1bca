import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lexer, type Tokens } from 'marked';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../checker/types.ts';
import { checkRun } from './check.ts';
import { changesSince, describeDifferences, summarizeCell, type CellRun, type CompareDocument } from './compare-summary.ts';
import { writeFixtureRun } from './report/fixtures.ts';
import { appendStepSummary, compareStepSummary, markdownText, runStepSummary } from './step-summary.ts';

const directory = mkdtempSync(join(tmpdir(), 'step-summary-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let invalid: Results;
let unknown: Results;
beforeAll(async () => {
  invalid = JSON.parse(readFileSync(join(await writeFixtureRun(directory, 'invalid', { kind: 'invalid', operations: 400, durationS: 20 }), 'results.json'), 'utf8')) as Results;
  const run = await writeFixtureRun(directory, 'unknown', { kind: 'valid', operations: 400, durationS: 20 });
  writeFileSync(join(run, 'history.jsonl'), readFileSync(join(run, 'history.jsonl'), 'utf8').split('\n').filter((line) => !line.includes('"final":true')).join('\n'));
  unknown = await checkRun(run);
});

/** The tables as GitHub's Markdown (GFM) reads them: header cells and rows of cell texts. */
function tables(markdown: string): { header: string[]; rows: string[][] }[] {
  return lexer(markdown).filter((token): token is Tokens.Table => token.type === 'table')
    .map((table) => ({ header: table.header.map((cell) => cell.text), rows: table.rows.map((row) => row.map((cell) => cell.text)) }));
}

describe('a run', () => {
  it('is a verdict table with the anomaly counts, the first anomaly of each type and the report path', () => {
    const markdown = runStepSummary(invalid, '/results/run-1/report.html');
    expect(markdown.split('\n')[0]).toBe('### ❌ INVALID: node-naive · fenced-counter · pause-holder+lost-delete+kill (seed 7)');
    const [table] = tables(markdown);
    expect(table!.header).toEqual(['check', 'verdict', 'anomalies', 'tolerated']);
    expect(table!.rows).toEqual([
      ['mutex', '❌ invalid', `${invalid.checkers.mutex.anomalies.length} double-holder`, ''],
      ['leaks', '❌ invalid', '1 leaked-node', ''],
      ['liveness', '❌ invalid', '1 stuck-acquire', ''],
      ['fencing', '❌ invalid', expect.stringMatching(/^\d+ stale-write, \d+ lost-update$/), ''],
      ['leader', '✅ valid', '', ''],
      ['semaphore', '✅ valid', '', ''],
    ]);
    const listed = markdown.split('\n').filter((line) => line.startsWith('- **'));
    expect(listed.map((line) => /^- \*\*([a-z-]+)\*\*/.exec(line)![1])).toEqual(['double-holder', 'leaked-node', 'stuck-acquire', 'lost-update', 'stale-write']);
    expect(markdown).toContain('Report: `/results/run-1/report.html`');
  });

  it('says why a check is unknown', () => {
    const [table] = tables(runStepSummary(unknown, 'report.html'));
    expect(table!.rows.map((row) => row[1])).toEqual(['✅ valid', ...Array(3).fill('⚠️ unknown (the history has no final snapshot)'), '✅ valid', '✅ valid']);
  });

  it('keeps text from a run inside its table cell and out of the markup', () => {
    const hostile = 'a|b\nc <img src=x> **bold** `tick`';
    const escaped = markdownText(hostile);
    const [table] = tables(`| x | y |\n|---|---|\n| ${escaped} | z |\n`);
    expect(table!.rows).toEqual([[expect.stringContaining('a|b c'), 'z']]);
    const inline = lexer(escaped).flatMap((token) => ('tokens' in token ? token.tokens ?? [] : [])).map((token) => token.type);
    for (const markup of ['html', 'strong', 'codespan']) expect(inline).not.toContain(markup);
    // The same text unescaped is all of those: the check above can fail.
    const raw = lexer(hostile.replace('\n', ' ')).flatMap((token) => ('tokens' in token ? token.tokens ?? [] : [])).map((token) => token.type);
    expect(raw).toEqual(expect.arrayContaining(['html', 'strong', 'codespan']));
  });
});

describe('a comparison', () => {
  const run = (seed: number, found: Partial<CellRun> = {}): CellRun => ({
    seed, runId: `r${seed}`, report: `runs/r${seed}/report.html`, log: `logs/r${seed}.log`, exitCode: 0, signal: null, valid: true,
    crashed: false, error: null, anomalies: {}, tolerated: {}, seconds: 30, ...found,
  });

  it('has a table per workload, what changed since the baseline with new anomalies first, and every path', () => {
    const cells = [
      summarizeCell('node-naive', 'try-lock', 'lost-delete', [run(1, { valid: false, anomalies: { 'leaked-node': 3 } })]),
      summarizeCell('node-safe', 'try-lock', 'lost-delete', [run(1)]),
      summarizeCell('node-naive', 'mutex', 'lost-delete', [run(1, { crashed: true, valid: null, report: null })]),
      summarizeCell('node-safe', 'mutex', 'lost-delete', []),
    ];
    const before = [
      { ...cells[0]!, verdict: 'valid' as const, anomalies: {} },
      { ...cells[1]!, verdict: 'invalid' as const, anomalies: { 'double-holder': 1 } },
    ];
    const document: CompareDocument = {
      version: 2, id: 'compare-b', startedAt: 'now', finishedAt: 'later', complete: false, command: 'npm run jepsen -- compare',
      recipes: ['node-naive', 'node-safe'], scenarios: [{ name: 'lost-delete', nemesis: ['lost-delete'] }], workloads: ['try-lock', 'mutex'],
      runsPerCell: 1, seeds: [1], passThrough: [], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells),
      baseline: { document: '../compare-a/compare.json', id: 'compare-a', startedAt: 'before', version: 1, changes: changesSince(cells, before) },
    };
    const markdown = compareStepSummary(document, '/results/compare-b', ['/results/compare-b/index.html', '/results/junit.xml']);
    expect(markdown.split('\n')[0]).toBe('### zk-lock-jepsen compare: 2 recipes × 1 scenario × 2 workloads × 1 run: 1 invalid, 1 crashed, 1 valid, 1 not run cells (incomplete)');
    const changes = markdown.split('\n').filter((line) => line.startsWith('- ') && line.includes(' · '));
    expect(changes.slice(0, 2)).toEqual([
      '- 🆕 node-naive · try-lock · lost-delete: valid → invalid; new: leaked-node ×3',
      '- node-safe · try-lock · lost-delete: invalid → valid; gone: double-holder',
    ]);
    expect(markdown).toContain('**4 cells changed since compare-a**');
    expect(tables(markdown)).toEqual([
      { header: ['recipe', 'lost-delete'], rows: [['node-naive', '❌ invalid: 3 leaked-node'], ['node-safe', '✅ valid']] },
      { header: ['recipe', 'lost-delete'], rows: [['node-naive', '💥 crashed'], ['node-safe', '⏸️ not run']] },
    ]);
    expect(markdown).toContain('- `/results/junit.xml`');
    expect(markdown).toContain('node-naive · try-lock · lost-delete (seed 1): `/results/compare-b/runs/r1/report.html`');
    expect(markdown).toContain('node-naive · mutex · lost-delete (seed 1): `/results/compare-b/logs/r1.log`');
  });
});

describe('GITHUB_STEP_SUMMARY', () => {
  it('is appended to when set, as GitHub Actions expects of every step, and left alone when not', async () => {
    const file = join(directory, 'step-summary.md');
    writeFileSync(file, '# an earlier step\n');
    expect(await appendStepSummary('first', { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(await appendStepSummary('second', { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# an earlier step\nfirst\nsecond\n');
    expect(await appendStepSummary('third', {})).toBe(false);
    expect(await appendStepSummary('third', { GITHUB_STEP_SUMMARY: '' })).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('# an earlier step\nfirst\nsecond\n');
  });
});

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Results } from '../checker/types.ts';
import { renderComparePage } from './compare-page.ts';
import { anomalyCounts, describeDifferences, summarizeCell, type CellRun, type CompareDocument } from './compare-summary.ts';
import { parseScenarios } from './compare.ts';

const directory = mkdtempSync(join(tmpdir(), 'compare-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function jepsen(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

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

describe('npm run jepsen -- compare', () => {
  it('exits 254 with a clear message on bad arguments, before any run', async () => {
    const bad = [
      [],
      ['--recipes', 'node-safe,nope'],
      ['--recipes', 'node-safe', '--nemesis', 'kill+bogus'],
      ['--recipes', 'node-safe', '--workload', 'mutex,nope'],
      ['--recipes', 'node-safe', '--runs', '0'],
      ['--recipes', 'node-safe', '--recipe', 'kazoo'],
      ['--recipes', 'node-safe', '--time-limit', 'soon'],
      ['--recipes', 'node-safe', '--session-timeout', '100'],
      ['--recipes', 'node-safe', '--seed', '2147483647', '--runs', '2'],
    ];
    const answers = await Promise.all(bad.map((args) => jepsen('compare', ...args, '--results', directory)));
    for (const [index, answer] of answers.entries()) {
      expect(answer.status, bad[index]!.join(' ')).toBe(254);
      expect(answer.stderr).toMatch(/^(error|jepsen): /);
      expect(answer.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(directory)).toEqual([]);
  });

  it('runs a real matrix: every cell an ordinary run with its report, compare.json and index.html, exit 0 whatever the verdicts', async () => {
    const started = Date.now();
    const { status, stdout, stderr } = await jepsen('compare', '--recipes', 'node-naive,node-safe', '--nemesis', 'lost-delete',
      '--workload', 'try-lock', '--runs', '1', '--seed', '42', '--time-limit', '8', '--nemesis-interval', '2', '--backend', 'local',
      '--results', directory);
    const seconds = (Date.now() - started) / 1000;
    expect(status, stderr).toBe(0);
    const progress = stdout.split('\n').filter((line) => /^\[\d\/2\]/.test(line));
    expect(progress).toHaveLength(2);
    expect(progress[0]).toMatch(/^\[1\/2\] node-naive · try-lock · lost-delete · seed 42: INVALID \(.*leaked-node/);
    expect(progress[1]).toMatch(/^\[2\/2\] node-safe · try-lock · lost-delete · seed 42: VALID/);

    const dir = /^compare: \d+ runs .* → (.+)$/m.exec(stdout)![1]!;
    const document = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as CompareDocument;
    expect(document).toMatchObject({ version: 1, complete: true, seeds: [42], passThrough: ['--time-limit', '8', '--nemesis-interval', '2', '--backend', 'local'] });
    const [naive, safe] = document.cells;
    expect(naive).toMatchObject({ recipe: 'node-naive', verdict: 'invalid', tally: { invalid: 1 } });
    expect(naive!.anomalies['leaked-node']).toBeGreaterThan(0);
    expect(safe).toMatchObject({ recipe: 'node-safe', verdict: 'valid', anomalies: {} });

    const page = readFileSync(join(dir, 'index.html'), 'utf8');
    for (const cell of document.cells) {
      const { report, runId } = cell.runs[0]!;
      expect(existsSync(join(dir, report!))).toBe(true);
      expect(page).toContain(`href="runs/${runId}/report.html"`);
      // Each run is an ordinary run: its own config says what the matrix asked of it.
      expect(JSON.parse(readFileSync(join(dir, 'runs', runId!, 'config.json'), 'utf8'))).toMatchObject({ recipe: cell.recipe, seed: 42, timeLimitS: 8, nemesis: ['lost-delete'] });
    }
    expect(page).toMatch(/<span class="cell-invalid">invalid<\/span> 1\/1/);
    expect(page).toMatch(/<span class="cell-valid">valid<\/span> 1\/1/);
    expect(existsSync(join(dir, 'runs', 'index.html'))).toBe(true);
    console.log(`compare test: 2 runs in ${seconds.toFixed(0)} s`);
  }, 240_000);
});

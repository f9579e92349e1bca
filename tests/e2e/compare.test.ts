/**
 * A real compare matrix through the CLI: every cell an ordinary run with its report, compare.json and index.html,
 * exit 0 whatever the verdicts; JUnit, the step summary and the changes since a baseline (bad compare arguments are
 * src/cli.test.ts's).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDifferences, summarizeCell, type Cell, type CellRun, type CompareDocument } from '../../src/compare-summary.ts';
import { REPO } from './harness.ts';

const directory = mkdtempSync(join(tmpdir(), 'compare-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function jepsenWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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


/** A comparison as version 1 of the format wrote it (no baseline field). */
function versionOne(id: string, cells: Cell[]): Record<string, unknown> {
  return {
    version: 1, id, startedAt: '2026-11-20T02:23:00.000Z', finishedAt: '2026-11-20T03:40:00.000Z', complete: true, command: 'npm run jepsen -- compare',
    recipes: [...new Set(cells.map((cell) => cell.recipe))], scenarios: [{ name: 'lost-delete', nemesis: ['lost-delete'] }], workloads: ['try-lock'],
    runsPerCell: 1, seeds: [1], passThrough: [], runsIndex: 'runs/index.html', cells, differences: describeDifferences(cells),
  };
}

describe('npm run jepsen -- compare', () => {
  it('runs a real matrix: every cell an ordinary run with its report, compare.json and index.html, exit 0 whatever the verdicts; JUnit, the step summary and the changes since a baseline', async () => {
    // Yesterday, as version 1 wrote it: node-naive was valid, node-safe had a double holder.
    const baselinePath = join(directory, 'yesterday', 'compare.json');
    const yesterday = [
      summarizeCell('node-naive', 'try-lock', 'lost-delete', [run(41)]),
      summarizeCell('node-safe', 'try-lock', 'lost-delete', [run(41, { valid: false, anomalies: { 'double-holder': 1 } })]),
    ];
    mkdirSync(join(directory, 'yesterday'));
    writeFileSync(baselinePath, JSON.stringify(versionOne('compare-yesterday', yesterday)));
    const stepSummary = join(directory, 'step-summary.md');
    writeFileSync(stepSummary, '');
    const junit = join(directory, 'junit', 'compare.xml');
    const started = Date.now();
    const { status, stdout, stderr } = await jepsenWith({ GITHUB_STEP_SUMMARY: stepSummary }, 'compare', '--recipes', 'node-naive,node-safe', '--nemesis', 'lost-delete',
      '--workload', 'try-lock', '--runs', '1', '--seed', '42', '--time-limit', '8', '--nemesis-interval', '2', '--backend', 'local',
      '--results', directory, '--junit', junit, '--baseline', baselinePath);
    const seconds = (Date.now() - started) / 1000;
    expect(status, stderr).toBe(0);
    const progress = stdout.split('\n').filter((line) => /^\[\d\/2\]/.test(line));
    expect(progress).toHaveLength(2);
    expect(progress[0]).toMatch(/^\[1\/2\] node-naive · try-lock · lost-delete · seed 42: INVALID \(.*leaked-node/);
    expect(progress[1]).toMatch(/^\[2\/2\] node-safe · try-lock · lost-delete · seed 42: VALID/);

    const dir = /^compare: \d+ runs .* → (.+)$/m.exec(stdout)![1]!;
    const document = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as CompareDocument;
    expect(document).toMatchObject({ version: 2, complete: true, seeds: [42], passThrough: ['--time-limit', '8', '--nemesis-interval', '2', '--backend', 'local'] });
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

    // Since the baseline: node-naive's new leaks first, then node-safe's double holder gone; printed, stored, shown.
    expect(document.baseline).toMatchObject({ document: '../yesterday/compare.json', id: 'compare-yesterday', version: 1 });
    const changes = document.baseline!.changes;
    expect(changes.map((change) => [change.recipe, change.before?.verdict, change.after.verdict])).toEqual([['node-naive', 'valid', 'invalid'], ['node-safe', 'invalid', 'valid']]);
    expect(changes[0]!.newTypes).toContain('leaked-node');
    expect(changes[1]!.goneTypes).toEqual(['double-holder']);
    const printed = stdout.split('\n');
    const heading = printed.indexOf('compare: since compare-yesterday: 2 cells changed, new anomalies first');
    expect(heading, stdout).toBeGreaterThan(0);
    expect(printed.slice(heading + 1, heading + 3)).toEqual(changes.map((change) => `  ${change.text}`));
    expect(page).toContain('Changed since <a href="../yesterday/index.html">compare-yesterday</a>');

    // JUnit: a suite per cell, a case per check, the failures where the verdict is, reports that exist attached.
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) })
      .parse(readFileSync(junit, 'utf8')) as { testsuites: { tests: string; testsuite: { name: string; failures: string; errors: string; testcase: { name: string; failure?: { '#text': string }; 'system-out': string }[] }[] } };
    const [naiveSuite, safeSuite] = xml.testsuites.testsuite;
    // A case per check of the cell's run, as its results.json lists them.
    const checksOf = (cell: (typeof document.cells)[number]) => Object.keys((JSON.parse(readFileSync(join(dir, 'runs', cell.runs[0]!.runId!, 'results.json'), 'utf8')) as { checkers: object }).checkers);
    expect(naiveSuite!.testcase.map((testcase) => testcase.name)).toEqual(checksOf(naive!));
    expect(safeSuite!.testcase.map((testcase) => testcase.name)).toEqual(checksOf(safe!));
    expect(xml.testsuites.tests).toBe(String(checksOf(naive!).length + checksOf(safe!).length));
    expect(naiveSuite!.name).toBe('node-naive · try-lock · lost-delete');
    expect(naiveSuite!.testcase.find((testcase) => testcase.name === 'leaks')!.failure!['#text']).toMatch(/^leaked-node: /);
    expect(safeSuite).toMatchObject({ name: 'node-safe · try-lock · lost-delete', failures: '0', errors: '0' });
    for (const testcase of [...naiveSuite!.testcase, ...safeSuite!.testcase]) {
      const attached = /^\[\[ATTACHMENT\|(.+)\]\]$/m.exec(testcase['system-out'])![1]!;
      expect(existsSync(attached), attached).toBe(true);
    }
    expect(stdout).toContain(`compare: JUnit ${junit}`);

    // One summary for the matrix: the runs it started did not append their own.
    const summary = readFileSync(stepSummary, 'utf8');
    expect(summary.match(/^### /gm)).toEqual(['### ']);
    expect(summary).toMatch(/^### zk-lock-jepsen compare: 2 recipes × 1 scenario × 1 workload × 1 run: 1 invalid, 1 valid cells\n/);
    expect(summary).toContain('| node-naive | ❌ invalid: ');
    expect(summary).toContain('| node-safe | ✅ valid |');
    expect(summary).toContain('**2 cells changed since compare-yesterday**');
    expect(summary).toContain(`- \`${junit}\``);
    console.log(`compare test: 2 runs in ${seconds.toFixed(0)} s`);
  }, 240_000);
});

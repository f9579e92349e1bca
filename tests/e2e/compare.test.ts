/**
 * A real compare matrix through the CLI: every cell an ordinary run with its report, compare.json and index.html,
 * exit 0 whatever the verdicts (bad compare arguments are src/cli.test.ts's).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompareDocument } from '../../src/compare-summary.ts';
import { REPO } from './harness.ts';

const directory = mkdtempSync(join(tmpdir(), 'compare-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function jepsen(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('npm run jepsen -- compare', () => {
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

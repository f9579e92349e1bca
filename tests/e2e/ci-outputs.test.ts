/**
 * A run as CI sees it: `--junit FILE` and GITHUB_STEP_SUMMARY on one short real run (node-naive leaking its lock
 * node under lost-delete, local backend). The comparison's side is in tests/e2e/compare.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJepsen, type JepsenRun } from './harness.ts';

const RUN_BOUND_MS = 120_000;
const scratch = mkdtempSync(join(tmpdir(), 'ci-outputs-'));
const junit = join(scratch, 'reports', 'junit.xml');
const stepSummary = join(scratch, 'step-summary.md');
let run: JepsenRun;

beforeAll(async () => {
  writeFileSync(stepSummary, '## an earlier step\n');
  // The run inherits the environment, as a step's command does under GitHub Actions.
  process.env['GITHUB_STEP_SUMMARY'] = stepSummary;
  try {
    run = await runJepsen(['--recipe', 'node-naive', '--workload', 'try-lock', '--nemesis', 'lost-delete', '--time-limit', '6',
      '--nemesis-interval', '1', '--seed', '5', '--backend', 'local', '--junit', junit], RUN_BOUND_MS);
  } finally {
    delete process.env['GITHUB_STEP_SUMMARY'];
  }
}, RUN_BOUND_MS + 10_000);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (run !== undefined) rmSync(run.resultsDir, { recursive: true, force: true });
});

describe('a run with --junit under GitHub Actions', () => {
  it('exits with its verdict and writes JUnit XML: a testcase per check, the leak a failure, the report attached', () => {
    expect(run.outcome.code, run.outcome.stderr).toBe(1);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) })
      .parse(readFileSync(junit, 'utf8')) as { testsuites: { name: string; tests: string; failures: string; testsuite: { name: string; testcase: { name: string; failure?: { type: string; '#text': string }; 'system-out': string }[] }[] } };
    const checks = Object.keys(run.results.checkers);
    expect(xml.testsuites).toMatchObject({ name: run.config.runId, tests: String(checks.length) });
    const [suite] = xml.testsuites.testsuite;
    expect(suite!.name).toBe('node-naive · try-lock · lost-delete');
    const cases = Object.fromEntries(suite!.testcase.map((testcase) => [testcase.name, testcase]));
    expect(Object.keys(cases)).toEqual(checks);
    expect(checks.slice(0, 4)).toEqual(['mutex', 'leaks', 'liveness', 'fencing']);
    expect(cases['leaks']!.failure!.type).toBe('leaked-node');
    expect(cases['leaks']!.failure!['#text'].split('\n')).toHaveLength(run.results.checkers.leaks.anomalies.length);
    for (const [name, check] of Object.entries(run.results.checkers)) expect(cases[name]!.failure !== undefined, name).toBe(check.valid === false);
    const attached = /^\[\[ATTACHMENT\|(.+)\]\]$/m.exec(cases['leaks']!['system-out'])![1]!;
    expect(attached).toBe(join(run.runDir, 'report.html'));
    expect(existsSync(attached)).toBe(true);
  });

  it('appends its verdict table to the step summary, after what was there', () => {
    const summary = readFileSync(stepSummary, 'utf8');
    expect(summary.startsWith('## an earlier step\n### ❌ INVALID: node-naive · try-lock · lost-delete (seed 5)\n')).toBe(true);
    expect(summary).toMatch(/^\| leaks \| ❌ invalid \| \d+ leaked-node \|/m);
    expect(summary).toContain(`Report: \`${join(run.runDir, 'report.html')}\``);
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../checker/types.ts';
import { checkRun } from './check.ts';
import { summarizeCell, type CellRun } from './compare-summary.ts';
import { cellSuite, renderJUnit, runSuite, writeJUnit } from './junit.ts';
import { writeFixtureRun } from './report/fixtures.ts';

const directory = mkdtempSync(join(tmpdir(), 'junit-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const read = (path: string): Results => JSON.parse(readFileSync(path, 'utf8')) as Results;

/** Runs simulated and checked by the real checker (src/report/fixtures.ts), each in its own directory. */
const runs: Record<'valid' | 'invalid' | 'unknown' | 'tolerated', { dir: string; results: Results }> = {} as never;

beforeAll(async () => {
  for (const kind of ['valid', 'invalid'] as const) {
    const dir = await writeFixtureRun(directory, kind, { kind, operations: 400, durationS: 20 });
    runs[kind] = { dir, results: read(join(dir, 'results.json')) };
  }
  // Without its final snapshot, leaks, liveness and fencing cannot decide.
  const unknown = await writeFixtureRun(directory, 'unknown', { kind: 'valid', operations: 400, durationS: 20 });
  const history = readFileSync(join(unknown, 'history.jsonl'), 'utf8').split('\n').filter((line) => !line.includes('"final":true'));
  writeFileSync(join(unknown, 'history.jsonl'), history.join('\n'));
  runs.unknown = { dir: unknown, results: await checkRun(unknown) };
  // The invalid run's double holders, with fencing on: the checker lists them as tolerated.
  const tolerated = await writeFixtureRun(directory, 'tolerated', { kind: 'invalid', operations: 400, durationS: 20 });
  const fenced = readFileSync(join(tolerated, 'history.jsonl'), 'utf8').replace('"fencing":false', '"fencing":true');
  writeFileSync(join(tolerated, 'history.jsonl'), fenced);
  runs.tolerated = { dir: tolerated, results: await checkRun(tolerated) };
});

// The element names a JUnit reader walks; everything else is an attribute or text.
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name) });

interface ParsedCase {
  name: string; classname: string; time: string;
  failure?: { message: string; type: string; '#text'?: string };
  error?: { message: string; type: string; '#text'?: string };
  skipped?: { message: string };
  'system-out'?: string;
}
interface ParsedSuite {
  name: string; tests: string; failures: string; errors: string; skipped: string; time: string; timestamp?: string; hostname: string;
  properties: { property: { name: string; value: string }[] };
  testcase: ParsedCase[];
}
interface Parsed { testsuites: { name: string; tests: string; failures: string; errors: string; skipped: string; time: string; testsuite: ParsedSuite[] } }

function parse(xml: string): Parsed {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml) as Parsed;
}

const report = (kind: keyof typeof runs): string => join(runs[kind].dir, 'report.html');
const attachmentLines = (testcase: ParsedCase): string[] => (testcase['system-out'] ?? '').split('\n').filter((line) => line.includes('[[ATTACHMENT|'));

describe('JUnit of a run', () => {
  it('has a testsuite with a testcase per check, a failure per invalid check listing its anomalies, the report attached', async () => {
    const file = join(directory, 'nested', 'dir', 'junit.xml');
    await writeJUnit(file, 'the run', [runSuite(runs.invalid.results, report('invalid'))]);
    const { testsuites } = parse(readFileSync(file, 'utf8'));
    expect(testsuites).toMatchObject({ name: 'the run', tests: '6', failures: '4', errors: '0', skipped: '0', time: '23.000' });
    const [suite] = testsuites.testsuite;
    expect(suite).toMatchObject({ name: 'node-naive · fenced-counter · pause-holder+lost-delete+kill', tests: '6', failures: '4', errors: '0', time: '23.000' });
    // Ant's schema, which Jenkins follows: a timestamp without fraction or zone.
    expect(suite!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(suite!.hostname).not.toBe('');
    expect(Object.fromEntries(suite!.properties.property.map((property) => [property.name, property.value]))).toMatchObject({
      recipe: 'node-naive', workload: 'fenced-counter', scenario: 'pause-holder+lost-delete+kill', seed: '7', verdict: 'false', report: report('invalid'),
    });
    expect(suite!.testcase.map((testcase) => testcase.name)).toEqual(['mutex', 'leaks', 'liveness', 'fencing', 'leader', 'semaphore']);
    for (const testcase of suite!.testcase) {
      // Jenkins reads the part before the last dot as the package: the version's dots must not split the recipe.
      expect(testcase).toMatchObject({ classname: 'fenced-counter.pause-holder+lost-delete+kill.node-naive', time: '0.000' });
      const check = runs.invalid.results.checkers[testcase.name as keyof Results['checkers']];
      // The attachments convention: the path alone on its line, absolute.
      expect(attachmentLines(testcase)).toEqual([`[[ATTACHMENT|${report('invalid')}]]`]);
      if (check.valid === true) {
        // The checks this workload has nothing for (elections, semaphores) pass.
        expect(testcase.failure ?? testcase.error).toBeUndefined();
        continue;
      }
      const lines = testcase.failure!['#text']!.split('\n');
      expect(lines).toEqual(check.anomalies.map((anomaly) => `${anomaly.type}: ${anomaly.explanation}`));
      const types = [...new Set(check.anomalies.map((anomaly) => anomaly.type))];
      expect(testcase.failure!.type).toBe(types.join(','));
      expect(testcase.failure!.message).toMatch(new RegExp(`^${check.anomalies.length > 0 ? '\\d+ ' : ''}${types[0]}`));
      expect(testcase.error).toBeUndefined();
    }
  });

  it('passes valid checks, errs on unknown ones with the reason, and lists tolerated anomalies without failing', () => {
    const { testsuites } = parse(renderJUnit('runs', [
      runSuite(runs.valid.results, report('valid')),
      runSuite(runs.unknown.results, report('unknown')),
      runSuite(runs.tolerated.results, report('tolerated')),
    ]));
    const [valid, unknown, tolerated] = testsuites.testsuite;
    expect(valid).toMatchObject({ tests: '6', failures: '0', errors: '0' });
    for (const testcase of valid!.testcase) expect(testcase.failure ?? testcase.error).toBeUndefined();

    expect(unknown).toMatchObject({ tests: '6', failures: '0', errors: '3' });
    expect(unknown!.testcase.find((testcase) => testcase.name === 'mutex')!.error).toBeUndefined();
    for (const name of ['leaks', 'liveness', 'fencing']) {
      expect(unknown!.testcase.find((testcase) => testcase.name === name)!.error).toMatchObject({ type: 'unknown', message: 'the history has no final snapshot' });
    }

    expect(runs.tolerated.results.checkers.mutex).toMatchObject({ valid: true, tolerated: expect.any(String) });
    const mutex = tolerated!.testcase.find((testcase) => testcase.name === 'mutex')!;
    expect(mutex.failure).toBeUndefined();
    expect(mutex['system-out']).toContain(`tolerated (${runs.tolerated.results.checkers.mutex.tolerated}): ${runs.tolerated.results.checkers.mutex.anomalies.length} double-holder`);
    expect(testsuites).toMatchObject({ tests: '18', errors: '3', failures: tolerated!.failures });
  });

  it('keeps hostile text as text: markup, CDATA ends and characters XML cannot hold', () => {
    const hostile = structuredClone(runs.invalid.results);
    hostile.checkers.mutex.anomalies[0]!.explanation = 'a <script>alert(1)</script> ]]> & "quote" \u0001 end';
    const { testsuites } = parse(renderJUnit('hostile', [runSuite(hostile, '/tmp/a "b" <c>.html')]));
    const mutex = testsuites.testsuite[0]!.testcase[0]!;
    expect(mutex.failure!['#text']!.split('\n')[0]).toBe('double-holder: a <script>alert(1)</script> ]]> & "quote" \uFFFD end');
    expect(attachmentLines(mutex)).toEqual(['[[ATTACHMENT|/tmp/a "b" <c>.html]]']);
  });
});

describe('JUnit of a comparison', () => {
  const run = (seed: number, found: Partial<CellRun>): CellRun => ({
    seed, runId: null, report: null, log: `logs/seed${seed}.log`, exitCode: 0, signal: null, valid: true, crashed: false, error: null,
    anomalies: {}, tolerated: {}, seconds: 10, ...found,
  });

  it('has a testsuite per cell: every run\'s checks with its seed, a crashed run as an error, a cell never run skipped', async () => {
    const compareDir = join(directory, 'compare-x');
    const cells = [
      summarizeCell('kazoo@2.8.0', 'try-lock', 'lost-delete', [
        run(42, { runId: 'invalid', report: 'runs/invalid/report.html', valid: false, exitCode: 1, anomalies: { 'leaked-node': 1 } }),
        run(43, { crashed: true, valid: null, exitCode: 255, error: 'jepsen: the run crashed: boom' }),
      ]),
      summarizeCell('kazoo@2.11.0', 'try-lock', 'lost-delete', []),
      summarizeCell('curator', 'try-lock', 'lost-delete', [run(42, { crashed: true, valid: null, exitCode: 253, error: 'jepsen: not root' })]),
    ];
    const loaded: string[] = [];
    const suites = [];
    for (const cell of cells) {
      suites.push(await cellSuite(cell, compareDir, '2026-11-21T16:03:44.169Z', async (cellRun) => {
        loaded.push(cellRun.runId!);
        return runs.invalid.results;
      }));
    }
    const { testsuites } = parse(renderJUnit('compare-x', suites));
    expect(loaded).toEqual(['invalid']);
    const [kazoo28, kazoo211, curator] = testsuites.testsuite;
    // When its first run started, as that run's results say.
    const started = new Date(runs.invalid.results.run.startedAt!).toISOString().slice(0, 19);
    expect(kazoo28).toMatchObject({ name: 'kazoo@2.8.0 · try-lock · lost-delete', tests: '7', failures: '4', errors: '1', skipped: '0', time: '20.000', timestamp: started });
    expect(kazoo28!.testcase.map((testcase) => testcase.name)).toEqual(['mutex (seed 42)', 'leaks (seed 42)', 'liveness (seed 42)', 'fencing (seed 42)', 'leader (seed 42)', 'semaphore (seed 42)', 'run (seed 43)']);
    expect(kazoo28!.testcase.every((testcase) => testcase.classname === 'try-lock.lost-delete.kazoo@2_8_0')).toBe(true);
    expect(attachmentLines(kazoo28!.testcase[0]!)).toEqual([`[[ATTACHMENT|${join(compareDir, 'runs/invalid/report.html')}]]`]);
    const crashed = kazoo28!.testcase[6]!;
    expect(crashed.error).toMatchObject({ type: 'crashed', message: 'jepsen: the run crashed: boom' });
    expect(attachmentLines(crashed)).toEqual([`[[ATTACHMENT|${join(compareDir, 'logs/seed43.log')}]]`]);
    expect(kazoo211).toMatchObject({ tests: '1', failures: '0', errors: '0', skipped: '1' });
    expect(kazoo211!.timestamp).toBeUndefined();
    expect(kazoo211!.testcase[0]!.skipped!.message).toMatch(/^not run/);
    // No run of it has results: the comparison's start.
    expect(curator).toMatchObject({ tests: '1', errors: '1', timestamp: '2026-11-21T16:03:44' });
    expect(testsuites).toMatchObject({ tests: '9', failures: '4', errors: '2', skipped: '1', time: '30.000' });
  });
});

/**
 * JUnit XML for CI test reporters (Jenkins' JUnit plugin, GitHub's JUnit report actions, GitLab, Azure): one
 * testsuite per run, or per cell of a comparison; one testcase per check of each run; a failure for an invalid
 * check listing its anomalies, an error for an unknown one or a run that ended without a verdict. Each testcase
 * names the run's report as `[[ATTACHMENT|/absolute/path]]` on a line of its own in its system-out, the
 * convention of Jenkins' JUnit Attachments plugin that GitLab and Azure DevOps read too. docs/compare-format.md
 * (JUnit) describes the shape.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import type { Anomaly, CheckResult, Results } from '../checker/types.ts';
import { cellLabel, countsTowardVerdict, type Cell, type CellRun } from './compare-summary.ts';

export interface JUnitCase {
  name: string;
  classname: string;
  /** Seconds. */
  time: number;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  skipped?: { message: string };
  /** Lines of the testcase's system-out. */
  output: string[];
}

export interface JUnitSuite {
  name: string;
  /** When the run started, ISO 8601. */
  timestamp: string | null;
  /** Seconds. */
  time: number;
  properties: Record<string, string>;
  cases: JUnitCase[];
}

export const attachment = (path: string): string => `[[ATTACHMENT|${resolve(path)}]]`;

/**
 * Jenkins reads everything before a classname's last dot as its package: dots separate workload, scenario and
 * recipe, so the one in a version (kazoo@2.8.0) becomes an underscore.
 */
export const classnameOf = (recipe: string, workload: string, scenario: string): string => `${workload}.${scenario}.${recipe.replaceAll('.', '_')}`;

/** A run's scenario as a comparison names it: nemeses joined with +, or none. */
export const scenarioOf = (results: Results): string => (results.run.nemesis ?? '').split(',').filter(Boolean).join('+') || 'none';

const anomalyLine = (anomaly: Anomaly): string => `${anomaly.type}: ${anomaly.explanation}`;

/** A long run can find thousands: the first ones say what happened, results.json has them all. */
const LISTED_ANOMALIES = 100;

function anomalyLines(anomalies: readonly Anomaly[]): string[] {
  const lines = anomalies.slice(0, LISTED_ANOMALIES).map(anomalyLine);
  if (anomalies.length > LISTED_ANOMALIES) lines.push(`... and ${anomalies.length - LISTED_ANOMALIES} more in results.json`);
  return lines;
}

function counted(anomalies: readonly Anomaly[]): string {
  const counts = new Map<string, number>();
  for (const anomaly of anomalies) counts.set(anomaly.type, (counts.get(anomaly.type) ?? 0) + 1);
  return [...counts].map(([type, count]) => `${count} ${type}`).join(', ');
}

/** One testcase per check of a run; `suffix` tells apart the runs of a cell (" (seed 43)"). */
export function checkCases(results: Results, reportPath: string, classname: string, suffix = ''): JUnitCase[] {
  return Object.entries(results.checkers).map(([name, check]: [string, CheckResult<Anomaly>]) => {
    const counting = check.anomalies.filter((anomaly) => countsTowardVerdict(check, anomaly));
    const tolerated = check.anomalies.filter((anomaly) => !countsTowardVerdict(check, anomaly));
    const output = [attachment(reportPath)];
    if (tolerated.length > 0) output.push(`tolerated (${check.tolerated}): ${counted(tolerated)}`, ...anomalyLines(tolerated));
    if (check.valid === true && check.reason !== undefined) output.push(`not looked at: ${check.reason}`);
    const testcase: JUnitCase = { name: `${name}${suffix}`, classname, time: 0, output };
    if (check.valid === false) {
      testcase.failure = { message: counted(counting), type: [...new Set(counting.map((anomaly) => anomaly.type))].join(','), text: anomalyLines(counting).join('\n') };
    } else if (check.valid === 'unknown') {
      testcase.error = { message: check.reason ?? 'the check could not decide', type: 'unknown', text: check.reason ?? '' };
    }
    return testcase;
  });
}

/** Ant's schema has whole seconds and no time zone: UTC. */
const junitTimestamp = (iso: string | null): string | null => (iso === null || Number.isNaN(Date.parse(iso)) ? null : new Date(iso).toISOString().slice(0, 19));

export function runSuite(results: Results, reportPath: string): JUnitSuite {
  const recipe = results.run.recipe ?? '?';
  const workload = results.run.workload ?? '?';
  const scenario = scenarioOf(results);
  return {
    name: cellLabel({ recipe, workload, scenario }),
    timestamp: results.run.startedAt,
    time: results.stats.durationNs / 1e9,
    properties: {
      recipe, workload, scenario, seed: String(results.run.seed ?? ''), runId: results.run.runId ?? '',
      verdict: String(results.valid), report: resolve(reportPath),
    },
    cases: checkCases(results, reportPath, classnameOf(recipe, workload, scenario)),
  };
}

/**
 * A cell of a comparison: its runs' checks (seed in each name when the cell has several runs), a crashed run as
 * one error, a cell never run as one skipped testcase. `loadResults` gives a run's results.json.
 */
export async function cellSuite(cell: Cell, compareDir: string, startedAt: string, loadResults: (run: CellRun) => Promise<Results | undefined>): Promise<JUnitSuite> {
  const classname = classnameOf(cell.recipe, cell.workload, cell.scenario);
  const cases: JUnitCase[] = [];
  let firstStarted: string | null = null;
  for (const run of cell.runs) {
    const suffix = cell.runs.length > 1 ? ` (seed ${run.seed})` : '';
    const results = run.crashed || run.report === null ? undefined : await loadResults(run);
    if (results === undefined) {
      cases.push({
        name: `run${suffix}`, classname, time: run.seconds, output: [attachment(resolve(compareDir, run.log))],
        error: { message: run.error ?? 'the run ended without a verdict', type: 'crashed', text: `exit code ${run.exitCode ?? run.signal}` },
      });
    } else {
      firstStarted ??= results.run.startedAt;
      cases.push(...checkCases(results, resolve(compareDir, run.report!), classname, suffix));
    }
  }
  if (cell.runs.length === 0) cases.push({ name: 'run', classname, time: 0, output: [], skipped: { message: 'not run: the comparison stopped before this cell' } });
  return {
    name: cellLabel(cell),
    // When its first run started; the comparison's start for a cell whose runs all crashed.
    timestamp: cell.runs.length === 0 ? null : firstStarted ?? startedAt,
    time: cell.runs.reduce((sum, run) => sum + run.seconds, 0),
    properties: { recipe: cell.recipe, workload: cell.workload, scenario: cell.scenario, verdict: cell.verdict, seeds: cell.runs.map((run) => run.seed).join(',') },
    cases,
  };
}

const seconds = (value: number): string => value.toFixed(3);

function tally(cases: readonly JUnitCase[]): { tests: number; failures: number; errors: number; skipped: number } {
  return {
    tests: cases.length,
    failures: cases.filter((testcase) => testcase.failure !== undefined).length,
    errors: cases.filter((testcase) => testcase.error !== undefined).length,
    skipped: cases.filter((testcase) => testcase.skipped !== undefined).length,
  };
}

function counts(element: XMLBuilder, cases: readonly JUnitCase[]): void {
  for (const [name, value] of Object.entries(tally(cases))) element.att(name, String(value));
}

/** The document: <testsuites> around the suites, totals on both levels. */
export function renderJUnit(name: string, suites: readonly JUnitSuite[]): string {
  // Strings come from histories (a custom worker's lock names, error texts): characters XML cannot hold are replaced.
  const root = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' }).ele('testsuites').att('name', name);
  counts(root, suites.flatMap((suite) => suite.cases));
  root.att('time', seconds(suites.reduce((sum, suite) => sum + suite.time, 0)));
  const host = hostname();
  for (const [index, suite] of suites.entries()) {
    const element = root.ele('testsuite').att({ name: suite.name, id: String(index), hostname: host });
    counts(element, suite.cases);
    element.att('time', seconds(suite.time));
    const timestamp = junitTimestamp(suite.timestamp);
    if (timestamp !== null) element.att('timestamp', timestamp);
    const properties = element.ele('properties');
    for (const [key, value] of Object.entries(suite.properties)) properties.ele('property').att({ name: key, value });
    for (const testcase of suite.cases) {
      const entry = element.ele('testcase').att({ name: testcase.name, classname: testcase.classname, time: seconds(testcase.time) });
      if (testcase.failure !== undefined) entry.ele('failure').att({ message: testcase.failure.message, type: testcase.failure.type }).txt(testcase.failure.text);
      if (testcase.error !== undefined) entry.ele('error').att({ message: testcase.error.message, type: testcase.error.type }).txt(testcase.error.text);
      if (testcase.skipped !== undefined) entry.ele('skipped').att('message', testcase.skipped.message);
      if (testcase.output.length > 0) entry.ele('system-out').txt(`\n${testcase.output.join('\n')}\n`);
    }
  }
  return root.end({ prettyPrint: true });
}

export async function writeJUnit(file: string, name: string, suites: readonly JUnitSuite[]): Promise<void> {
  await mkdir(dirname(resolve(file)), { recursive: true });
  await writeFile(file, renderJUnit(name, suites));
}

/**
 * The Markdown a run or a comparison appends to $GITHUB_STEP_SUMMARY when that is set (GitHub Actions shows it on
 * the job's page): the verdicts as a table, the anomaly counts, what changed since the baseline, the report paths.
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Results, Validity } from '../checker/types.ts';
import { cellLabel, countsTowardVerdict, plural, typesFound, type AnomalyCounts, type Cell, type CellVerdict, type CompareDocument } from './compare-summary.ts';
import { scenarioOf } from './junit.ts';

const MARK: Record<CellVerdict, string> = { valid: '✅', invalid: '❌', unknown: '⚠️', crashed: '💥', 'not run': '⏸️' };

const verdictOf = (valid: Validity): CellVerdict => (valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown');

/** Text in a table cell or a line: no pipe ends the cell, no newline the row, no markup of its own. */
export function markdownText(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/[\\`*_[\]<>|#]/g, (character) => `\\${character}`);
}

const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

const countList = (counts: AnomalyCounts): string => typesFound(counts).map((type) => `${counts[type]} ${type}`).join(', ');

export function runStepSummary(results: Results, reportPath: string): string {
  const verdict = verdictOf(results.valid);
  const { run } = results;
  const title = cellLabel({ recipe: run.recipe ?? '?', workload: run.workload ?? '?', scenario: scenarioOf(results) });
  const lines = [
    `### ${MARK[verdict]} ${verdict.toUpperCase()}: ${markdownText(title)}${run.seed === null ? '' : ` (seed ${run.seed})`}`,
    '',
    '| check | verdict | anomalies | tolerated |',
    '|---|---|---|---|',
  ];
  for (const [name, check] of Object.entries(results.checkers)) {
    const counting: AnomalyCounts = {};
    const tolerated: AnomalyCounts = {};
    for (const anomaly of check.anomalies) {
      const counts = countsTowardVerdict(check, anomaly) ? counting : tolerated;
      counts[anomaly.type] = (counts[anomaly.type] ?? 0) + 1;
    }
    const state = verdictOf(check.valid);
    const note = check.valid === 'unknown' && check.reason !== undefined ? ` (${markdownText(check.reason)})` : '';
    lines.push(`| ${name} | ${MARK[state]} ${state}${note} | ${countList(counting)} | ${countList(tolerated)} |`);
  }
  // The first anomaly of each type says what happened; the report has them all.
  const anomalies = Object.values(results.checkers).flatMap((check) => check.anomalies.filter((anomaly) => countsTowardVerdict(check, anomaly)));
  const firsts = anomalies.filter((anomaly, index) => anomalies.findIndex((other) => other.type === anomaly.type) === index);
  if (firsts.length > 0) lines.push('');
  for (const anomaly of firsts) lines.push(`- **${anomaly.type}**: ${markdownText(anomaly.explanation)}`);
  if (anomalies.length > firsts.length) lines.push(`- … and ${anomalies.length - firsts.length} more in the report`);
  lines.push('', `Report: ${code(resolve(reportPath))}`, '');
  return lines.join('\n');
}

function cellText(cell: Cell | undefined): string {
  if (cell === undefined) return `${MARK['not run']} not run`;
  const found = countList(cell.anomalies);
  return `${MARK[cell.verdict]} ${cell.verdict}${found === '' ? '' : `: ${found}`}`;
}

/** `files`: what the comparison wrote beside its runs (index.html, compare.json, the JUnit file), absolute. */
export function compareStepSummary(document: CompareDocument, dir: string, files: string[]): string {
  const total = (verdict: CellVerdict): number => document.cells.filter((cell) => cell.verdict === verdict).length;
  const tallies = (['invalid', 'unknown', 'crashed', 'valid', 'not run'] as const).filter((verdict) => total(verdict) > 0).map((verdict) => `${total(verdict)} ${verdict}`);
  const lines = [
    `### zk-lock-jepsen compare: ${[plural(document.recipes.length, 'recipe'), plural(document.scenarios.length, 'scenario'), plural(document.workloads.length, 'workload'), plural(document.runsPerCell, 'run')].join(' × ')}: ${tallies.join(', ')} cells${document.complete ? '' : ' (incomplete)'}`,
    '',
  ];
  if (document.baseline !== null) {
    const { changes, id } = document.baseline;
    lines.push(changes.length === 0 ? `No cell changed since ${markdownText(id)}.` : `**${plural(changes.length, 'cell')} changed since ${markdownText(id)}**, new anomalies first:`, '');
    for (const change of changes) lines.push(`- ${change.newTypes.length > 0 ? '🆕 ' : ''}${markdownText(change.text)}`);
    if (changes.length > 0) lines.push('');
  }
  for (const workload of document.workloads) {
    const find = (recipe: string, scenario: string): Cell | undefined =>
      document.cells.find((cell) => cell.recipe === recipe && cell.workload === workload && cell.scenario === scenario);
    lines.push(`#### ${workload}`, '', `| recipe | ${document.scenarios.map((scenario) => markdownText(scenario.name)).join(' | ')} |`,
      `|---|${document.scenarios.map(() => '---|').join('')}`);
    for (const recipe of document.recipes) {
      lines.push(`| ${markdownText(recipe)} | ${document.scenarios.map((scenario) => cellText(find(recipe, scenario.name))).join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push(...files.map((file) => `- ${code(file)}`), '');
  const reports = document.cells.flatMap((cell) => cell.runs.map((run) => `- ${markdownText(cellLabel(cell))} (seed ${run.seed}): ${code(resolve(dir, run.crashed || run.report === null ? run.log : run.report))}`));
  if (reports.length > 0) lines.push('<details><summary>Every run’s report</summary>', '', ...reports, '', '</details>', '');
  return lines.join('\n');
}

/** Appends to the file GitHub Actions names in GITHUB_STEP_SUMMARY; does nothing without it. Returns whether it wrote. */
export async function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const file = env['GITHUB_STEP_SUMMARY'];
  if (file === undefined || file === '') return false;
  await appendFile(file, `${markdown}\n`);
  return true;
}

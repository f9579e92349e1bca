/** A few lines a person reads at the end of a run or a re-check: the verdict, each check, the first anomalies. */
import type { Anomaly, Results, Validity } from './types.ts';

const SHOWN_ANOMALIES = 5;

function word(valid: Validity): string {
  return valid === true ? 'VALID' : valid === false ? 'INVALID' : 'UNKNOWN';
}

export function formatSummary(results: Results): string {
  const { run } = results;
  const title = [run.recipe ?? '?', run.workload ?? '?', run.nemesis || 'no nemesis'].join(' / ');
  const lines = [`${word(results.valid)}  ${title}${run.seed === null ? '' : `  (seed ${run.seed})`}`];
  for (const [name, part] of Object.entries(results.checkers)) {
    const counts = new Map<string, number>();
    for (const anomaly of part.anomalies) counts.set(anomaly.type, (counts.get(anomaly.type) ?? 0) + 1);
    const found = [...counts].map(([type, count]) => `${count} ${type}`).join(', ');
    const notes = [found, part.tolerated === undefined ? '' : `tolerated: ${part.tolerated}`, part.reason ?? ''].filter((note) => note !== '');
    lines.push(`  ${name.padEnd(9)} ${word(part.valid).padEnd(8)} ${notes.join('; ')}`.trimEnd());
  }
  const anomalies = Object.values(results.checkers).flatMap((part): Anomaly[] => part.anomalies);
  for (const anomaly of anomalies.slice(0, SHOWN_ANOMALIES)) lines.push(`  - ${anomaly.type}: ${anomaly.explanation}`);
  if (anomalies.length > SHOWN_ANOMALIES) lines.push(`  ... and ${anomalies.length - SHOWN_ANOMALIES} more in results.json`);
  return lines.join('\n');
}

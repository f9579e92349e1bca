/** writeIndex: results/index.html, every run newest first, with its verdict and anomaly counts. */
import { createReadStream } from 'node:fs';
import { access, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { AnomalyType, Results } from '../../checker/types.ts';
import { html, trusted } from './html.ts';
import { readJson } from './report.ts';
import { verdictWord } from './render.ts';
import { STYLE } from './style.ts';

const ANOMALY_TYPES: AnomalyType[] = ['double-holder', 'leaked-node', 'stuck-acquire', 'stale-write', 'lost-update', 'double-leader', 'no-leader', 'over-permits'];

interface RunRow {
  id: string;
  startedAt: string;
  recipe: string;
  workload: string;
  nemeses: string;
  verdict: string;
  counts: Partial<Record<AnomalyType, number>>;
  hasReport: boolean;
}

/** The history's first line (its header) names the wall-clock start; reading one line is enough. */
async function headerStart(historyPath: string): Promise<string | undefined> {
  const lines = createInterface({ input: createReadStream(historyPath), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const header = JSON.parse(line) as { kind?: string; startedAt?: unknown };
      return header.kind === 'header' && typeof header.startedAt === 'string' ? header.startedAt : undefined;
    }
  } catch {
    return undefined;
  } finally {
    lines.close();
  }
  return undefined;
}

async function runRow(runDir: string, id: string): Promise<RunRow | undefined> {
  const config = (await readJson(join(runDir, 'config.json'))).value as Record<string, unknown> | undefined;
  const results = (await readJson(join(runDir, 'results.json'))).value as Results | undefined;
  const historyPath = join(runDir, 'history.jsonl');
  const hasHistory = await access(historyPath).then(() => true, () => false);
  if (config === undefined && results === undefined && !hasHistory) return undefined;
  const startedAt = (hasHistory ? await headerStart(historyPath) : undefined) ?? results?.run?.startedAt
    ?? (await stat(runDir)).mtime.toISOString();
  const counts: RunRow['counts'] = {};
  for (const check of Object.values(results?.checkers ?? {})) {
    for (const anomaly of check.anomalies ?? []) counts[anomaly.type] = (counts[anomaly.type] ?? 0) + 1;
  }
  const nemesis = config?.['nemesis'] ?? results?.run?.nemesis;
  return {
    id,
    startedAt,
    recipe: String(config?.['recipe'] ?? results?.run?.recipe ?? '—'),
    workload: String(config?.['workload'] ?? results?.run?.workload ?? '—'),
    nemeses: Array.isArray(nemesis) ? nemesis.join(', ') || 'none' : String(nemesis ?? '—'),
    verdict: results === undefined ? 'not checked' : verdictWord(results.valid),
    counts,
    hasReport: await access(join(runDir, 'report.html')).then(() => true, () => false),
  };
}

export async function writeIndex(resultsDir: string): Promise<string> {
  const dir = resolve(resultsDir);
  const entries = await readdir(dir, { withFileTypes: true });
  // `latest` is a link to a run already listed under its own name.
  const runs = (await Promise.all(entries
    .filter((entry) => entry.isDirectory() && entry.name !== 'latest')
    .map((entry) => runRow(join(dir, entry.name), entry.name))))
    .filter((row): row is RunRow => row !== undefined)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
  const link = (run: RunRow) => encodeURIComponent(run.id);
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>zk-lock-jepsen runs</title><style>${trusted(STYLE)}</style></head>
<body><main>
<h1>zk-lock-jepsen: ${runs.length} run${runs.length === 1 ? '' : 's'}, newest first</h1>
<table data-runs><thead><tr><th>started</th><th>run</th><th>recipe</th><th>workload</th><th>nemeses</th><th>verdict</th>
  ${ANOMALY_TYPES.map((type) => html`<th>${type.replace('-', ' ')}s</th>`)}</tr></thead><tbody>
${runs.map((run) => html`<tr>
  <td>${run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</td>
  <td>${run.hasReport ? html`<a href="${link(run)}/report.html">${run.id}</a>` : html`${run.id} <a href="${link(run)}/">(files)</a>`}</td>
  <td>${run.recipe}</td><td>${run.workload}</td><td>${run.nemeses}</td>
  <td class="cell-${run.verdict === 'not checked' ? 'unknown' : run.verdict}">${run.verdict}</td>
  ${ANOMALY_TYPES.map((type) => html`<td class="${(run.counts[type] ?? 0) > 0 ? 'cell-invalid' : ''}">${run.counts[type] ?? 0}</td>`)}
</tr>`)}
</tbody></table>
</main></body></html>
`;
  const indexPath = join(dir, 'index.html');
  await writeFile(indexPath, page.text);
  return indexPath;
}

/**
 * compare-<time>/index.html: what changed since the baseline, recipes × scenarios per workload (each cell linking
 * to its runs), and what differs between versions.
 */
import { html, trusted, type Html } from './report/html.ts';
import { STYLE } from './report/style.ts';
import { ANOMALY_TYPES, type AnomalyCounts, type Cell, type CellChange, type CellRun, type CompareDocument } from './compare-summary.ts';

/** Relative links: each path segment encoded, so a recipe like `kazoo@2.8.0` or a scenario like `kill+pause` stays one file. */
export const href = (path: string): string => path.split('/').map((segment) => (segment === '..' ? segment : encodeURIComponent(segment))).join('/');

/** Pages drawn from compare.json: its cell verdict colours and the mark of a cell that changed. */
export const COMPARE_STYLE = `
.changed { background: #fff8e1; } .change-mark { color: var(--unknown); font-weight: 700; }
`;

const VERDICT_CLASS: Record<Cell['verdict'], string> = {
  valid: 'cell-valid', invalid: 'cell-invalid', unknown: 'cell-unknown', crashed: 'cell-unknown', 'not run': 'cell-unknown',
};

function countList(counts: AnomalyCounts, runsWith?: AnomalyCounts): Html[] {
  return ANOMALY_TYPES.filter((type) => counts[type] !== undefined).map((type) =>
    html`<div>${type.replace('-', ' ')} ×${counts[type]}${runsWith === undefined ? '' : ` (${runsWith[type]} run${runsWith[type] === 1 ? '' : 's'})`}</div>`);
}

function runLink(run: CellRun, index: number): Html {
  const label = `run ${index + 1} (seed ${run.seed})`;
  if (run.report !== null && !run.crashed) return html`<a href="${href(run.report)}">${label}</a>`;
  return html`<a href="${href(run.log)}" title="${run.error ?? ''}">${label}: crashed</a>`;
}

function changeMark(change: CellChange | undefined): Html | string {
  return change === undefined ? '' : html` <span class="change-mark" title="${change.text}">changed</span>`;
}

function cellHtml(cell: Cell | undefined, change: CellChange | undefined): Html {
  if (cell === undefined || cell.runs.length === 0) return html`<td${change === undefined ? '' : trusted(' class="changed"')}><span class="cell-unknown">not run</span>${changeMark(change)}</td>`;
  const { tally } = cell;
  const sharing = { valid: tally.valid, invalid: tally.invalid, unknown: tally.unknown + tally.crashed, crashed: tally.crashed, 'not run': 0 }[cell.verdict];
  return html`<td${change === undefined ? '' : trusted(' class="changed"')}>
  <div><span class="${VERDICT_CLASS[cell.verdict]}">${cell.verdict}</span> ${sharing}/${cell.runs.length}${tally.crashed > 0 && cell.verdict !== 'crashed' ? `, ${tally.crashed} crashed` : ''}${changeMark(change)}</div>
  ${countList(cell.anomalies, cell.anomalyRuns)}
  ${Object.keys(cell.tolerated).length > 0 ? html`<div class="caption">tolerated: ${countList(cell.tolerated)}</div>` : ''}
  <div class="links">${cell.runs.map(runLink)}</div>
</td>`;
}

function matrix(document: CompareDocument, workload: CompareDocument['workloads'][number]): Html {
  const at = (recipe: string, scenario: string) => <T extends { recipe: string; workload: string; scenario: string }>(item: T): boolean =>
    item.recipe === recipe && item.workload === workload && item.scenario === scenario;
  const changes = document.baseline?.changes ?? [];
  return html`<h2>Workload ${workload}</h2>
<table data-matrix="${workload}"><thead><tr><th>recipe</th>${document.scenarios.map((scenario) => html`<th>${scenario.name}</th>`)}</tr></thead><tbody>
${document.recipes.map((recipe) => html`<tr><th>${recipe}</th>${document.scenarios.map((scenario) =>
    cellHtml(document.cells.find(at(recipe, scenario.name)), changes.find(at(recipe, scenario.name))))}</tr>
`)}</tbody></table>`;
}

function baselineSection(document: CompareDocument): Html | string {
  const { baseline } = document;
  if (baseline === null) return '';
  const page = baseline.document.replace(/compare\.json$/, 'index.html');
  return html`<h2>Changed since <a href="${href(page)}">${baseline.id}</a></h2>
${baseline.changes.length === 0
    ? html`<p data-changes>No cell changed: every cell has the verdict and the kinds of anomaly it had in ${baseline.id} (started ${baseline.startedAt}).</p>`
    : html`<ul data-changes>${baseline.changes.map((change) => html`<li>${change.newTypes.length > 0 ? html`<span class="tag">new anomaly</span> ` : ''}${change.text}</li>`)}</ul>
<p class="caption">Cells whose verdict or kinds of anomaly differ from the same cell (recipe, workload, scenario) in ${baseline.id}, started ${baseline.startedAt}; new anomalies first.</p>`}`;
}

export function renderComparePage(document: CompareDocument): string {
  const differing = document.differences.filter((difference) => difference.differs);
  const same = document.differences.filter((difference) => !difference.differs);
  const cellCount = document.recipes.length * document.scenarios.length * document.workloads.length;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>zk-lock-jepsen compare ${document.id}</title><style>${trusted(STYLE + COMPARE_STYLE)}</style></head>
<body><main>
<h1>zk-lock-jepsen: ${document.recipes.length} recipe${document.recipes.length === 1 ? '' : 's'} × ${document.scenarios.length} scenario${document.scenarios.length === 1 ? '' : 's'} × ${document.runsPerCell} run${document.runsPerCell === 1 ? '' : 's'}${document.complete ? '' : html` <span class="problem">(incomplete)</span>`}</h1>
<dl class="facts">
  <dt>started</dt><dd>${document.startedAt}</dd>
  <dt>finished</dt><dd>${document.finishedAt ?? 'still running'}</dd>
  <dt>cells</dt><dd>${cellCount} (${document.workloads.join(', ')})</dd>
  <dt>seeds</dt><dd>${document.seeds.join(', ')} (the same in every cell)</dd>
  <dt>flags of every run</dt><dd><code>${document.passThrough.join(' ') || '(defaults)'}</code></dd>
</dl>
<div class="command"><code>${document.command}</code></div>
<div class="links"><a href="compare.json">compare.json</a><a href="${href(document.runsIndex)}">every run</a></div>
${baselineSection(document)}
<h2>What differs between versions</h2>
${document.differences.length === 0
    ? html`<p class="caption">No recipe family appears in two versions here; name@version recipes of one family are compared cell by cell.</p>`
    : html`${differing.length === 0 ? html`<p>Every version found the same kinds of anomaly in every cell.</p>` : html`<ul data-differences>${differing.map((difference) => html`<li>${difference.text}</li>`)}</ul>`}
${same.length === 0 ? '' : html`<details${differing.length === 0 ? ' open' : ''}><summary>the same in every version (${same.length})</summary><ul data-same>${same.map((difference) => html`<li>${difference.text}</li>`)}</ul></details>`}`}
${document.workloads.map((workload) => matrix(document, workload))}
<p class="caption">A cell's verdict: invalid if any run found an anomaly that counts, else unknown if any run was unknown or crashed. Counts are anomalies summed over the cell's runs, with how many runs found them; tolerated anomalies are listed but do not count (docs/results-format.md).</p>
</main></body></html>
`.text;
}

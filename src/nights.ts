/**
 * The nightly's index of nights (scripts/nightly.sh): every compare-<time>/ under one directory is a night.
 * `updateNights` rewrites nights.json (docs/compare-format.md, Nights) and index.html, the trend page: a row per
 * night, newest first, a column per cell (recipe · workload · scenario), each a coloured verdict linking to the
 * cell's runs, marked when it changed since the night before. Nights beyond `keep` are deleted, oldest first.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCompareDocument, cellLabel, typesFound, type Cell, type CellVerdict, type CompareDocument } from './compare-summary.ts';
import { COMPARE_STYLE, href } from './compare-page.ts';
import { html, trusted, type Html } from './report/html.ts';
import { STYLE } from './report/style.ts';

export const NIGHTS_VERSION = 1;

/** compare-2026-11-21T16-03-44-169Z: the name runCompare gives; nothing else in the directory is a night. */
const NIGHT_NAME = /^compare-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

export interface Night {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  complete: boolean;
  /** Paths relative to nights.json. */
  compare: string;
  page: string;
  /** Cells per verdict. */
  verdicts: Partial<Record<CellVerdict, number>>;
  /** The night it was compared with (its id) and how many cells changed since; null without a baseline. */
  baseline: string | null;
  changes: number | null;
}

export interface NightsIndex {
  version: typeof NIGHTS_VERSION;
  updatedAt: string;
  /** Newest first. */
  nights: Night[];
  /** compare-* directories whose compare.json could not be read, with why. */
  unreadable: { id: string; error: string }[];
}

export interface LoadedNight {
  id: string;
  document: CompareDocument;
}

/** The nights' directory names, newest first (the names are UTC timestamps). */
async function nightIds(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory() && NIGHT_NAME.test(entry.name)).map((entry) => entry.name).sort().reverse();
}

/** Every night under `dir`, newest first, and those whose compare.json cannot be read. */
export async function loadNights(dir: string): Promise<{ nights: LoadedNight[]; unreadable: NightsIndex['unreadable'] }> {
  const ids = await nightIds(dir);
  const nights: LoadedNight[] = [];
  const unreadable: NightsIndex['unreadable'] = [];
  for (const id of ids) {
    try {
      nights.push({ id, document: parseCompareDocument(await readFile(join(dir, id, 'compare.json'), 'utf8')).document });
    } catch (error) {
      unreadable.push({ id, error: (error as Error).message });
    }
  }
  return { nights, unreadable };
}

function nightEntry({ id, document }: LoadedNight): Night {
  const verdicts: Night['verdicts'] = {};
  for (const cell of document.cells) verdicts[cell.verdict] = (verdicts[cell.verdict] ?? 0) + 1;
  return {
    id,
    startedAt: document.startedAt,
    finishedAt: document.finishedAt,
    complete: document.complete,
    compare: `${id}/compare.json`,
    page: `${id}/index.html`,
    verdicts,
    baseline: document.baseline?.id ?? null,
    changes: document.baseline?.changes.length ?? null,
  };
}

const cellKey = (cell: { recipe: string; workload: string; scenario: string }): string => JSON.stringify([cell.workload, cell.scenario, cell.recipe]);

/** Columns: every cell any night has, in the newest night's order, then the cells only older nights have. */
function columns(nights: readonly LoadedNight[]): { recipe: string; workload: string; scenario: string }[] {
  const seen = new Map<string, { recipe: string; workload: string; scenario: string }>();
  for (const { document } of nights) {
    for (const { recipe, workload, scenario } of document.cells) {
      const key = cellKey({ recipe, workload, scenario });
      if (!seen.has(key)) seen.set(key, { recipe, workload, scenario });
    }
  }
  return [...seen.values()];
}

const SYMBOL: Record<CellVerdict, string> = { valid: '✓', invalid: '✗', unknown: '?', crashed: '!', 'not run': '·' };

function trendCell(night: LoadedNight, column: { recipe: string; workload: string; scenario: string }): Html {
  const cell: Cell | undefined = night.document.cells.find((candidate) => cellKey(candidate) === cellKey(column));
  if (cell === undefined) return html`<td class="trend-absent" title="not in this night's matrix"></td>`;
  const change = night.document.baseline?.changes.find((candidate) => cellKey(candidate) === cellKey(column));
  const found = typesFound(cell.anomalies).map((type) => `${cell.anomalies[type]} ${type}`).join(', ');
  const title = [`${cellLabel(cell)}: ${cell.verdict}${found === '' ? '' : ` (${found})`}`, change === undefined ? '' : `changed: ${change.text}`].filter(Boolean).join('\n');
  const links = cell.runs.map((run, index) => {
    const target = `${night.id}/${run.crashed || run.report === null ? run.log : run.report}`;
    return html`<a href="${href(target)}">${index === 0 ? SYMBOL[cell.verdict] : index + 1}</a>`;
  });
  return html`<td class="trend trend-${cell.verdict.replace(' ', '-')}${change === undefined ? '' : ' trend-changed'}" title="${title}">${links.length === 0 ? SYMBOL[cell.verdict] : links}</td>`;
}

/** Consecutive columns of one workload and scenario share a header cell. */
function headerGroups(cells: readonly { workload: string; scenario: string }[]): { label: string; span: number }[] {
  const groups: { label: string; span: number }[] = [];
  for (const cell of cells) {
    const label = `${cell.workload} · ${cell.scenario}`;
    if (groups.at(-1)?.label === label) groups.at(-1)!.span += 1;
    else groups.push({ label, span: 1 });
  }
  return groups;
}

const TREND_STYLE = `
table.trend-table td.trend { text-align: center; padding: 2px 6px; font-weight: 700; }
table.trend-table td.trend a { color: inherit; text-decoration: none; margin: 0 2px; }
.trend-valid { background: #e8f5e9; color: var(--valid); } .trend-invalid { background: #ffebee; color: var(--invalid); }
.trend-unknown, .trend-crashed, .trend-not-run { background: #fff3e0; color: var(--unknown); } .trend-absent { background: #f5f5f5; }
td.trend-changed { outline: 3px solid var(--unknown); outline-offset: -3px; }
table.trend-table thead th.recipe { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-weight: normal; }
`;

export function renderTrendPage(nights: readonly LoadedNight[], unreadable: NightsIndex['unreadable']): string {
  const cells = columns(nights);
  const groups = headerGroups(cells);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>zk-lock-jepsen nightly</title><style>${trusted(STYLE + COMPARE_STYLE + TREND_STYLE)}</style></head>
<body><main>
<h1>zk-lock-jepsen nightly: ${nights.length} night${nights.length === 1 ? '' : 's'}</h1>
<p class="caption">A row per night, newest first; a column per cell. ${SYMBOL.valid} valid, ${SYMBOL.invalid} invalid, ${SYMBOL.unknown} unknown, ${SYMBOL.crashed} crashed, ${SYMBOL['not run']} not run; each links to the cell's run (more runs: 2, 3, ...). An outlined cell changed since the night before (its verdict or kinds of anomaly); hover for the anomalies.</p>
<div class="links"><a href="nights.json">nights.json</a>${nights[0] === undefined ? '' : html`<a href="${href(nights[0].id)}/index.html">the newest night</a>`}</div>
${nights.length === 0 ? html`<p>No night yet.</p>` : html`<div class="chart"><table class="trend-table" data-trend>
<thead><tr><th rowspan="2">night</th><th rowspan="2">changed</th>${groups.map((group) => html`<th colspan="${group.span}">${group.label}</th>`)}</tr>
<tr>${cells.map((cell) => html`<th class="recipe">${cell.recipe}</th>`)}</tr></thead>
<tbody>
${nights.map((night) => html`<tr data-night="${night.id}"><th><a href="${href(night.id)}/index.html">${night.document.startedAt.slice(0, 16).replace('T', ' ')}</a>${night.document.complete ? '' : html` <span class="problem">incomplete</span>`}</th>
<td>${night.document.baseline === null ? '' : night.document.baseline.changes.length}</td>${cells.map((cell) => trendCell(night, cell))}</tr>
`)}</tbody></table></div>`}
${unreadable.length === 0 ? '' : html`<h2>Unreadable nights</h2><ul>${unreadable.map((night) => html`<li><a href="${href(night.id)}/">${night.id}</a>: ${night.error}</li>`)}</ul>`}
</main></body></html>
`.text;
}

/** The newest night's compare.json, the baseline of the next; null when there is none. */
export async function newestNight(dir: string): Promise<string | null> {
  const { nights } = await loadNights(dir);
  return nights[0] === undefined ? null : join(dir, nights[0].id, 'compare.json');
}

/** Deletes the nights beyond the newest `keep` (readable or not), then writes nights.json and index.html. */
export async function updateNights(dir: string, keep: number): Promise<{ index: NightsIndex; removed: string[] }> {
  const removed = (await nightIds(dir)).slice(keep);
  for (const id of removed) await rm(join(dir, id), { recursive: true, force: true });
  const { nights, unreadable } = await loadNights(dir);
  const index: NightsIndex = { version: NIGHTS_VERSION, updatedAt: new Date().toISOString(), nights: nights.map(nightEntry), unreadable };
  await writeFile(join(dir, 'nights.json'), `${JSON.stringify(index, null, 2)}\n`);
  await writeFile(join(dir, 'index.html'), renderTrendPage(nights, unreadable));
  return { index, removed };
}

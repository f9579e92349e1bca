/**
 * The nightly's index of nights (scripts/nightly.sh): every compare-<time>/ under one directory is a night.
 * `updateNights` deletes the files of nights beyond the newest `keep`, and rewrites nights.json
 * (docs/compare-format.md, Nights index), which keeps every night's verdicts after its files are gone, and
 * index.html, the trend page: a row per night, newest first, a column per cell (recipe · workload · scenario), each
 * a coloured verdict linking to the cell's runs while they are kept, marked when it changed since the night before.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseCompareDocument, cellLabel, plural, typesFound, type AnomalyCounts, type CellVerdict, type CompareDocument } from './compare-summary.ts';
import { COMPARE_STYLE, href } from './compare-page.ts';
import { html, trusted, type Html } from './report/html.ts';
import { STYLE } from './report/style.ts';

export const NIGHTS_VERSION = 1;

/** compare-2026-11-21T16-03-44-169Z: the name runCompare gives; nothing else in the directory is a night. */
const NIGHT_NAME = /^compare-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

export interface NightCell {
  recipe: string;
  workload: string;
  scenario: string;
  verdict: CellVerdict;
  anomalies: AnomalyCounts;
  /** Each run's report (a crashed run's log), relative to nights.json; empty once the night's files are deleted. */
  runs: string[];
  /** What changed since the night before (CellChange.text), or null. */
  change: string | null;
}

export interface Night {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  complete: boolean;
  /** Whether the night's files are still here; its compare.json and index.html (relative paths) while they are. */
  kept: boolean;
  compare: string | null;
  page: string | null;
  /** Cells per verdict. */
  verdicts: Partial<Record<CellVerdict, number>>;
  /** The night it was compared with (its id) and how many cells changed since; null without a baseline. */
  baseline: string | null;
  changes: number | null;
  cells: NightCell[];
}

export interface NightsIndex {
  version: typeof NIGHTS_VERSION;
  updatedAt: string;
  /** Newest first. */
  nights: Night[];
  /** compare-* directories whose compare.json could not be read, with why. */
  unreadable: { id: string; error: string }[];
}

/** The nights' directory names, newest first (the names are UTC timestamps). */
async function nightIds(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory() && NIGHT_NAME.test(entry.name)).map((entry) => entry.name).sort().reverse();
}

function nightEntry(id: string, document: CompareDocument): Night {
  const verdicts: Night['verdicts'] = {};
  for (const cell of document.cells) verdicts[cell.verdict] = (verdicts[cell.verdict] ?? 0) + 1;
  const sameCell = (a: { recipe: string; workload: string; scenario: string }, b: typeof a): boolean =>
    a.recipe === b.recipe && a.workload === b.workload && a.scenario === b.scenario;
  return {
    id,
    startedAt: document.startedAt,
    finishedAt: document.finishedAt,
    complete: document.complete,
    kept: true,
    compare: `${id}/compare.json`,
    page: `${id}/index.html`,
    verdicts,
    baseline: document.baseline?.id ?? null,
    changes: document.baseline?.changes.length ?? null,
    cells: document.cells.map((cell) => ({
      recipe: cell.recipe,
      workload: cell.workload,
      scenario: cell.scenario,
      verdict: cell.verdict,
      anomalies: cell.anomalies,
      runs: cell.runs.map((run) => `${id}/${run.crashed || run.report === null ? run.log : run.report}`),
      change: document.baseline?.changes.find((change) => sameCell(change, cell))?.text ?? null,
    })),
  };
}

/** A night whose files were deleted: what the index knew of it, without links. */
const forgotten = (night: Night): Night => ({ ...night, kept: false, compare: null, page: null, cells: night.cells.map((cell) => ({ ...cell, runs: [] })) });

/** The previous nights.json's nights; none when it is missing or unreadable (the trend then starts again from the files). */
async function indexedNights(dir: string): Promise<Night[]> {
  const stored = z.object({ version: z.literal(NIGHTS_VERSION), nights: z.array(z.looseObject({ id: z.string(), cells: z.array(z.looseObject({ runs: z.array(z.string()) })) })) });
  try {
    return stored.parse(JSON.parse(await readFile(join(dir, 'nights.json'), 'utf8'))).nights as unknown as Night[];
  } catch {
    return [];
  }
}

/** The newest readable night's compare.json, the baseline of the next; null when there is none. */
export async function newestNight(dir: string): Promise<string | null> {
  for (const id of await nightIds(dir)) {
    const path = join(dir, id, 'compare.json');
    try {
      parseCompareDocument(await readFile(path, 'utf8'));
      return path;
    } catch {
      // Cut short or not a compare.json: the night before it is the baseline.
    }
  }
  return null;
}

/** Deletes the files of the nights beyond the newest `keep` (readable or not), then writes nights.json and index.html. */
export async function updateNights(dir: string, keep: number): Promise<{ index: NightsIndex; removed: string[] }> {
  const nights = new Map((await indexedNights(dir)).map((night) => [night.id, forgotten(night)]));
  const ids = await nightIds(dir);
  const unreadable: NightsIndex['unreadable'] = [];
  for (const id of ids) {
    try {
      nights.set(id, nightEntry(id, parseCompareDocument(await readFile(join(dir, id, 'compare.json'), 'utf8')).document));
    } catch (error) {
      unreadable.push({ id, error: (error as Error).message });
    }
  }
  // Indexed first, so a night whose files go keeps its row.
  const removed = ids.slice(keep);
  for (const id of removed) {
    await rm(join(dir, id), { recursive: true, force: true });
    const night = nights.get(id);
    if (night !== undefined) nights.set(id, forgotten(night));
  }
  const index: NightsIndex = {
    version: NIGHTS_VERSION,
    updatedAt: new Date().toISOString(),
    nights: [...nights.values()].sort((a, b) => b.id.localeCompare(a.id)),
    unreadable: unreadable.filter((night) => !removed.includes(night.id)),
  };
  await writeFile(join(dir, 'nights.json'), `${JSON.stringify(index, null, 2)}\n`);
  await writeFile(join(dir, 'index.html'), renderTrendPage(index));
  return { index, removed };
}

const cellKey = (cell: { recipe: string; workload: string; scenario: string }): string => JSON.stringify([cell.workload, cell.scenario, cell.recipe]);

/** Columns: every cell any night has, in the newest night's order, then the cells only older nights have. */
function columns(nights: readonly Night[]): { recipe: string; workload: string; scenario: string }[] {
  const seen = new Map<string, { recipe: string; workload: string; scenario: string }>();
  for (const night of nights) {
    for (const { recipe, workload, scenario } of night.cells) {
      const key = cellKey({ recipe, workload, scenario });
      if (!seen.has(key)) seen.set(key, { recipe, workload, scenario });
    }
  }
  return [...seen.values()];
}

const SYMBOL: Record<CellVerdict, string> = { valid: '✓', invalid: '✗', unknown: '?', crashed: '!', 'not run': '·' };

function trendCell(night: Night, column: { recipe: string; workload: string; scenario: string }): Html {
  const cell = night.cells.find((candidate) => cellKey(candidate) === cellKey(column));
  if (cell === undefined) return html`<td class="trend-absent" title="not in this night's matrix"></td>`;
  const found = typesFound(cell.anomalies).map((type) => `${cell.anomalies[type]} ${type}`).join(', ');
  const title = [`${cellLabel(cell)}: ${cell.verdict}${found === '' ? '' : ` (${found})`}`, cell.change === null ? '' : `changed: ${cell.change}`].filter(Boolean).join('\n');
  const links = cell.runs.map((target, index) => html`<a href="${href(target)}">${index === 0 ? SYMBOL[cell.verdict] : index + 1}</a>`);
  return html`<td class="trend trend-${cell.verdict.replace(' ', '-')}${cell.change === null ? '' : ' trend-changed'}" title="${title}">${links.length === 0 ? SYMBOL[cell.verdict] : links}</td>`;
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

function nightLabel(night: Night): Html {
  const when = night.startedAt.slice(0, 16).replace('T', ' ');
  return html`${night.page === null ? html`<span title="its files were deleted; nights.json keeps its verdicts">${when}</span>` : html`<a href="${href(night.page)}">${when}</a>`}${night.complete ? '' : html` <span class="problem">incomplete</span>`}`;
}

export function renderTrendPage(index: NightsIndex): string {
  const { nights, unreadable } = index;
  const cells = columns(nights);
  const groups = headerGroups(cells);
  const newest = nights.find((night) => night.page !== null);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>zk-lock-jepsen nightly</title><style>${trusted(STYLE + COMPARE_STYLE + TREND_STYLE)}</style></head>
<body><main>
<h1>zk-lock-jepsen nightly: ${plural(nights.length, 'night')}</h1>
<p class="caption">A row per night, newest first; a column per cell. ${SYMBOL.valid} valid, ${SYMBOL.invalid} invalid, ${SYMBOL.unknown} unknown, ${SYMBOL.crashed} crashed, ${SYMBOL['not run']} not run; each links to the cell's run (more runs: 2, 3, ...) while the night's files are kept. An outlined cell changed since the night before (its verdict or kinds of anomaly); hover for the anomalies.</p>
<div class="links"><a href="nights.json">nights.json</a>${newest === undefined ? '' : html`<a href="${href(newest.page!)}">the newest night</a>`}</div>
${nights.length === 0 ? html`<p>No night yet.</p>` : html`<div class="chart"><table class="trend-table" data-trend>
<thead><tr><th rowspan="2">night</th><th rowspan="2">changed</th>${groups.map((group) => html`<th colspan="${group.span}">${group.label}</th>`)}</tr>
<tr>${cells.map((cell) => html`<th class="recipe">${cell.recipe}</th>`)}</tr></thead>
<tbody>
${nights.map((night) => html`<tr data-night="${night.id}"><th>${nightLabel(night)}</th>
<td>${night.changes ?? ''}</td>${cells.map((cell) => trendCell(night, cell))}</tr>
`)}</tbody></table></div>`}
${unreadable.length === 0 ? '' : html`<h2>Unreadable nights</h2><ul>${unreadable.map((night) => html`<li><a href="${href(night.id)}/">${night.id}</a>: ${night.error}</li>`)}</ul>`}
</main></body></html>
`.text;
}

/**
 * compare.json (docs/compare-format.md): the types, and the pure part of a comparison — what one run found, what
 * a cell's runs add up to, what differs between versions of one recipe family, and what changed since a baseline.
 */
import { z } from 'zod';
import type { Anomaly, AnomalyType, CheckResult, Results, Validity } from '../checker/types.ts';
import type { NemesisName } from '../nemesis/index.ts';
import type { WorkloadName } from '../workloads/workloads.ts';

/** 2 added `baseline`; documents of version 1 read as having none. */
export const COMPARE_VERSION = 2;
export const READABLE_COMPARE_VERSIONS: readonly number[] = [1, 2];

export const ANOMALY_TYPES: readonly AnomalyType[] = ['double-holder', 'leaked-node', 'stuck-acquire', 'stale-write', 'lost-update', 'double-leader', 'no-leader', 'over-permits'];

/** One column of the matrix: the nemeses of one run (none, one, or several joined with `+`). */
export interface Scenario {
  name: string;
  nemesis: NemesisName[];
}

export type AnomalyCounts = Partial<Record<AnomalyType, number>>;

/** One run of a cell: an ordinary run in runs/, or the reason there is none. Paths are relative to compare.json. */
export interface CellRun {
  seed: number;
  runId: string | null;
  report: string | null;
  log: string;
  exitCode: number | null;
  signal: string | null;
  /** The checker's verdict; null when the run crashed before one was written. */
  valid: Validity | null;
  crashed: boolean;
  /** Crashed runs: the last line the run printed. */
  error: string | null;
  /** Anomalies that count towards the verdict, by type. */
  anomalies: AnomalyCounts;
  /** Anomalies the checker lists but does not count (docs/results-format.md, verdict rules), by type. */
  tolerated: AnomalyCounts;
  seconds: number;
}

export type CellVerdict = 'valid' | 'invalid' | 'unknown' | 'crashed' | 'not run';

export interface Cell {
  recipe: string;
  workload: WorkloadName;
  scenario: string;
  /** invalid if any run is; else unknown if any run is unknown or crashed; crashed if all crashed. */
  verdict: CellVerdict;
  tally: { valid: number; invalid: number; unknown: number; crashed: number };
  /** Counted anomalies summed over the runs. */
  anomalies: AnomalyCounts;
  /** In how many runs each counted anomaly type appeared. */
  anomalyRuns: AnomalyCounts;
  tolerated: AnomalyCounts;
  runs: CellRun[];
}

/** One cell compared across the versions of one recipe family (kazoo@2.8.0, kazoo@2.11.0, ...). */
export interface Difference {
  family: string;
  workload: WorkloadName;
  scenario: string;
  /** Whether the versions found different kinds of anomaly (or ended differently). */
  differs: boolean;
  text: string;
}

/** A cell as a baseline knew it, and as it is now. */
export interface CellState {
  verdict: CellVerdict;
  anomalies: AnomalyCounts;
}

/** A cell whose verdict or kinds of anomaly differ from the baseline's same cell (recipe, workload, scenario). */
export interface CellChange {
  recipe: string;
  workload: WorkloadName;
  scenario: string;
  /** null: the baseline's matrix had no such cell. */
  before: CellState | null;
  after: CellState;
  /** Anomaly types found now and not in the baseline; found in the baseline and not now. */
  newTypes: AnomalyType[];
  goneTypes: AnomalyType[];
  text: string;
}

export interface Baseline {
  /** The baseline's compare.json, relative to this one. */
  document: string;
  id: string;
  startedAt: string;
  /** The baseline's format version. */
  version: number;
  /** New anomalies first, then the rest, each in matrix order. */
  changes: CellChange[];
}

export interface CompareDocument {
  version: typeof COMPARE_VERSION;
  id: string;
  startedAt: string;
  /** null while the matrix is still running (the document is rewritten after every run). */
  finishedAt: string | null;
  /** Every cell has all its runs. */
  complete: boolean;
  command: string;
  recipes: string[];
  scenarios: Scenario[];
  workloads: WorkloadName[];
  runsPerCell: number;
  /** Run i of every cell uses seeds[i], so every recipe meets the same random schedule. */
  seeds: number[];
  /** Flags given unchanged to every run. */
  passThrough: string[];
  /** Index of every run (written by the runs themselves). */
  runsIndex: string;
  cells: Cell[];
  differences: Difference[];
  /** What changed since the comparison given with --baseline; null without one. */
  baseline: Baseline | null;
}

function add(counts: AnomalyCounts, type: AnomalyType, amount = 1): void {
  counts[type] = (counts[type] ?? 0) + amount;
}

/** The checker's own rule (docs/results-format.md): a tolerated check counts no anomaly, except a lasting leak. */
export function countsTowardVerdict(check: CheckResult<Anomaly>, anomaly: Anomaly): boolean {
  return check.tolerated === undefined || (anomaly.type === 'leaked-node' && anomaly.seen.final);
}

/** Counted and tolerated anomalies of one run. */
export function anomalyCounts(results: Results): { anomalies: AnomalyCounts; tolerated: AnomalyCounts } {
  const anomalies: AnomalyCounts = {};
  const tolerated: AnomalyCounts = {};
  for (const check of Object.values(results.checkers)) {
    for (const anomaly of check.anomalies) add(countsTowardVerdict(check, anomaly) ? anomalies : tolerated, anomaly.type);
  }
  return { anomalies, tolerated };
}

export function summarizeCell(recipe: string, workload: WorkloadName, scenario: string, runs: CellRun[]): Cell {
  const tally = { valid: 0, invalid: 0, unknown: 0, crashed: 0 };
  const anomalies: AnomalyCounts = {};
  const anomalyRuns: AnomalyCounts = {};
  const tolerated: AnomalyCounts = {};
  for (const run of runs) {
    if (run.crashed) tally.crashed++;
    else if (run.valid === true) tally.valid++;
    else if (run.valid === false) tally.invalid++;
    else tally.unknown++;
    for (const type of ANOMALY_TYPES) {
      if (run.anomalies[type] !== undefined) {
        add(anomalies, type, run.anomalies[type]);
        add(anomalyRuns, type);
      }
      if (run.tolerated[type] !== undefined) add(tolerated, type, run.tolerated[type]);
    }
  }
  const verdict: CellVerdict = runs.length === 0 ? 'not run'
    : tally.invalid > 0 ? 'invalid'
    : tally.crashed === runs.length ? 'crashed'
    : tally.unknown + tally.crashed > 0 ? 'unknown'
    : 'valid';
  return { recipe, workload, scenario, verdict, tally, anomalies, anomalyRuns, tolerated, runs };
}

/** `kazoo@2.8.0` → family `kazoo`; a recipe without a version is its own family's unversioned member. */
export const familyOf = (recipe: string): string => recipe.split('@')[0]!;

const VERBS: Record<AnomalyType, string> = {
  'double-holder': 'has double holders',
  'leaked-node': 'leaks',
  'stuck-acquire': 'gets stuck',
  'stale-write': 'accepts stale writes',
  'lost-update': 'loses updates',
  'double-leader': 'has double leaders',
  'no-leader': 'goes without a leader',
  'over-permits': 'lets too many in',
};

function foundTypes(cell: Cell): AnomalyType[] {
  return ANOMALY_TYPES.filter((type) => (cell.anomalyRuns[type] ?? 0) > 0);
}

/** What a cell without anomalies amounts to, e.g. "no anomaly (3/3 valid)" or "crashed (2/2)". */
function withoutAnomaly(cell: Cell): string {
  const { tally } = cell;
  const total = cell.runs.length;
  if (total === 0) return 'not run';
  if (tally.crashed === total) return `crashed (${total}/${total})`;
  const others = [tally.unknown > 0 ? `${tally.unknown} unknown` : '', tally.crashed > 0 ? `${tally.crashed} crashed` : ''].filter(Boolean);
  return `no anomaly (${tally.valid}/${total} valid${others.length > 0 ? `, ${others.join(', ')}` : ''})`;
}

/**
 * For every workload × scenario, the versions of each family side by side, oldest first:
 * "kazoo@2.8.0 leaks (3/3 runs); kazoo@2.11.0 leaks too (3/3)". Families with a single version are not compared.
 */
export function describeDifferences(cells: Cell[]): Difference[] {
  const groups = new Map<string, Cell[]>();
  for (const cell of cells) {
    const key = JSON.stringify([familyOf(cell.recipe), cell.workload, cell.scenario]);
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  const differences: Difference[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const versions = [...group].sort((a, b) => a.recipe.localeCompare(b.recipe, 'en', { numeric: true }));
    const first = versions[0]!;
    const signature = (cell: Cell): string => foundTypes(cell).length > 0 ? foundTypes(cell).join() : withoutAnomaly(cell).replace(/ \(.*/, '');
    const parts = versions.map((cell, index) => {
      const types = foundTypes(cell);
      if (types.length === 0) return `${cell.recipe}: ${withoutAnomaly(cell)}`;
      const same = index > 0 && signature(cell) === signature(first);
      const phrases = types.map((type, position) => {
        const too = same && position === types.length - 1 ? ' too' : '';
        const unit = index === 0 && position === 0 ? ' runs' : '';
        return `${VERBS[type]}${too} (${cell.anomalyRuns[type]}/${cell.runs.length}${unit})`;
      });
      return `${cell.recipe} ${phrases.join(' and ')}`;
    });
    differences.push({
      family: familyOf(first.recipe),
      workload: first.workload,
      scenario: first.scenario,
      differs: versions.some((cell) => signature(cell) !== signature(first)),
      text: `${first.scenario} (${first.workload}): ${parts.join('; ')}`,
    });
  }
  // What changed between versions first: that is what a comparison is for.
  return differences.sort((a, b) => Number(b.differs) - Number(a.differs));
}

/** Types with a count, in the order of ANOMALY_TYPES; types this version does not know (a newer baseline's) last. */
export function typesFound(counts: AnomalyCounts): AnomalyType[] {
  const rank = (type: string): number => (ANOMALY_TYPES.includes(type as AnomalyType) ? ANOMALY_TYPES.indexOf(type as AnomalyType) : ANOMALY_TYPES.length);
  return (Object.keys(counts) as AnomalyType[]).filter((type) => (counts[type] ?? 0) > 0).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

export const cellLabel = (cell: { recipe: string; workload: string; scenario: string }): string => `${cell.recipe} · ${cell.workload} · ${cell.scenario}`;

const countedTypes = (types: AnomalyType[], counts: AnomalyCounts): string => types.map((type) => `${type} ×${counts[type]}`).join(', ');

function changeText(change: Omit<CellChange, 'text'>): string {
  const { before, after } = change;
  const verdicts = before === null ? `not in the baseline, ${after.verdict}`
    : before.verdict === after.verdict ? `${after.verdict} as before` : `${before.verdict} → ${after.verdict}`;
  const parts = [verdicts];
  if (change.newTypes.length > 0) parts.push(`new: ${countedTypes(change.newTypes, after.anomalies)}`);
  if (change.goneTypes.length > 0) parts.push(`gone: ${change.goneTypes.join(', ')}`);
  return `${cellLabel(change)}: ${parts.join('; ')}`;
}

/** The cells of this matrix whose verdict or kinds of anomaly differ from the baseline's; new anomalies first. */
export function changesSince(cells: Cell[], baselineCells: readonly (CellState & { recipe: string; workload: string; scenario: string })[]): CellChange[] {
  const key = (cell: { recipe: string; workload: string; scenario: string }): string => JSON.stringify([cell.recipe, cell.workload, cell.scenario]);
  const baseline = new Map(baselineCells.map((cell) => [key(cell), cell]));
  const changes: CellChange[] = [];
  for (const cell of cells) {
    const old = baseline.get(key(cell));
    const before = old === undefined ? null : { verdict: old.verdict, anomalies: old.anomalies };
    const now = typesFound(cell.anomalies);
    const then = before === null ? [] : typesFound(before.anomalies);
    const newTypes = now.filter((type) => !then.includes(type));
    const goneTypes = then.filter((type) => !now.includes(type));
    if (before !== null && before.verdict === cell.verdict && newTypes.length === 0 && goneTypes.length === 0) continue;
    const change = { recipe: cell.recipe, workload: cell.workload, scenario: cell.scenario, before, after: { verdict: cell.verdict, anomalies: cell.anomalies }, newTypes, goneTypes };
    changes.push({ ...change, text: changeText(change) });
  }
  // Stable: matrix order within each group.
  return changes.sort((a, b) => Number(b.newTypes.length > 0) - Number(a.newTypes.length > 0));
}

const counts = z.record(z.string(), z.number());
/** What a reader of an older or newer compare.json relies on; everything else passes through as written. */
const storedDocument = z.looseObject({
  version: z.number(),
  id: z.string(),
  startedAt: z.string(),
  cells: z.array(z.looseObject({
    recipe: z.string(),
    workload: z.string(),
    scenario: z.string(),
    verdict: z.enum(['valid', 'invalid', 'unknown', 'crashed', 'not run']),
    anomalies: counts,
    runs: z.array(z.looseObject({ seed: z.number(), report: z.string().nullable(), log: z.string(), crashed: z.boolean() })),
  })),
});

/**
 * A compare.json of any version this suite reads, as the current shape (a version 1 document has no baseline);
 * `version` is the one it was written with. Throws an Error with a one-line message otherwise.
 */
export function parseCompareDocument(text: string): { document: CompareDocument; version: number } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && !READABLE_COMPARE_VERSIONS.includes(version)) {
    throw new Error(`compare format version ${version}; this suite reads versions ${READABLE_COMPARE_VERSIONS.join(' and ')}`);
  }
  const parsed = storedDocument.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`not a compare.json: ${issue.path.join('.') || 'the document'}: ${issue.message}`);
  }
  const document = { baseline: null, ...parsed.data } as unknown as CompareDocument;
  return { document, version: parsed.data.version };
}

/** The report page: verdict first, then anomalies in words with their figures, timelines, latency and throughput. */
import type {
  Anomaly, ContextEvent, HoldWindow, NodeOwner, OpSummary, ResourceWrite, Results, StuckAcquireAnomaly, Validity,
} from '../../checker/types.ts';
import type { Digest } from './digest.ts';
import { html, jsonForScript, trusted, type Html } from './html.ts';
import type { ReportData } from './model.ts';
import { PERCENTILES, type PercentileRow } from './summarize.ts';
import { STYLE } from './style.ts';

export interface ReportInput {
  runId: string;
  config: Record<string, unknown> | undefined;
  command: string | undefined;
  results: Results | undefined;
  /** Why results.json could not be used, when it could not. */
  resultsProblem: string | undefined;
  anomalies: Anomaly[];
  digest: Digest;
  data: ReportData;
  percentiles: PercentileRow[];
  links: { label: string; href: string }[];
  script: string;
  /** A replay, or a shrink's attempt: the run whose schedule it carried out, linked. */
  origin: { kind: 'replay' | 'shrink'; run: string; href: string; removed?: string } | undefined;
}

const NS = 1e9;
/** Also the order of the report's anomaly groups: the pathologies first, their consequences after. */
const ANOMALY_NAMES: Record<Anomaly['type'], string> = {
  'double-holder': 'double holder',
  'leaked-node': 'leaked node',
  'stuck-acquire': 'stuck acquire',
  'stale-write': 'stale write',
  'lost-update': 'lost update',
  'double-leader': 'double leader',
  'no-leader': 'no leader',
  'over-permits': 'over permits',
};
/** What each figure shows, in words, under the checker's own explanation. */
const FIGURE_CAPTIONS: Record<Anomaly['type'], string> = {
  'double-holder': 'Each row is a client; blue bars are the windows in which it believed it held the lock, red is the time both held it. Shaded bands are faults in force; dashed lines are proxy actions and session expiries.',
  'leaked-node': 'The orange bar is the operation that created the node, the purple bar the node living on, owned by a session nobody claims. Blue bars are the lock\'s holders: after the leak, nobody gets the lock.',
  'stuck-acquire': 'The purple bar is the acquire that waited and never got the lock; blue bars are the lock\'s holders before it. No hold window means the lock was free while the acquire waited.',
  'stale-write': 'Every write the resource saw around the anomaly, by fence token: the red dot is the stale write, accepted although a higher token had been accepted before it.',
  'lost-update': 'Every write the resource saw around the anomaly, by fence token: the red dot is the write whose increment was lost.',
  'double-leader': 'Each row is a client; blue bars are the windows in which it believed it led the election, red is the time both led it. Shaded bands are faults in force.',
  'no-leader': 'The purple bar is the stretch in which nobody led the election although a candidate with a connected session could have. Shaded bands are faults in force.',
  'over-permits': 'Each row is a client; blue bars are the windows in which it believed it held a lease of the semaphore, red is the time more clients held one than it has permits.',
};

export const verdictWord = (valid: Validity | undefined): string =>
  valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
const seconds = (ns: number | null | undefined): string => (ns === null || ns === undefined ? '—' : `${(ns / NS).toFixed(3)} s`);
const milliseconds = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(3));

function facts(rows: [string, Html | string | number | null | undefined][], layout = ''): Html {
  return html`<dl class="facts ${layout}">${rows.map(([term, value]) => html`<dt>${term}</dt><dd>${value ?? '—'}</dd>`)}</dl>`;
}

function describeOp(op: OpSummary | null): Html | string {
  if (op === null) return 'none found';
  return html`op ${op.id}: ${op.client} (${op.worker}) ${op.mode ?? ''} ${op.f} of <code>${op.lock ?? ''}</code>, invoked at ${seconds(op.invokeTime)}, ${op.outcome}${op.completeTime === null ? '' : html` at ${seconds(op.completeTime)}`}${op.error === null ? '' : html` — <code>${op.error}</code>`}`;
}

function describeOwner(owner: NodeOwner | null): Html | string {
  if (owner === null) return 'unknown';
  return html`session <code>${owner.session}</code>${owner.client === null ? ' (no client of the history had it)' : html` of ${owner.client} on ${owner.worker ?? '?'}`}`;
}

function describeEvent(event: ContextEvent): Html {
  if (event.kind === 'nemesis') return html`<li>${seconds(event.time)} fault ${event.type}: ${event.description}</li>`;
  return html`<li>${seconds(event.time)} proxy ${event.event} ${event.op ?? ''} <code>${event.path ?? ''}</code>${event.zxid === undefined ? '' : ` zxid ${event.zxid}`}</li>`;
}

function windowsTable(windows: HoldWindow[]): Html {
  const row = (label: string, value: (window: HoldWindow) => Html | string | number | null) =>
    html`<tr><th>${label}</th>${windows.map((window) => html`<td>${value(window) ?? '—'}</td>`)}</tr>`;
  return html`<table class="side-by-side"><tbody>
    ${row('client', (window) => `${window.client} (${window.worker})`)}
    ${row('session', (window) => window.session)}
    ${row('lock node', (window) => (window.node === null ? null : html`<code>${window.node}</code>`))}
    ${row('fence token', (window) => window.token)}
    ${row('held from', (window) => seconds(window.start))}
    ${row('held until', (window) => (window.end === null ? 'the end (never released)' : seconds(window.end)))}
  </tbody></table>`;
}

function writesTable(writes: [string, ResourceWrite | null][]): Html {
  const row = (label: string, value: (write: ResourceWrite) => Html | string | number | null) =>
    html`<tr><th>${label}</th>${writes.map(([, write]) => html`<td>${write === null ? '—' : value(write) ?? '—'}</td>`)}</tr>`;
  return html`<table class="side-by-side"><thead><tr><th></th>${writes.map(([title]) => html`<th>${title}</th>`)}</tr></thead><tbody>
    ${row('client', (write) => write.client)}
    ${row('fence token', (write) => write.token ?? (write.implicitToken === null ? null : `none (held since ${seconds(write.implicitToken)})`))}
    ${row('value written', (write) => write.value)}
    ${row('arrived at', (write) => seconds(write.time))}
    ${row('resource', (write) => (write.accepted ? 'accepted' : 'rejected'))}
    ${row('operation', (write) => write.op)}
  </tbody></table>`;
}

/** How the report names each cause of a stuck acquire. */
const STUCK_CAUSES: Record<StuckAcquireAnomaly['cause'], string> = {
  'waited-while-free': 'waited while the lock was free',
  'reader-waited-without-writer': 'a reader waited while no writer held or waited',
  'lowest-node-unclaimed': 'the lowest node belongs to a client that is not acquiring',
};

function anomalyDetails(anomaly: Anomaly): Html {
  switch (anomaly.type) {
    case 'double-holder':
      return html`${facts([
        ['lock', html`<code>${anomaly.lock}</code>`],
        ['overlap', `${seconds(anomaly.overlap.start)} – ${seconds(anomaly.overlap.end)} (${milliseconds((anomaly.overlap.end - anomaly.overlap.start) / 1e6)} ms)`],
      ])}${windowsTable(anomaly.windows)}`;
    case 'leaked-node':
      return facts([
        ['leaked node', html`<code>${anomaly.node.path}</code> (czxid ${anomaly.node.czxid})`],
        ['owner', describeOwner(anomaly.owner)],
        ['GUID in its name', anomaly.guid ?? 'none'],
        ['created by', anomaly.createdBy === null ? 'no operation found' : html`${describeOp(anomaly.createdBy)} (found by ${anomaly.createdBy.attribution})`],
        ['lost cleanup', anomaly.droppedDelete === null ? 'none seen' : html`the proxy dropped a delete of it at ${seconds(anomaly.droppedDelete.time)}`],
        ['seen unclaimed', `${seconds(anomaly.seen.first)} – ${seconds(anomaly.seen.last)}${anomaly.seen.final ? ', still there in the final snapshot' : ''}`],
      ]);
    case 'stuck-acquire':
      return facts([
        ['lock', html`<code>${anomaly.lock}</code>`],
        ['cause', STUCK_CAUSES[anomaly.cause]],
        ['waiting acquire', describeOp(anomaly.acquire)],
        ['blocking node', anomaly.blockingNode === null ? 'none seen' : html`<code>${anomaly.blockingNode.path}</code> (czxid ${anomaly.blockingNode.czxid})`],
        ['its owner', describeOwner(anomaly.blockingOwner)],
        ['lock free', anomaly.freeSpan === null ? '—' : `${seconds(anomaly.freeSpan.start)} – ${seconds(anomaly.freeSpan.end)}`],
      ]);
    case 'stale-write':
      return html`${facts([['resource', html`<code>${anomaly.resource}</code>`], ['compared', anomaly.tokenKind === 'fence' ? 'fence tokens' : 'hold-window starts (the recipe gives no token)']])}
        ${writesTable([['newer token, accepted first', anomaly.newer], ['stale write, accepted after', anomaly.write]])}`;
    case 'double-leader':
      return html`${facts([
        ['election', html`<code>${anomaly.election}</code>`],
        ['overlap', `${seconds(anomaly.overlap.start)} – ${seconds(anomaly.overlap.end)} (${milliseconds((anomaly.overlap.end - anomaly.overlap.start) / 1e6)} ms)`],
      ])}${windowsTable(anomaly.windows.map((window) => ({ ...window, lock: window.election, access: null, acquireOp: window.campaignOp, releaseOp: window.resignOp })))}`;
    case 'no-leader':
      return facts([
        ['election', html`<code>${anomaly.election}</code>`],
        ['nobody led', `${seconds(anomaly.leaderless.start)} – ${seconds(anomaly.leaderless.end)}`],
        ['candidates that could have', anomaly.candidates.join(', ')],
        ['lowest candidate node', anomaly.blockingNode === null ? 'none seen' : html`<code>${anomaly.blockingNode.path}</code> (czxid ${anomaly.blockingNode.czxid})`],
        ['its owner', describeOwner(anomaly.blockingOwner)],
      ]);
    case 'over-permits':
      return html`${facts([
        ['semaphore', html`<code>${anomaly.lock}</code>`],
        ['permits', anomaly.permits],
        ['overlap', `${seconds(anomaly.overlap.start)} – ${seconds(anomaly.overlap.end)} (${milliseconds((anomaly.overlap.end - anomaly.overlap.start) / 1e6)} ms)`],
      ])}${windowsTable(anomaly.windows)}`;
    case 'lost-update':
      return html`${facts([
        ['resource', html`<code>${anomaly.resource}</code>`],
        ['acknowledged increment', describeOp(anomaly.op)],
        ['cause', anomaly.cause === 'overwritten' ? 'overwritten by a later write' : 'missing from the final value'],
        ['final value', anomaly.finalValue],
      ])}${writesTable([['the lost write', anomaly.write], ['overwritten by', anomaly.overwrittenBy]])}`;
  }
}

function anomalyWhere(anomaly: Anomaly): string {
  return 'lock' in anomaly ? anomaly.lock : 'election' in anomaly ? anomaly.election : anomaly.resource;
}

function anomalyArticle(anomaly: Anomaly, index: number, data: ReportData): Html {
  return html`<article class="anomaly page-item">
    <h4><span class="tag ${anomaly.type}">${ANOMALY_NAMES[anomaly.type]}</span> <code>${anomalyWhere(anomaly)}</code>
      <span class="when">${seconds(anomaly.span.start)} – ${seconds(anomaly.span.end)}</span></h4>
    <p class="explanation">${anomaly.explanation}</p>
    ${anomalyDetails(anomaly)}
    ${anomaly.events.length === 0 ? '' : html`<details><summary>${anomaly.events.length} fault and proxy events around it</summary><ul class="events">${anomaly.events.slice(0, 50).map(describeEvent)}</ul></details>`}
    ${index in data.figures ? html`<p class="caption">${FIGURE_CAPTIONS[anomaly.type]}</p><div class="figure" data-figure="${index}"></div>` : ''}
  </article>`;
}

/** One group per anomaly type, each paged, so every kind of anomaly shows on the first screen. */
function anomalyGroups(anomalies: Anomaly[], data: ReportData): Html {
  if (anomalies.length === 0) return html`<p>None.</p>`;
  const indexed = anomalies.map((anomaly, index) => ({ anomaly, index }));
  return html`${(Object.keys(ANOMALY_NAMES) as Anomaly['type'][]).map((type) => {
    const group = indexed.filter(({ anomaly }) => anomaly.type === type);
    if (group.length === 0) return '';
    return html`<h3>${group.length} ${ANOMALY_NAMES[type]}${group.length === 1 ? '' : 's'}</h3>
      <div class="anomaly-list" data-pager="3">${group.map(({ anomaly, index }) => anomalyArticle(anomaly, index, data))}</div>`;
  })}`;
}

function originLine(origin: ReportInput['origin']): Html | string {
  if (origin === undefined) return '';
  const original = html`<a href="${origin.href}">${origin.run}</a>`;
  return origin.kind === 'replay'
    ? html`<p class="origin">A replay of ${original}: its recorded fault schedule, carried out again.</p>`
    : html`<p class="origin">A shrunk reproduction of ${original}, without ${origin.removed ?? 'some of it'}.</p>`;
}

function verdictSection(input: ReportInput): Html {
  const { results, config, digest } = input;
  const valid = results?.valid;
  const word = verdictWord(valid);
  const counts = new Map<string, number>();
  for (const anomaly of input.anomalies) counts.set(anomaly.type, (counts.get(anomaly.type) ?? 0) + 1);
  const summary = input.anomalies.length === 0
    ? (valid === true ? 'No anomaly found.' : input.resultsProblem ?? 'The checker could not decide.')
    : [...counts].map(([type, count]) => `${count} ${ANOMALY_NAMES[type as Anomaly['type']]}${count === 1 ? '' : 's'}`).join(', ');
  const nemeses = Array.isArray(config?.['nemesis']) ? (config['nemesis'] as string[]).join(', ') || 'none' : String(config?.['nemesis'] ?? '—');
  const duration = `${(digest.endTime).toFixed(1)} s of history${config?.['timeLimitS'] === undefined ? '' : ` (time limit ${String(config['timeLimitS'])} s)`}`;
  return html`<header class="verdict ${word}">
    <div class="verdict-word">${word}</div>
    <div>
      <h1>${String(config?.['recipe'] ?? 'unknown recipe')} · ${String(config?.['workload'] ?? 'unknown workload')} · ${nemeses}</h1>
      <p class="summary">${summary}</p>
      ${originLine(input.origin)}
    </div>
  </header>
  ${facts([
    ['run', input.runId],
    ['started', digest.startedAt ?? results?.run.startedAt ?? '—'],
    ['recipe', String(config?.['recipe'] ?? '—')],
    ['workload', String(config?.['workload'] ?? '—')],
    ['nemeses', nemeses],
    ['seed', String(config?.['seed'] ?? '—')],
    ['duration', duration],
    ['clients / locks', `${String(config?.['clients'] ?? '—')} / ${String(config?.['locks'] ?? '—')}`],
    ['fencing', config?.['fencing'] === undefined ? '—' : config['fencing'] ? 'on' : 'off'],
    ['ended', digest.endReason === undefined ? 'no end line: the history was cut short' : `${digest.endReason}${digest.endDetail === undefined ? '' : `: ${digest.endDetail}`}`],
    ['unreadable lines', digest.unreadableLines === 0 ? null : `${digest.unreadableLines} skipped (see results.json)`],
  ].filter(([, value]) => value !== null) as [string, string][], 'two-columns')}
  <div class="command"><span>Reproduce:</span> <code id="command">${input.command ?? 'config.json is missing or incomplete'}</code>
    ${input.command === undefined ? '' : html`<button id="copy-command" type="button">copy</button>`}</div>
  <nav class="links">Files: ${input.links.map((link) => html`<a href="${link.href}">${link.label}</a>`)}</nav>`;
}

function checkersTable(results: Results | undefined, problem: string | undefined): Html {
  if (results === undefined) return html`<p class="problem">${problem ?? 'No results.json: the run was not checked.'}</p>`;
  return html`<table><thead><tr><th>check</th><th>verdict</th><th>anomalies</th><th>note</th></tr></thead><tbody>
    ${Object.entries(results.checkers).map(([name, check]) => html`<tr>
      <td>${name}</td><td class="cell-${verdictWord(check.valid)}">${verdictWord(check.valid)}</td>
      <td>${check.anomalies.length}</td><td>${check.reason ?? check.tolerated ?? ''}</td></tr>`)}
  </tbody></table>`;
}

function countsTable(digest: Digest): Html {
  const rows = new Map<string, Record<string, number>>();
  for (let index = 0; index < digest.ops.length; index += 1) {
    const row = rows.get(digest.ops.f(index)) ?? {};
    row[digest.ops.outcome(index)] = (row[digest.ops.outcome(index)] ?? 0) + 1;
    rows.set(digest.ops.f(index), row);
  }
  for (const [f, count] of digest.pending) rows.set(f, { ...(rows.get(f) ?? {}), pending: count });
  const columns = ['ok', 'fail', 'info', 'pending'];
  return html`<table class="numbers"><thead><tr><th>operation</th>${columns.map((column) => html`<th>${column}</th>`)}</tr></thead><tbody>
    ${[...rows].map(([f, row]) => html`<tr><td>${f}</td>${columns.map((column) => html`<td>${row[column] ?? 0}</td>`)}</tr>`)}
  </tbody></table>`;
}

function errorsTable(digest: Digest): Html {
  const errors = [...digest.errors.values()].sort((a, b) => b.count - a.count);
  if (errors.length === 0) return html`<p>No operation reported an error.</p>`;
  return html`<table data-pager="10"><thead><tr><th>operation</th><th>outcome</th><th>error</th><th>count</th></tr></thead><tbody>
    ${errors.map((row) => html`<tr><td>${row.f}</td><td class="outcome-${row.outcome}">${row.outcome}</td><td><code>${row.error}</code></td><td>${row.count}</td></tr>`)}
  </tbody></table>`;
}

function percentileTable(rows: PercentileRow[]): Html {
  return html`<table class="numbers"><thead><tr><th>operation</th><th>outcome</th><th>count</th>
    ${PERCENTILES.map(([label]) => html`<th>${label} ms</th>`)}</tr></thead><tbody>
    ${rows.map((row) => html`<tr><td>${row.f}</td><td class="outcome-${row.outcome}">${row.outcome}</td><td>${row.count}</td>
      ${PERCENTILES.map(([label]) => html`<td>${milliseconds(row.values[label]!)}</td>`)}</tr>`)}
  </tbody></table>`;
}

function faultsTable(data: ReportData): Html {
  if (data.faults.length === 0) return html`<p>No faults were injected.</p>`;
  return html`<table data-pager="15"><thead><tr><th>fault</th><th>what</th><th>from</th><th>to</th><th>lasted</th></tr></thead><tbody>
    ${data.faults.map((fault) => html`<tr><td>${fault.f}</td><td>${fault.description}</td><td>${fault.start.toFixed(3)} s</td>
      <td>${fault.healed ? `${fault.end.toFixed(3)} s` : 'never healed'}</td><td>${(fault.end - fault.start).toFixed(3)} s</td></tr>`)}
  </tbody></table>`;
}

export function renderReport(input: ReportInput): string {
  const { data, anomalies, digest } = input;
  const verdict = verdictWord(input.results?.valid);
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${verdict.toUpperCase()} — ${input.runId}</title>
<style>${trusted(STYLE)}</style></head>
<body>
<main>
${verdictSection(input)}
<section id="checks"><h2>Checks</h2>${checkersTable(input.results, input.resultsProblem)}</section>
<section id="anomalies"><h2>Anomalies</h2>
  ${anomalyGroups(anomalies, data)}
</section>
<section id="timeline"><h2>Lock timeline</h2>
  <p class="caption">One row per client: blue bars are hold windows (acquire ok to release invoked), purple ones never released, red where two clients held the lock at once. Shaded bands are faults; dashed lines are proxy actions and session expiries. The busiest locks are shown first${data.locks.length > 4 ? '; pick any other below' : ''}.</p>
  <div id="lock-timelines"></div>
  ${data.locks.length > 4 ? html`<label>Show another lock: <select id="lock-picker"><option value="">choose one of ${data.locks.length} locks…</option></select></label><div id="picked-lock"></div>` : ''}
</section>
<section id="faults"><h2>Faults</h2>${faultsTable(data)}${digest.marksOmitted > 0 ? html`<p>${digest.marksOmitted} more proxy and session events were left off the timelines.</p>` : ''}</section>
<section id="latency"><h2>Latency</h2>
  <p class="caption">A point per operation, from invoke to completion, by outcome${data.latencyDownsampled ? '; in a run this long, one point stands for all alike operations (same function, outcome, time slice and latency band), so every outlier stays visible' : ''}.</p>
  <div id="latency-chart" class="chart"></div>
  <h3>Percentiles over time</h3><div id="percentile-chart" class="chart"></div>
  <h3>Percentiles per operation</h3>${percentileTable(input.percentiles)}
  <h3>Counts</h3>${countsTable(digest)}
  <h3>Errors</h3>${errorsTable(digest)}
</section>
<section id="throughput"><h2>Throughput</h2><div id="throughput-chart" class="chart"></div></section>
<section id="config"><h2>Configuration</h2><pre>${JSON.stringify(input.config ?? {}, null, 2)}</pre></section>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${trusted(input.script)}</script>
</body></html>
`;
  return page.text;
}

/// <reference lib="dom" />
/**
 * The report page's script, bundled with Observable Plot into the file by src/report/bundle.ts. It only draws what
 * the Node side prepared (src/report/model.ts) and pages long lists; every text goes through the DOM's text APIs.
 */
import * as Plot from '@observablehq/plot';
import { OUTCOMES, type AnomalyFigure, type FaultWindow, type LatencyPoint, type LockTimeline, type ReportData, type WriteFigure } from '../model.ts';

const COLORS = {
  ok: '#4e79a7', fail: '#e15759', info: '#f28e2b',
  hold: '#4e79a7', overlap: '#d62728', waiting: '#9467bd', op: '#f28e2b', mark: '#222',
};
const FAULT_COLORS = ['#bab0ac', '#edc948', '#76b7b2', '#ff9da7', '#59a14f', '#b07aa1', '#9c755f', '#8cd17d'];
/** Above this many faults in view, labels would pile up; shading and hover tips remain. */
const FAULT_LABEL_LIMIT = 24;
const TOP_LOCKS = 4;
/** Room above a plot's frame for three staggered lines of fault labels. */
const LABEL_MARGIN = 44;

const data = JSON.parse(document.getElementById('report-data')!.textContent!) as ReportData;
const faultKinds = [...new Set(data.faults.map((fault) => fault.f))];
const faultColor = (f: string): string => FAULT_COLORS[faultKinds.indexOf(f) % FAULT_COLORS.length]!;
const seconds = (value: number): string => `${value.toFixed(3)} s`;

function widthOf(element: HTMLElement): number {
  return Math.max(480, Math.min(element.clientWidth || 1100, 1600));
}

/** Seconds that make `pixels` on a plot of this width: short windows are drawn at least that wide to stay visible. */
function atLeast(pixels: number, width: number, from: number, to: number): number {
  return ((to - from) / width) * pixels;
}

/**
 * Fault windows as shaded bands over the whole height, one mark per kind so each keeps its own colour; labels go
 * on the first facet only (`labelFacet`), in the top margin, which must be at least LABEL_MARGIN high.
 */
function faultMarks(faults: FaultWindow[], from: number, to: number, width: number, labelFacet?: string): Plot.Markish[] {
  const visible = faults.filter((fault) => fault.end >= from && fault.start <= to);
  const minimum = atLeast(2, width, from, to);
  const bands = faultKinds.map((kind) => Plot.rectX(visible.filter((fault) => fault.f === kind), {
    x1: 'start', x2: (fault: FaultWindow) => Math.max(fault.end, fault.start + minimum),
    fill: faultColor(kind), fillOpacity: 0.3, clip: true,
    title: (fault: FaultWindow) => `${fault.description}\n${seconds(fault.start)} – ${fault.healed ? seconds(fault.end) : 'end of run (never healed)'}`,
  }));
  if (visible.length > FAULT_LABEL_LIMIT) return bands;
  // Three staggered lines of labels, so neighbouring faults do not write over each other.
  const labels = [0, 1, 2].map((line) => Plot.text(visible.filter((_, index) => index % 3 === line), {
    x: (fault: FaultWindow) => Math.max(fault.start, from), text: 'description', frameAnchor: 'top', textAnchor: 'start',
    dx: 2, dy: -36 + line * 11, fontSize: 10, fill: '#333', clip: false, ...(labelFacet === undefined ? {} : { fy: () => labelFacet }),
  }));
  return [...bands, ...labels];
}

function timelinePlot(options: {
  width: number; from: number; to: number; rows: string[];
  bars: { row: string; start: number; end: number; tone: keyof typeof COLORS; label: string }[];
  marks: { time: number; label: string }[]; faults: FaultWindow[];
}): Element {
  const { from, to } = options;
  const minimum = atLeast(2, options.width, from, to);
  const tones = ['hold', 'waiting', 'op', 'overlap'] as const;
  return Plot.plot({
    width: options.width,
    height: LABEL_MARGIN + 40 + Math.max(options.rows.length, 1) * 24,
    marginLeft: 150,
    marginTop: LABEL_MARGIN,
    x: { domain: [from, to], label: 'seconds since the start →', grid: true },
    y: { domain: options.rows, label: null, tickFormat: (row: string) => (row.length > 22 ? `${row.slice(0, 21)}…` : row) },
    marks: [
      ...faultMarks(options.faults, from, to, options.width),
      // Drawn in tone order so the red overlap lands on top of the windows it belongs to.
      ...tones.map((tone) => Plot.barX(options.bars.filter((bar) => bar.tone === tone), {
        x1: 'start', x2: (bar: { start: number; end: number }) => Math.max(bar.end, bar.start + minimum), y: 'row',
        fill: COLORS[tone], insetTop: tone === 'overlap' ? 0 : 3, insetBottom: tone === 'overlap' ? 0 : 3, title: (bar: { label: string; start: number; end: number }) =>
          `${bar.label}\n${seconds(bar.start)} – ${seconds(bar.end)} (${((bar.end - bar.start) * 1e3).toFixed(1)} ms)`,
      })),
      Plot.ruleX(options.marks, { x: 'time', stroke: COLORS.mark, strokeDasharray: '3,2', title: 'label' }),
      Plot.frame({ stroke: '#ccc' }),
    ],
  });
}

function lockTimeline(lock: LockTimeline, container: HTMLElement): void {
  const overlapBars = lock.overlaps.flatMap((overlap) => overlap.clients.map((client) => ({
    row: client, start: overlap.start, end: overlap.end, tone: 'overlap' as const,
    label: `${overlap.clients[0]} and ${overlap.clients[1]} both hold ${lock.lock}`,
  })));
  const holdBars = lock.bars.map(([client, start, end, holds, open]) => ({
    row: lock.clients[client]!, start, end, tone: open === 1 ? 'waiting' as const : 'hold' as const,
    label: `${lock.clients[client]!} holds ${lock.lock}${holds > 1 ? ` (${holds} windows merged)` : ''}${open === 1 ? ', never released' : ''}`,
  }));
  const figure = document.createElement('figure');
  const caption = document.createElement('figcaption');
  const overlapText = lock.overlaps.length === 0 ? 'no overlap' : `${lock.overlaps.length} overlap${lock.overlaps.length === 1 ? '' : 's'}`;
  caption.textContent = `${lock.lock} — ${lock.acquires} acquires by ${lock.clients.length} clients, ${overlapText}`
    + (lock.mergedBelow > 0 ? ` (windows closer than ${(lock.mergedBelow * 1e3).toFixed(0)} ms drawn as one bar)` : '');
  figure.append(caption, timelinePlot({
    width: widthOf(container), from: 0, to: data.duration, rows: lock.clients.length > 0 ? lock.clients : ['(no holder)'],
    bars: [...holdBars, ...overlapBars], marks: data.marks.filter((mark) => mark.lock === undefined || mark.lock === lock.lock),
    faults: data.faults,
  }));
  container.append(figure);
}

function drawLocks(): void {
  const container = document.getElementById('lock-timelines');
  if (container === null) return;
  data.locks.slice(0, TOP_LOCKS).forEach((lock) => lockTimeline(lock, container));
  const picker = document.getElementById('lock-picker') as HTMLSelectElement | null;
  const picked = document.getElementById('picked-lock');
  if (picker === null || picked === null) return;
  data.locks.forEach((lock, index) => {
    const option = document.createElement('option');
    option.value = String(index);
    option.textContent = `${lock.lock} — ${lock.acquires} acquires${lock.overlaps.length > 0 ? `, ${lock.overlaps.length} overlaps` : ''}`;
    picker.append(option);
  });
  picker.addEventListener('change', () => {
    picked.replaceChildren();
    const lock = data.locks[Number(picker.value)];
    if (lock !== undefined) lockTimeline(lock, picked);
  });
}

function anomalyFigure(figure: AnomalyFigure | WriteFigure, container: HTMLElement): void {
  const width = widthOf(container);
  if (figure.kind === 'windows') {
    container.append(timelinePlot({ width, from: figure.from, to: figure.to, rows: figure.rows, bars: figure.bars, marks: figure.marks, faults: figure.faults }));
    return;
  }
  const { from, to } = figure;
  const kind = (write: WriteFigure['writes'][number]): string => (write.stale ? 'this write' : write.accepted ? 'accepted' : 'rejected');
  container.append(Plot.plot({
    width, height: 260, marginLeft: 150, marginTop: LABEL_MARGIN,
    x: { domain: [from, to], label: 'seconds since the start →', grid: true },
    y: { label: '↑ fence token', grid: true, inset: 12, tickFormat: 'd' },
    color: { domain: ['accepted', 'rejected', 'this write'], range: [COLORS.ok, '#aaa', COLORS.overlap], legend: true },
    marks: [
      ...faultMarks(figure.faults, from, to, width),
      Plot.dot(figure.writes.filter((write) => write.token !== null), {
        x: 'time', y: 'token', fill: kind, r: (write: WriteFigure['writes'][number]) => (write.stale ? 6 : 3.5),
        title: (write: WriteFigure['writes'][number]) => `${write.client} wrote ${write.value} with token ${write.token} at ${seconds(write.time)}: ${write.accepted ? 'accepted' : 'rejected'}`,
      }),
      Plot.text(figure.writes.filter((write) => write.stale), { x: 'time', y: 'token', text: () => 'stale write accepted', dy: -12, fill: COLORS.overlap, fontWeight: 'bold' }),
      Plot.frame({ stroke: '#ccc' }),
    ],
  }));
}

function drawSeries(): void {
  const latency = document.getElementById('latency-chart');
  const present = new Set(data.latency.map(([, , f]) => f));
  const functions = data.functions.filter((_, index) => present.has(index));
  const series = { x: { domain: [0, data.duration], label: 'seconds since the start →', grid: true }, marginLeft: 60, marginRight: 90, marginTop: LABEL_MARGIN };
  if (latency !== null) {
    latency.append(Plot.plot({
      width: widthOf(latency), height: 90 + functions.length * 170, ...series,
      y: { type: 'log', label: '↑ latency (ms)', grid: true },
      fy: { domain: functions, label: null },
      color: { domain: ['ok', 'fail', 'info'], range: [COLORS.ok, COLORS.fail, COLORS.info], legend: true },
      marks: [
        ...faultMarks(data.faults, 0, data.duration, widthOf(latency), functions[0]),
        Plot.dot(data.latency, {
          x: ([time]: LatencyPoint) => time, y: ([, latencyMs]: LatencyPoint) => latencyMs,
          fy: ([, , f]: LatencyPoint) => data.functions[f], fill: ([, , , outcome]: LatencyPoint) => OUTCOMES[outcome],
          r: 1.6, fillOpacity: 0.7,
          title: ([time, latencyMs, f, outcome, count]: LatencyPoint) =>
            `${data.functions[f]!} ${OUTCOMES[outcome]!}: ${latencyMs} ms at ${seconds(time)}${count > 1 ? ` (one of ${count} alike)` : ''}`,
        }),
        Plot.frame({ stroke: '#ccc' }),
      ],
    }));
  }
  const quantiles = document.getElementById('percentile-chart');
  if (quantiles !== null) {
    const fs = [...new Set(data.percentilesOverTime.map((point) => point.f))];
    quantiles.append(Plot.plot({
      width: widthOf(quantiles), height: 90 + fs.length * 150, ...series,
      y: { type: 'log', label: '↑ latency of ok operations (ms)', grid: true },
      fy: { domain: fs, label: null },
      color: { domain: ['p50', 'p99', 'max'], range: ['#4e79a7', '#f28e2b', '#e15759'], legend: true },
      marks: [
        ...faultMarks(data.faults, 0, data.duration, widthOf(quantiles), fs[0]),
        Plot.lineY(data.percentilesOverTime, { x: 'time', y: 'latencyMs', fy: 'f', stroke: 'quantile', z: 'quantile', curve: 'step-after' }),
        Plot.frame({ stroke: '#ccc' }),
      ],
    }));
  }
  const throughput = document.getElementById('throughput-chart');
  if (throughput !== null) {
    throughput.append(Plot.plot({
      width: widthOf(throughput), height: 300, ...series,
      y: { label: `↑ completions per second (${data.throughputBinSeconds} s bins)`, grid: true },
      color: { domain: ['ok', 'fail', 'info'], range: [COLORS.ok, COLORS.fail, COLORS.info], legend: true },
      marks: [
        ...faultMarks(data.faults, 0, data.duration, widthOf(throughput)),
        Plot.areaY(data.throughput, { x: 'time', y: 'perSecond', fill: 'outcome', curve: 'step-after', order: ['ok', 'fail', 'info'] }),
        Plot.frame({ stroke: '#ccc' }),
      ],
    }));
  }
}

/** Shows one page of a long list; figures of anomalies are drawn when their page is first shown. */
function pager(list: HTMLElement): void {
  const items = [...list.querySelectorAll<HTMLElement>(':scope > .page-item, :scope > tbody > tr')];
  const size = Number(list.dataset['pager'] ?? '20');
  const pages = Math.ceil(items.length / size);
  const controls = document.createElement('div');
  controls.className = 'pager';
  const label = document.createElement('span');
  const previous = document.createElement('button');
  const next = document.createElement('button');
  previous.textContent = '← previous';
  next.textContent = 'next →';
  controls.append(previous, label, next);
  let page = 0;
  const show = (target: number): void => {
    page = Math.max(0, Math.min(pages - 1, target));
    items.forEach((item, index) => {
      const visible = Math.floor(index / size) === page;
      item.hidden = !visible;
      if (visible) drawFigureOnce(item);
    });
    label.textContent = ` page ${page + 1} of ${pages} (${items.length} in all) `;
    previous.disabled = page === 0;
    next.disabled = page === pages - 1;
  };
  previous.addEventListener('click', () => show(page - 1));
  next.addEventListener('click', () => show(page + 1));
  if (pages > 1) list.after(controls);
  show(0);
}

function drawFigureOnce(item: HTMLElement): void {
  const slot = item.querySelector<HTMLElement>('.figure[data-figure]');
  if (slot === null || slot.dataset['drawn'] !== undefined) return;
  slot.dataset['drawn'] = 'yes';
  const figure = data.figures[Number(slot.dataset['figure'])];
  if (figure !== undefined) anomalyFigure(figure, slot);
}

function copyButton(): void {
  const button = document.getElementById('copy-command');
  const command = document.getElementById('command');
  button?.addEventListener('click', () => {
    void navigator.clipboard?.writeText(command?.textContent ?? '').then(() => { button.textContent = 'copied'; });
  });
}

drawLocks();
drawSeries();
document.querySelectorAll<HTMLElement>('[data-pager]').forEach(pager);
copyButton();
document.body.dataset['rendered'] = 'yes';

/** The stylesheet shared by the report and the index, inlined into each. */
export const STYLE = `
:root { --valid: #2e7d32; --invalid: #c62828; --unknown: #b26a00; --ink: #1d1d1f; --muted: #5f6368; --line: #e0e0e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fafafa; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
pre { background: #fff; border: 1px solid var(--line); padding: 12px; overflow: auto; max-height: 400px; }
a { color: #1a5fb4; }
.verdict { display: flex; gap: 24px; align-items: center; padding: 18px 24px; border-radius: 8px; color: #fff; }
.verdict.valid { background: var(--valid); } .verdict.invalid { background: var(--invalid); } .verdict.unknown { background: var(--unknown); }
.verdict-word { font-size: 34px; font-weight: 800; text-transform: uppercase; letter-spacing: 1px; }
.verdict .summary { margin: 4px 0 0; font-size: 17px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 14px 0; }
.facts.two-columns { grid-template-columns: max-content minmax(0, 1fr) max-content minmax(0, 1fr); }
.facts dt { color: var(--muted); } .facts dd { margin: 0; overflow-wrap: anywhere; }
.command { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; display: flex; gap: 8px; align-items: baseline; }
.command code { flex: 1; overflow-wrap: anywhere; }
.links { margin: 10px 0; display: flex; flex-wrap: wrap; gap: 4px 14px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: #f1f3f4; }
table.numbers td { text-align: right; font-variant-numeric: tabular-nums; } table.numbers td:first-child, table.numbers td:nth-child(2) { text-align: left; }
.cell-valid { color: var(--valid); font-weight: 600; } .cell-invalid { color: var(--invalid); font-weight: 600; } .cell-unknown { color: var(--unknown); font-weight: 600; }
.outcome-ok { color: #4e79a7; } .outcome-fail { color: #e15759; } .outcome-info { color: #c46a00; }
.anomaly { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--invalid); border-radius: 6px; padding: 8px 18px 14px; margin: 14px 0; }
.anomaly h4 { margin: 10px 0 4px; font-size: 16px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.anomaly .when { color: var(--muted); font-weight: normal; font-size: 14px; }
.explanation { font-size: 16px; margin: 4px 0 8px; }
.tag { color: #fff; background: var(--invalid); border-radius: 4px; padding: 1px 8px; font-size: 13px; text-transform: uppercase; letter-spacing: .5px; }
.tag.leaked-node, .tag.stuck-acquire, .tag.no-leader { background: #6a1b9a; } .tag.stale-write, .tag.lost-update { background: #ad1457; }
.caption { color: var(--muted); font-size: 14px; margin: 6px 0; }
.side-by-side th { background: #f7f7f7; font-weight: normal; color: var(--muted); }
figure { margin: 10px 0 24px; } figcaption { font-weight: 600; margin-bottom: 4px; }
.chart, .figure, #lock-timelines, #picked-lock { overflow-x: auto; }
.pager { margin: 8px 0; display: flex; gap: 8px; align-items: center; }
button { font: inherit; padding: 2px 10px; cursor: pointer; }
.problem { color: var(--unknown); font-weight: 600; }
details { margin: 6px 0; } .events { margin: 4px 0; font-size: 14px; }
select { font: inherit; max-width: 100%; }
table[data-runs] td:not(:nth-child(5)) { white-space: nowrap; }
`;

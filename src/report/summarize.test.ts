import { describe, expect, it } from 'vitest';
import type { ClientHold } from './digest.ts';
import { escapeHtml, html, jsonForScript } from './html.ts';
import { holdBars } from './summarize.ts';

const hold = (client: string, start: number, end: number): ClientHold => ({ client, start, end, open: false });

describe('hold bars', () => {
  it('draws every window as it is when nothing is merged', () => {
    const bars = holdBars([hold('c1', 2, 3), hold('c1', 0, 1), hold('c2', 0.5, 0.6)], 0);
    expect(bars.map((bar) => [bar.client, bar.start, bar.end, bar.holds])).toEqual([
      ['c1', 0, 1, 1], ['c2', 0.5, 0.6, 1], ['c1', 2, 3, 1],
    ]);
  });

  it('merges windows of one client closer than the resolution, never windows of two clients', () => {
    const bars = holdBars([hold('c1', 0, 1), hold('c1', 1.05, 2), hold('c2', 2.01, 3), hold('c1', 2.5, 3)], 0.1);
    expect(bars.map((bar) => [bar.client, bar.start, bar.end, bar.holds])).toEqual([
      ['c1', 0, 2, 2], ['c2', 2.01, 3, 1], ['c1', 2.5, 3, 1],
    ]);
  });
});

describe('escaping', () => {
  const hostile = '</script><script>alert("x")</script>&\'';

  it('escapes interpolated text but keeps built HTML', () => {
    const inner = html`<b>${hostile}</b>`;
    expect(html`<p>${inner}${hostile}</p>`.text).toBe(`<p><b>${escapeHtml(hostile)}</b>${escapeHtml(hostile)}</p>`);
    expect(escapeHtml(hostile)).not.toMatch(/[<>"']/);
  });

  it('keeps inline JSON from closing its script and reads back the same', () => {
    const value = { path: hostile, separator: '\u2028' };
    const text = jsonForScript(value).text;
    expect(text).not.toContain('<');
    expect(text).not.toContain('\u2028');
    expect(JSON.parse(text)).toEqual(value);
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryLine } from './history.ts';
import { parseHistoryLine } from './history-reader.ts';
import { HistoryWriter } from './history-writer.ts';

const directory = mkdtempSync(join(tmpdir(), 'zkj-history-writer-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('HistoryWriter', () => {
  it('puts the lines of one event-loop turn on disk together, at the end of the turn, readable back as written', async () => {
    const path = join(directory, 'history.jsonl');
    const history = new HistoryWriter(path);
    const header: HistoryLine = { kind: 'header', version: 1, runId: 'r', startedAt: 'now', config: { seed: 1 } };
    const op: HistoryLine = { kind: 'op', id: 0, type: 'invoke', time: history.now(), f: 'acquire', client: 'c1', worker: 'w1', lock: 'L1', mode: 'try' };
    history.write(header);
    history.write(op);
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    // What a SIGKILL right now would leave: both lines, whole.
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map(parseHistoryLine)).toEqual([header, op]);
    history.close();
  });

  it('writes at once when 64 KiB are waiting, and on close', () => {
    const path = join(directory, 'burst.jsonl');
    const history = new HistoryWriter(path);
    const big = 'x'.repeat(1000);
    for (let index = 0; index < 70; index++) history.write({ kind: 'worker', time: index, worker: 'w1', event: 'stderr', detail: big });
    expect(readFileSync(path, 'utf8').split('\n').length - 1).toBeGreaterThanOrEqual(60);
    history.close();
    expect(readFileSync(path, 'utf8').split('\n').length - 1).toBe(70);
  });

  it('stamps time on the monotonic clock since the start, and converts another process\'s monotonic reading', () => {
    const startNs = process.hrtime.bigint();
    const history = new HistoryWriter(join(directory, 'clock.jsonl'), startNs);
    const first = history.now();
    const second = history.now();
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThanOrEqual(first);
    expect(history.fromMonotonic((startNs + 1_500_000n).toString())).toBe(1_500_000);
    history.close();
  });

  it('drops a line written after close: a late answer is not part of the run', () => {
    const path = join(directory, 'closed.jsonl');
    const history = new HistoryWriter(path);
    history.write({ kind: 'end', time: 1, reason: 'completed' });
    history.close();
    history.write({ kind: 'end', time: 2, reason: 'completed' });
    history.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

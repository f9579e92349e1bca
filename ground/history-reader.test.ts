import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryLine, UnreadableLine } from './history.ts';
import { parseHistoryLine, readHistory } from './history-reader.ts';

const directory = mkdtempSync(join(tmpdir(), 'history-reader-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function read(text: string): Promise<{ lines: Array<[number, HistoryLine]>; unreadable: UnreadableLine[] }> {
  const path = join(directory, `h${Math.random()}.jsonl`);
  writeFileSync(path, text);
  const lines: Array<[number, HistoryLine]> = [];
  const unreadable: UnreadableLine[] = [];
  await readHistory(path, { add: (line, number) => lines.push([number, line]), unreadable: (line) => unreadable.push(line) });
  return { lines, unreadable };
}

const header = JSON.stringify({ kind: 'header', version: 1, runId: 'r', startedAt: 'x', config: {} });
const invoke = JSON.stringify({ kind: 'op', id: 0, type: 'invoke', time: 5, f: 'acquire', client: 'c1', worker: 'w1', lock: 'L1', mode: 'try' });

describe('readHistory', () => {
  it('reads every line with its number, across chunk boundaries and multi-byte characters', async () => {
    const long = JSON.stringify({ kind: 'proxy', time: 7, event: 'latency', detail: 'é'.repeat(3_000_000) });
    const { lines, unreadable } = await read(`${header}\n${invoke}\n\n${long}\n`);
    expect(unreadable).toEqual([]);
    expect(lines.map(([number, line]) => [number, line.kind])).toEqual([[1, 'header'], [2, 'op'], [4, 'proxy']]);
    expect((lines[2]![1] as { detail: string }).detail).toHaveLength(3_000_000);
  });

  it('reports a corrupt line and a truncated last line, and keeps reading between them', async () => {
    const { lines, unreadable } = await read(`${header}\n{"kind":"op",\n${invoke}\n${invoke.slice(0, 30)}`);
    expect(lines.map(([number]) => number)).toEqual([1, 3]);
    expect(unreadable).toEqual([
      { line: 2, reason: 'not JSON' },
      { line: 4, reason: 'truncated last line (not JSON)' },
    ]);
  });

  it('accepts a complete last line without its newline', async () => {
    const { lines, unreadable } = await read(`${header}\n${invoke}`);
    expect(lines).toHaveLength(2);
    expect(unreadable).toEqual([]);
  });

  it('rejects a missing file', async () => {
    await expect(readHistory(join(directory, 'absent.jsonl'), { add: () => {}, unreadable: () => {} })).rejects.toThrow(/ENOENT/);
  });
});

describe('parseHistoryLine', () => {
  it('names what is wrong with a line that is JSON but not a history line', () => {
    expect(parseHistoryLine('[1]')).toBe('not a JSON object');
    expect(parseHistoryLine('{"kind":"gossip","time":1}')).toBe('unknown kind "gossip"');
    expect(parseHistoryLine('{"kind":"op","id":1,"type":"ok","time":-4,"f":"acquire","client":"c","worker":"w"}')).toBe('op line with a missing or bad "time"');
    expect(parseHistoryLine('{"kind":"resource","time":1,"resource":"r","client":"c","token":"7","value":1,"accepted":true}')).toBe('resource line with a missing or bad "token"');
    expect(parseHistoryLine('{"kind":"snapshot","time":1,"final":true,"locks":{"L1":[{"name":"n"}]},"sessions":[],"resources":{}}')).toBe('snapshot line with a malformed lock child');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryLine, UnreadableLine } from './history.ts';
import { parseHistoryLine, readHistory, type HistorySink, type ReadOptions } from './history-reader.ts';

const directory = mkdtempSync(join(tmpdir(), 'history-reader-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function written(text: string): string {
  const path = join(directory, `h${Math.random()}.jsonl`);
  writeFileSync(path, text);
  return path;
}

async function readOf(text: string, options: ReadOptions = {}): Promise<{ lines: Array<[number, HistoryLine]>; unreadable: UnreadableLine[] }> {
  const lines: Array<[number, HistoryLine]> = [];
  const unreadable: UnreadableLine[] = [];
  await readHistory(written(text), { add: (line, number) => lines.push([number, line]), unreadable: (line) => unreadable.push(line) }, options);
  return { lines, unreadable };
}

const header = JSON.stringify({ kind: 'header', version: 1, runId: 'r', startedAt: 'x', config: {} });
const invoke = JSON.stringify({ kind: 'op', id: 0, type: 'invoke', time: 5, f: 'acquire', client: 'c1', worker: 'w1', lock: 'L1', mode: 'try' });

describe.each([
  ['in the calling thread', Number.POSITIVE_INFINITY],
  ['in a worker thread', 0],
])('readHistory %s', (_, threadFromBytes) => {
  const read = (text: string): ReturnType<typeof readOf> => readOf(text, { threadFromBytes });

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

  it('gives every line as JSON.parse does, whatever fields it has or lacks', async () => {
    const texts = [
      header,
      invoke,
      '{"kind":"op","id":0,"type":"ok","time":6,"f":"acquire","client":"c1","worker":"w1","lock":"L1","mode":"try","access":"write","session":"0x1a","node":"/locks/L1/n-0000000001","token":4294967310}',
      '{"kind":"op","id":1,"type":"info","time":7,"f":"acquire","client":"c2","worker":"w1","lock":"L1","mode":"blocking","timeoutMs":500,"token":null,"error":"connection loss"}',
      '{"kind":"op","id":2,"type":"ok","time":8,"f":"read","client":"c1","worker":"w1","value":0}',
      '{"kind":"op","id":3,"type":"invoke","time":9,"f":"fenced-write","client":"c1","worker":"w1","lock":"L1","value":1,"token":-2.5e-3,"timeoutMs":"soon"}',
      '{"kind":"resource","time":10,"resource":"counter-L1","client":"c1","token":null,"value":1,"accepted":false}',
      '{"kind":"resource","time":11,"resource":"counter-L1","client":"c1","token":12,"value":1,"accepted":true}',
      '{"kind":"snapshot","time":12,"final":true,"locks":{"L1":[{"name":"n","path":"/locks/L1/n","czxid":5,"ephemeralOwner":"0x1a"}]},"sessions":["0x1a"],"resources":{}}',
      '{"kind":"worker","time":13,"worker":"w1","client":"c1","event":"expired","session":"0x1a"}',
      '{"kind":"end","time":14,"reason":"completed"}',
    ];
    const { lines, unreadable } = await read(`${texts.join('\n')}\n`);
    expect(unreadable).toEqual([]);
    expect(lines).toEqual(texts.map((text, i) => [i + 1, JSON.parse(text)]));
  });

  it('passes on the fields the format defines of op and resource lines, and every field of the others', async () => {
    const op = { kind: 'op', id: 2, type: 'ok', time: 8, f: 'read', client: 'c1', worker: 'w1', value: 0 };
    const proxy = { kind: 'proxy', time: 9, event: 'dropped', detail: 'x', faultId: 3, future: [1] };
    const { lines } = await read(`${JSON.stringify({ ...op, future: { kept: false } })}\n${JSON.stringify(proxy)}\n`);
    expect(lines).toEqual([[1, op], [2, proxy]]);
  });

  it('numbers repeated strings once without mixing them up across batches', async () => {
    const ops = Array.from({ length: 20_000 }, (_, id) => ({ kind: 'op', id, type: 'invoke', time: id, f: 'acquire', client: `c${id % 7}`, worker: `w${id % 3}`, lock: `L${id % 1000}`, node: `/n${id}` }));
    const { lines } = await read(`${ops.map((op) => JSON.stringify(op)).join('\n')}\n`);
    expect(lines.map(([, line]) => line)).toEqual(ops);
  });

  it('rejects with the error of a sink that throws', async () => {
    const sink: HistorySink = { add: () => { throw new Error('sink broke'); }, unreadable: () => {} };
    await expect(readHistory(written(`${header}\n${invoke}\n`), sink, { threadFromBytes })).rejects.toThrow('sink broke');
  });

  it('rejects a missing file', async () => {
    await expect(readHistory(join(directory, 'absent.jsonl'), { add: () => {}, unreadable: () => {} }, { threadFromBytes })).rejects.toThrow(/ENOENT/);
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

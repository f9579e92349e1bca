/**
 * Reads results/<run>/history.jsonl as a stream, one line at a time, into a sink (the checker). A line that is
 * not JSON or not a history line (docs/history-format.md) is reported to the sink as unreadable instead, with
 * its number and why, so that the verdict becomes "unknown" rather than the reading stopping; a run cut short
 * while writing leaves a truncated last line, which is reported the same way.
 */
import { isAscii } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { HistoryLine, UnreadableLine } from './history.ts';

export interface HistorySink {
  add(line: HistoryLine, lineNumber: number): void;
  unreadable(line: UnreadableLine): void;
}

const CHUNK_BYTES = 1 << 20;
const OPEN_BRACE = 0x7b;

/** Streams the file into `sink`; memory stays at one chunk. Rejects only if the file cannot be opened or read. */
export async function readHistory(path: string, sink: HistorySink): Promise<void> {
  // An ASCII chunk is the same text in Latin-1, which is a plain copy; UTF-8 decoding is several times slower.
  // The decoder takes over from the first chunk that is not ASCII (it may end inside a character).
  let decoder: StringDecoder | null = null;
  let carry = '';
  let lineNumber = 0;
  const take = (text: string, truncated: boolean): void => {
    lineNumber++;
    if (text.charCodeAt(0) !== OPEN_BRACE && text.trim() === '') return; // trim only what cannot be an object
    const parsed = parseHistoryLine(text);
    if (typeof parsed !== 'string') sink.add(parsed, lineNumber);
    else sink.unreadable({ line: lineNumber, reason: truncated ? `truncated last line (${parsed})` : parsed });
  };
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    if (decoder === null && !isAscii(bytes)) decoder = new StringDecoder('utf8');
    const text = carry + (decoder === null ? bytes.toString('latin1') : decoder.write(bytes));
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      take(text.slice(start, newline), false);
      start = newline + 1;
    }
    carry = text.slice(start);
  }
  carry += decoder?.end() ?? '';
  if (carry !== '') take(carry, true);
}

type FieldCheck = (value: unknown) => boolean;

const isNumber: FieldCheck = (value) => typeof value === 'number' && Number.isFinite(value);
const isTime: FieldCheck = (value) => isNumber(value) && (value as number) >= 0;
const isString: FieldCheck = (value) => typeof value === 'string';
const isBoolean: FieldCheck = (value) => typeof value === 'boolean';
const isObject: FieldCheck = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isTokenOrNull: FieldCheck = (value) => value === null || isNumber(value);
const oneOf = (...allowed: string[]): FieldCheck => {
  const set = new Set(allowed);
  return (value) => typeof value === 'string' && set.has(value);
};
const optional = (check: FieldCheck): FieldCheck => (value) => value === undefined || check(value);

/** The fields each kind of line must have for the checker to use it (the full list is in history.ts). */
const REQUIRED: Record<HistoryLine['kind'], Record<string, FieldCheck>> = {
  header: { version: isNumber, config: isObject },
  op: {
    id: isNumber,
    type: oneOf('invoke', 'ok', 'fail', 'info'),
    time: isTime,
    f: oneOf('acquire', 'release', 'read', 'fenced-write', 'campaign', 'resign'),
    client: isString,
    worker: isString,
    lock: optional(isString),
    election: optional(isString),
    permits: optional(isNumber),
    mode: optional(oneOf('try', 'blocking')),
    value: optional(isNumber),
    token: optional(isTokenOrNull),
    node: optional(isString),
    session: optional(isString),
  },
  nemesis: { id: isNumber, type: oneOf('start', 'stop'), time: isTime, f: isString },
  proxy: { time: isTime, event: isString, path: optional(isString), session: optional(isString), op: optional(isString) },
  worker: { time: isTime, worker: isString, event: isString, client: optional(isString), session: optional(isString) },
  resource: { time: isTime, resource: isString, client: isString, token: isTokenOrNull, value: isNumber, accepted: isBoolean },
  snapshot: { time: isTime, final: isBoolean, locks: isObject, sessions: Array.isArray, resources: isObject },
  end: { time: isTime, reason: oneOf('completed', 'interrupted', 'crashed') },
};

/** The same checks as lists, made once: every line goes through them, and Object.entries would build them per line. */
const CHECKS = new Map(Object.entries(REQUIRED).map(([kind, fields]) => [kind, Object.entries(fields)]));

/** One line of history.jsonl, or the reason it is not one. */
export function parseHistoryLine(text: string): HistoryLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  const kind = record.kind;
  const checks = typeof kind === 'string' ? CHECKS.get(kind) : undefined;
  if (checks === undefined) return `unknown kind ${JSON.stringify(kind)}`;
  for (const [field, check] of checks) {
    if (!check(record[field])) return `${kind} line with a missing or bad "${field}"`;
  }
  if (kind === 'snapshot' && !snapshotChildrenValid(record)) return 'snapshot line with a malformed lock child';
  return value as HistoryLine;
}

function snapshotChildrenValid(record: Record<string, unknown>): boolean {
  return Object.values(record.locks as Record<string, unknown>).every(
    (children) =>
      Array.isArray(children) &&
      children.every((child: unknown) => {
        if (!isObject(child)) return false;
        const { name, path, czxid, ephemeralOwner } = child as Record<string, unknown>;
        return isString(name) && isString(path) && isNumber(czxid) && isString(ephemeralOwner);
      }),
  );
}

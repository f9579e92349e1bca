/**
 * Reads results/<run>/history.jsonl, one line at a time, into a sink (the checker). A line that is not JSON or
 * not a history line (docs/history-format.md) is reported to the sink as unreadable instead, with its number and
 * why, so that the verdict becomes "unknown" rather than the reading stopping; a run cut short while writing
 * leaves a truncated last line, which is reported the same way.
 *
 * JSON.parse is most of the reading, and as much as the checker again: for a large file it runs in a worker
 * thread, beside the checker on the calling thread. Structured cloning the parsed lines would cost more than
 * parsing them, so the worker packs each op and resource line (nearly all of a history) into typed arrays, its
 * repeated strings (clients, locks, sessions…) numbered once, and the calling thread unpacks them into plain
 * objects of one shape; other lines, rare, travel as they are. A small file takes the same path without the
 * thread, whose start costs more than such a file's parsing.
 */
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { HistoryLine, OpLine, ResourceLine, UnreadableLine } from './history.ts';

export interface HistorySink {
  /**
   * Op and resource lines come with the fields history.ts defines for them, each present (`undefined` where the
   * line has none) and no other; every other line as JSON.parse gives it.
   */
  add(line: HistoryLine, lineNumber: number): void;
  unreadable(line: UnreadableLine): void;
}

export interface ReadOptions {
  /** Parse in a worker thread when the file has at least this many bytes. Default 8 MiB; Infinity: never. */
  threadFromBytes?: number;
}

const CHUNK_BYTES = 1 << 20;
const OPEN_BRACE = 0x7b;
const THREAD_FROM_BYTES = 8 << 20;

/**
 * Reads the file into `sink`; memory stays at a few batches of lines. Rejects if the file cannot be opened or
 * read, or if the sink throws.
 */
export async function readHistory(path: string, sink: HistorySink, options: ReadOptions = {}): Promise<void> {
  const size = statSync(path).size;
  if (size < (options.threadFromBytes ?? THREAD_FROM_BYTES)) {
    const unpacker = new Unpacker(sink);
    parseFile(path, (batch) => unpacker.replay(batch));
    return;
  }
  await readInWorker(path, sink);
}

/** Batches on their way from the worker, at most: the worker waits while the calling thread catches up. */
const MAX_BATCHES_IN_FLIGHT = 4;

function readInWorker(path: string, sink: HistorySink): Promise<void> {
  const inFlight = new Int32Array(new SharedArrayBuffer(4));
  const worker = startWorker({ path, inFlight });
  const unpacker = new Unpacker(sink);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (error === undefined) resolve();
      else reject(error);
    };
    worker.on('message', (message: Batch | 'done') => {
      if (message === 'done') return settle();
      try {
        unpacker.replay(message);
      } catch (error) {
        return settle(error);
      }
      Atomics.sub(inFlight, 0, 1);
      Atomics.notify(inFlight, 0);
    });
    worker.on('error', settle);
    worker.on('exit', () => settle(new Error('the history reader thread stopped before the end of the file')));
  });
}

interface WorkerInput {
  path: string;
  inFlight: Int32Array;
}

/** This module is the worker's code too; run through tsx (a .ts file), the worker needs tsx to load it. */
function startWorker(input: WorkerInput): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: input });
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  return new Worker(bootstrap, { eval: true, workerData: input });
}

/** Reads and parses the whole file, handing over each batch of lines as it fills. */
function parseFile(path: string, emit: (batch: Batch) => void): void {
  const packer = new Packer(emit);
  const fd = openSync(path, 'r');
  try {
    // An ASCII chunk is the same text in Latin-1, which is a plain copy; UTF-8 decoding is several times slower.
    // The decoder takes over from the first chunk that is not ASCII (it may end inside a character).
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let decoder: StringDecoder | null = null;
    let carry = '';
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
      const bytes = buffer.subarray(0, read);
      if (decoder === null && !isAscii(bytes)) decoder = new StringDecoder('utf8');
      const text = carry + (decoder === null ? bytes.toString('latin1') : decoder.write(bytes));
      let start = 0;
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
        packer.line(text.slice(start, newline), false);
        start = newline + 1;
      }
      carry = text.slice(start);
    }
    carry += decoder?.end() ?? '';
    if (carry !== '') packer.line(carry, true);
  } finally {
    closeSync(fd);
  }
  packer.flush();
}

/** Lines per batch. */
const BATCH_LINES = 8192;
/** What each entry of a batch is. */
const OP = 1;
const RESOURCE = 2;
/** A line that travels as it is (`others`): any other kind, or an op line with a field of an unusual type. */
const OTHER = 3;
const UNREADABLE = 4;
/** Numbers per entry: its line number, then the line's numbers (op: id, time, value, token, timeoutMs; resource: time, value, token). */
const NUMBERS = 6;
/** Strings per entry (op: type, f, client, worker, lock, mode, access, node, session, error; resource: resource, client). */
const STRINGS = 10;
/** A string field: ≥ 0 a string of the table, ABSENT, or ≤ -2 a string of the batch's `texts` (those that seldom repeat). */
const ABSENT = -1;
/** In the token's place: the line's token is null (NaN there means no token at all). */
const NULL_TOKEN = Number.NEGATIVE_INFINITY;

/** Lines packed for the trip between threads; typed arrays move without a copy. */
interface Batch {
  entries: number;
  kinds: Uint8Array<ArrayBuffer>;
  numbers: Float64Array<ArrayBuffer>;
  strings: Int32Array<ArrayBuffer>;
  /** Strings numbered in this batch for the first time, in order: the table grows by them. */
  newStrings: string[];
  texts: string[];
  others: Array<HistoryLine | UnreadableLine>;
}

class Packer {
  private readonly table = new Map<string, number>();
  private lineNumber = 0;
  private batch = Packer.emptyBatch();

  constructor(private readonly emit: (batch: Batch) => void) {}

  line(text: string, truncated: boolean): void {
    this.lineNumber++;
    if (text.charCodeAt(0) !== OPEN_BRACE && text.trim() === '') return; // trim only what cannot be an object
    const parsed = parseHistoryLine(text);
    const batch = this.batch;
    const entry = batch.entries;
    const at = entry * NUMBERS;
    batch.numbers[at] = this.lineNumber;
    if (typeof parsed === 'string') this.other(UNREADABLE, { line: this.lineNumber, reason: truncated ? `truncated last line (${parsed})` : parsed });
    else if (parsed.kind === 'op' && packable(parsed)) this.op(parsed, at, entry * STRINGS);
    else if (parsed.kind === 'resource') this.resource(parsed, at, entry * STRINGS);
    else this.other(OTHER, parsed);
    if (++batch.entries === BATCH_LINES) this.flush();
  }

  flush(): void {
    if (this.batch.entries === 0) return;
    this.emit(this.batch);
    this.batch = Packer.emptyBatch();
  }

  private op(line: OpLine, at: number, stringsAt: number): void {
    const { batch } = this;
    batch.kinds[batch.entries] = OP;
    const numbers = batch.numbers;
    numbers[at + 1] = line.id;
    numbers[at + 2] = line.time;
    numbers[at + 3] = line.value ?? Number.NaN;
    numbers[at + 4] = line.token === null ? NULL_TOKEN : (line.token ?? Number.NaN);
    numbers[at + 5] = line.timeoutMs ?? Number.NaN;
    const strings = batch.strings;
    strings[stringsAt] = this.repeated(line.type);
    strings[stringsAt + 1] = this.repeated(line.f);
    strings[stringsAt + 2] = this.repeated(line.client);
    strings[stringsAt + 3] = this.repeated(line.worker);
    strings[stringsAt + 4] = this.repeated(line.lock);
    strings[stringsAt + 5] = this.repeated(line.mode);
    strings[stringsAt + 6] = this.repeated(line.access);
    strings[stringsAt + 7] = this.seldom(line.node);
    strings[stringsAt + 8] = this.repeated(line.session);
    strings[stringsAt + 9] = this.seldom(line.error);
  }

  private resource(line: ResourceLine, at: number, stringsAt: number): void {
    const { batch } = this;
    batch.kinds[batch.entries] = RESOURCE;
    const numbers = batch.numbers;
    numbers[at + 1] = line.accepted ? 1 : 0;
    numbers[at + 2] = line.time;
    numbers[at + 3] = line.value;
    numbers[at + 4] = line.token ?? NULL_TOKEN;
    batch.strings[stringsAt] = this.repeated(line.resource);
    batch.strings[stringsAt + 1] = this.repeated(line.client);
  }

  private other(kind: typeof OTHER | typeof UNREADABLE, line: HistoryLine | UnreadableLine): void {
    const { batch } = this;
    batch.kinds[batch.entries] = kind;
    batch.numbers[batch.entries * NUMBERS + 1] = batch.others.length;
    batch.others.push(line);
  }

  /** A string that recurs (a client, a lock, a session): numbered once for the whole file. */
  private repeated(value: string | undefined): number {
    if (value === undefined) return ABSENT;
    let id = this.table.get(value);
    if (id === undefined) {
      id = this.table.size;
      this.table.set(value, id);
      this.batch.newStrings.push(value);
    }
    return id;
  }

  /** A string that seldom recurs (a node path, an error): numbering it would keep every one of them. */
  private seldom(value: string | undefined): number {
    if (value === undefined) return ABSENT;
    return -2 - (this.batch.texts.push(value) - 1);
  }

  private static emptyBatch(): Batch {
    return {
      entries: 0,
      kinds: new Uint8Array(BATCH_LINES),
      numbers: new Float64Array(BATCH_LINES * NUMBERS),
      strings: new Int32Array(BATCH_LINES * STRINGS),
      newStrings: [],
      texts: [],
      others: [],
    };
  }
}

/**
 * The op line's fields that validation leaves alone have the types packing gives them back with, and it has none of
 * the fields packing leaves out (an election's, a semaphore's: such lines travel as they are).
 */
function packable(line: OpLine): boolean {
  const { access, timeoutMs, error, election, permits } = line as unknown as Fields;
  return (access === undefined || typeof access === 'string') && (timeoutMs === undefined || isNumber(timeoutMs)) && (error === undefined || typeof error === 'string') &&
    election === undefined && permits === undefined;
}

class Unpacker {
  private readonly table: string[] = [];

  constructor(private readonly sink: HistorySink) {}

  replay(batch: Batch): void {
    const { table, sink } = this;
    for (const text of batch.newStrings) table.push(text);
    const { kinds, numbers, strings, texts, others } = batch;
    const string = (id: number): string | undefined => (id >= 0 ? table[id] : id === ABSENT ? undefined : texts[-2 - id]);
    for (let entry = 0; entry < batch.entries; entry++) {
      const at = entry * NUMBERS;
      const stringsAt = entry * STRINGS;
      const lineNumber = numbers[at]!;
      switch (kinds[entry]) {
        case OP: {
          const token = numbers[at + 4]!;
          const line: OpLine = {
            kind: 'op',
            id: numbers[at + 1]!,
            type: string(strings[stringsAt]!) as OpLine['type'],
            time: numbers[at + 2]!,
            f: string(strings[stringsAt + 1]!) as OpLine['f'],
            client: string(strings[stringsAt + 2]!)!,
            worker: string(strings[stringsAt + 3]!)!,
            lock: string(strings[stringsAt + 4]!),
            mode: string(strings[stringsAt + 5]!) as OpLine['mode'],
            access: string(strings[stringsAt + 6]!) as OpLine['access'],
            timeoutMs: numberOrUndefined(numbers[at + 5]!),
            value: numberOrUndefined(numbers[at + 3]!),
            token: token === NULL_TOKEN ? null : numberOrUndefined(token),
            node: string(strings[stringsAt + 7]!),
            session: string(strings[stringsAt + 8]!),
            error: string(strings[stringsAt + 9]!),
          };
          sink.add(line, lineNumber);
          break;
        }
        case RESOURCE: {
          const token = numbers[at + 4]!;
          const line: ResourceLine = {
            kind: 'resource',
            time: numbers[at + 2]!,
            resource: string(strings[stringsAt]!)!,
            client: string(strings[stringsAt + 1]!)!,
            token: token === NULL_TOKEN ? null : token,
            value: numbers[at + 3]!,
            accepted: numbers[at + 1] === 1,
          };
          sink.add(line, lineNumber);
          break;
        }
        case OTHER:
          sink.add(others[numbers[at + 1]!] as HistoryLine, lineNumber);
          break;
        case UNREADABLE:
          sink.unreadable(others[numbers[at + 1]!] as UnreadableLine);
          break;
      }
    }
  }
}

function numberOrUndefined(value: number): number | undefined {
  return Number.isNaN(value) ? undefined : value;
}

type Fields = Record<string, unknown>;

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isTime = (value: unknown): boolean => isNumber(value) && value >= 0;
const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): boolean => typeof value === 'boolean';
const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const isTokenOrNull = (value: unknown): boolean => value === null || isNumber(value);
const isOneOf = (value: unknown, allowed: ReadonlySet<string>): boolean => typeof value === 'string' && allowed.has(value);

const OP_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const OP_FUNCTIONS: ReadonlySet<string> = new Set(['acquire', 'release', 'read', 'fenced-write', 'campaign', 'resign']);
const MODES: ReadonlySet<string> = new Set(['try', 'blocking']);
const NEMESIS_TYPES: ReadonlySet<string> = new Set(['start', 'stop']);
const END_REASONS: ReadonlySet<string> = new Set(['completed', 'interrupted', 'crashed']);

/**
 * For each kind, the first field the checker needs that is missing or bad (the full list of fields is in
 * history.ts), or null. Written out field by field: every line goes through one of these, and a table of
 * field checks walked per line cost as much as JSON.parse itself.
 */
const BAD_FIELD: Record<HistoryLine['kind'], (line: Fields) => string | null> = {
  header(line) {
    if (!isNumber(line.version)) return 'version';
    if (!isObject(line.config)) return 'config';
    return null;
  },
  op(line) {
    if (!isNumber(line.id)) return 'id';
    if (!isOneOf(line.type, OP_TYPES)) return 'type';
    if (!isTime(line.time)) return 'time';
    if (!isOneOf(line.f, OP_FUNCTIONS)) return 'f';
    if (!isString(line.client)) return 'client';
    if (!isString(line.worker)) return 'worker';
    if (line.lock !== undefined && !isString(line.lock)) return 'lock';
    if (line.election !== undefined && !isString(line.election)) return 'election';
    if (line.permits !== undefined && !isNumber(line.permits)) return 'permits';
    if (line.mode !== undefined && !isOneOf(line.mode, MODES)) return 'mode';
    if (line.value !== undefined && !isNumber(line.value)) return 'value';
    if (line.token !== undefined && !isTokenOrNull(line.token)) return 'token';
    if (line.node !== undefined && !isString(line.node)) return 'node';
    if (line.session !== undefined && !isString(line.session)) return 'session';
    return null;
  },
  nemesis(line) {
    if (!isNumber(line.id)) return 'id';
    if (!isOneOf(line.type, NEMESIS_TYPES)) return 'type';
    if (!isTime(line.time)) return 'time';
    if (!isString(line.f)) return 'f';
    return null;
  },
  proxy(line) {
    if (!isTime(line.time)) return 'time';
    if (!isString(line.event)) return 'event';
    if (line.path !== undefined && !isString(line.path)) return 'path';
    if (line.session !== undefined && !isString(line.session)) return 'session';
    if (line.op !== undefined && !isString(line.op)) return 'op';
    return null;
  },
  worker(line) {
    if (!isTime(line.time)) return 'time';
    if (!isString(line.worker)) return 'worker';
    if (!isString(line.event)) return 'event';
    if (line.client !== undefined && !isString(line.client)) return 'client';
    if (line.session !== undefined && !isString(line.session)) return 'session';
    return null;
  },
  resource(line) {
    if (!isTime(line.time)) return 'time';
    if (!isString(line.resource)) return 'resource';
    if (!isString(line.client)) return 'client';
    if (!isTokenOrNull(line.token)) return 'token';
    if (!isNumber(line.value)) return 'value';
    if (!isBoolean(line.accepted)) return 'accepted';
    return null;
  },
  snapshot(line) {
    if (!isTime(line.time)) return 'time';
    if (!isBoolean(line.final)) return 'final';
    if (!isObject(line.locks)) return 'locks';
    if (!Array.isArray(line.sessions)) return 'sessions';
    if (!isObject(line.resources)) return 'resources';
    return null;
  },
  end(line) {
    if (!isTime(line.time)) return 'time';
    if (!isOneOf(line.reason, END_REASONS)) return 'reason';
    return null;
  },
};

/** One line of history.jsonl, or the reason it is not one. */
export function parseHistoryLine(text: string): HistoryLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not a JSON object';
  const kind = value.kind;
  const badField = typeof kind === 'string' && Object.hasOwn(BAD_FIELD, kind) ? BAD_FIELD[kind as HistoryLine['kind']] : undefined;
  if (badField === undefined) return `unknown kind ${JSON.stringify(kind)}`;
  const field = badField(value);
  if (field !== null) return `${kind} line with a missing or bad "${field}"`;
  if (kind === 'snapshot' && !snapshotChildrenValid(value)) return 'snapshot line with a malformed lock child';
  return value as unknown as HistoryLine;
}

function snapshotChildrenValid(record: Fields): boolean {
  return Object.values(record.locks as Fields).every(
    (children) =>
      Array.isArray(children) &&
      children.every((child: unknown) => {
        if (!isObject(child)) return false;
        const { name, path, czxid, ephemeralOwner } = child;
        return isString(name) && isString(path) && isNumber(czxid) && isString(ephemeralOwner);
      }),
  );
}

// The worker's work; last, so that everything it uses is defined.
if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.inFlight instanceof Int32Array) {
  const { path, inFlight } = workerData as WorkerInput;
  parseFile(path, (batch) => {
    while (Atomics.load(inFlight, 0) >= MAX_BATCHES_IN_FLIGHT) Atomics.wait(inFlight, 0, MAX_BATCHES_IN_FLIGHT);
    Atomics.add(inFlight, 0, 1);
    parentPort!.postMessage(batch, [batch.numbers.buffer, batch.strings.buffer, batch.kinds.buffer]);
  });
  parentPort!.postMessage('done');
}

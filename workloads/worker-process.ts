/**
 * The runner's side of docs/worker-protocol.md: spawns one worker command (a client host), pairs every request
 * with its answer, validates what the worker says, and reports its events and its death. A worker that dies is
 * never hidden: its pending requests resolve as `info` with error "worker crashed", and onExit listeners hear it.
 *
 * The worker runs in its own process group, so `signal()` pauses (SIGSTOP), resumes or kills it as a unit, with
 * any processes it started (a `sh -c` wrapper, a JVM's helpers). Whoever spawns it stops it (a testbed does);
 * when its owner dies instead, its stdin closes and the worker leaves by itself (docs/worker-protocol.md).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import {
  ANSWER_ERRORS, OK_ANSWER_BY_REQUEST, WorkerAnswer, WorkerEvent, type InitRequest, type WorkerRequest,
} from './protocol.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as the caller writes it: the id is the WorkerProcess's business. */
export type OutgoingRequest = DistributiveOmit<Exclude<WorkerRequest, InitRequest>, 'id'>;

export interface WorkerProcessOptions {
  /** The client host's name in the history, e.g. "w1". */
  name: string;
  /** argv of the worker: [program, ...args]. */
  command: readonly string[];
  /** The worker's stderr goes here (appended), with the runner's own notes about this worker. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Signals the worker's process group where it really runs, when the command only reaches it (ssh to a client
   * host); default: the local child's group.
   */
  signalGroup?: (signal: NodeJS.Signals) => Promise<void>;
}

/** Lines of stderr kept to explain a crash. */
const STDERR_TAIL_LINES = 5;
const DEFAULT_INIT_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_GRACE_MS = 3_000;

interface Pending {
  /** The request's type, to check the shape of an ok; undefined for a raw line. */
  type: WorkerRequest['type'] | undefined;
  resolve: (answer: WorkerAnswer) => void;
}

export class WorkerProcess {
  /** Client ids this worker hosts, from its init. */
  clients: readonly string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly log: WriteStream;
  private readonly pending = new Map<number, Pending>();
  /** Raw lines waiting for an answer with in_reply_to null, in the order they were sent. */
  private readonly unpairedWaiters: ((answer: WorkerAnswer) => void)[] = [];
  private readonly eventListeners: ((event: WorkerEvent) => void)[] = [];
  private readonly exitListeners: ((detail: string) => void)[] = [];
  private readonly violationListeners: ((detail: string) => void)[] = [];
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<void>;
  private nextId = 1;
  private exitDetail: string | undefined;
  private stopping = false;

  private constructor(
    readonly name: string,
    command: readonly string[],
    logFile: string,
    env: NodeJS.ProcessEnv | undefined,
    private readonly signalGroup: ((signal: NodeJS.Signals) => Promise<void>) | undefined,
  ) {
    const [program, ...args] = command;
    if (program === undefined) throw new Error(`worker ${name}: empty command`);
    mkdirSync(dirname(logFile), { recursive: true });
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: env ?? process.env });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.finish(signal === null ? `exit code ${code}` : `killed by ${signal}`);
        resolve();
      });
      this.child.on('error', (error) => {
        // Only a failed spawn reaches here without a close to follow.
        if (this.child.pid === undefined) {
          this.finish(`could not start ${program}: ${error.message}`);
          resolve();
        }
      });
    });
    // A worker that died has a closed stdin; its pending requests are answered by finish().
    this.child.stdin.on('error', () => {});
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      this.rememberStderr(chunk.toString());
    });
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => this.receive(line));
    this.note(`started: ${command.join(' ')} (pid ${this.child.pid ?? 'none'})`);
  }

  static spawn(options: WorkerProcessOptions): WorkerProcess {
    return new WorkerProcess(options.name, options.command, options.logFile, options.env, options.signalGroup);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitDetail === undefined;
  }

  onEvent(listener: (event: WorkerEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /** Called once when the worker exits, whatever the reason, with a line that says how ("exit code 1: ..."). */
  onExit(listener: (detail: string) => void): void {
    this.exitListeners.push(listener);
  }

  /** Called for every line on stdout that breaks the protocol (it is also logged, and an answer becomes info). */
  onProtocolViolation(listener: (detail: string) => void): void {
    this.violationListeners.push(listener);
  }

  /** Sends init; answers `info` if the worker says nothing within timeoutMs (its sessions may still be connecting). */
  async init(request: Omit<InitRequest, 'id'>, timeoutMs = DEFAULT_INIT_TIMEOUT_MS): Promise<WorkerAnswer> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<WorkerAnswer>((resolve) => {
      timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ in_reply_to: id, type: 'info', error: `no init_ok within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    const answer = await Promise.race([this.send(id, request), timeout]).finally(() => clearTimeout(timer));
    if (answer.type === 'init_ok') this.clients = [...new Set(request.clients)];
    return answer;
  }

  /** Sends one request and resolves with its answer. Cheap on purpose: the runner stamps times around it. */
  request(request: OutgoingRequest): Promise<WorkerAnswer> {
    return this.send(this.nextId++, request);
  }

  /**
   * Sends one line as it is (the conformance suite's malformed requests). Resolves with the answer to `id`, or,
   * without an id, with the next answer whose in_reply_to is null.
   */
  sendRaw(line: string, id?: number): Promise<WorkerAnswer> {
    if (!this.alive) return Promise.resolve(this.crashAnswer(id ?? null));
    return new Promise((resolve) => {
      if (id === undefined) this.unpairedWaiters.push(resolve);
      else this.pending.set(id, { type: undefined, resolve });
      this.writeLine(line);
    });
  }

  /** Sends a signal to the worker's whole process group (SIGSTOP, SIGCONT, SIGKILL); resolves once it was sent. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive || this.child.pid === undefined) return;
    if (this.signalGroup !== undefined) {
      await this.signalGroup(signal).catch((error: unknown) => this.note(`${signal} failed: ${error instanceof Error ? error.message : String(error)}`));
      return;
    }
    try {
      process.kill(-this.child.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  /** Closes stdin (the worker closes its sessions and exits), then kills the group if it is still there after graceMs. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    if (this.alive) {
      this.stopping = true;
      void this.signal('SIGCONT');
      this.child.stdin.end();
      const timer = setTimeout(() => void this.signal('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private send(id: number, request: OutgoingRequest | Omit<InitRequest, 'id'>): Promise<WorkerAnswer> {
    if (!this.alive) return Promise.resolve(this.crashAnswer(id));
    return new Promise((resolve) => {
      this.pending.set(id, { type: request.type, resolve });
      this.writeLine(JSON.stringify({ ...request, id }));
    });
  }

  /**
   * Requests sent in one turn of the event loop (a batch of answers sets many clients going at once) leave in one
   * write: one wake-up of the worker instead of one per request.
   */
  private writeLine(line: string): void {
    const stdin = this.child.stdin;
    if (stdin.writableCorked === 0) {
      stdin.cork();
      setImmediate(() => stdin.uncork());
    }
    stdin.write(`${line}\n`);
  }

  private receive(line: string): void {
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.violation(`stdout line is not JSON (logs belong on stderr): ${line.slice(0, 300)}`);
      return;
    }
    if ((message as { type?: unknown }).type === 'event') {
      const event = WorkerEvent.safeParse(message);
      if (event.success) for (const listener of this.eventListeners) listener(event.data);
      else this.violation(`malformed event ${line.slice(0, 300)}: ${event.error.issues[0]?.message}`);
      return;
    }
    const id = (message as { in_reply_to?: unknown }).in_reply_to;
    const waiter = id === null ? this.unpairedWaiters.shift() : undefined;
    if (waiter !== undefined) {
      waiter(this.validate(null, undefined, message, line));
      return;
    }
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (pending === undefined) {
      this.violation(`answer to no pending request: ${line.slice(0, 300)}`);
      return;
    }
    this.pending.delete(id as number);
    pending.resolve(this.validate(id as number, pending.type, message, line));
  }

  /** An answer that breaks the protocol is unknown, never definite: it resolves as info and is logged. */
  private validate(id: number | null, type: WorkerRequest['type'] | undefined, message: unknown, line: string): WorkerAnswer {
    const answer = WorkerAnswer.safeParse(message);
    const okSchema = type === 'acquire' || type === 'read' ? OK_ANSWER_BY_REQUEST[type] : undefined;
    const checked = answer.success && answer.data.type === 'ok' && okSchema !== undefined ? okSchema.safeParse(message) : answer;
    if (checked.success) return answer.data!;
    const issue = checked.error.issues[0];
    const problem = `malformed answer to ${type ?? 'a raw line'}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim();
    this.violation(`${problem}: ${line.slice(0, 300)}`);
    return { in_reply_to: id, type: 'info', error: problem };
  }

  private finish(how: string): void {
    if (this.exitDetail !== undefined) return;
    const tail = this.stderrTail.join(' | ');
    this.exitDetail = tail === '' || this.stopping ? how : `${how}: ${tail}`;
    this.note(`exited: ${this.exitDetail}`);
    for (const [id, pending] of this.pending) pending.resolve(this.crashAnswer(id));
    this.pending.clear();
    for (const waiter of this.unpairedWaiters.splice(0)) waiter(this.crashAnswer(null));
    for (const listener of this.exitListeners) listener(this.exitDetail);
  }

  private crashAnswer(id: number | null): WorkerAnswer {
    return { in_reply_to: id, type: 'info', error: this.stopping ? ANSWER_ERRORS.workerStopped : ANSWER_ERRORS.workerCrashed };
  }

  private rememberStderr(text: string): void {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      this.stderrTail.push(line.trim().slice(0, 200));
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    }
  }

  private violation(detail: string): void {
    this.note(`protocol violation: ${detail}`);
    for (const listener of this.violationListeners) listener(detail);
  }

  /** The runner's own notes go to the worker's log, marked so they are not taken for the worker's words. */
  private note(text: string): void {
    if (this.log.writable) this.log.write(`[runner] ${new Date().toISOString()} ${this.name} ${text}\n`);
  }
}

/**
 * The runner's side of the fault proxy: spawns the proxy process, speaks its control API (docs/proxy-api.md)
 * and delivers its events. The proxy runs apart so that the runner's garbage collection never stalls clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { registerCleanup } from '../../ground/cleanup.ts';
import type {
  ClientHostAddresses,
  ConnectionInfo,
  DisarmOutcome,
  FaultFilter,
  FaultKind,
  LatencyRequest,
  LinkSelector,
  PartitionRequest,
  ProxyEvent,
  ReadyLine,
  SessionLocation,
} from './api.ts';

export type { ConnectionInfo, Delay, Direction, DisarmOutcome, FaultFilter, LatencyRequest, LinkSelector, PartitionRequest, ProxyEvent, SessionLocation } from './api.ts';

export interface StartProxyOptions {
  /** ZooKeeper servers by node id, as the proxy reaches them (Cluster.clientAddress). */
  servers: ReadonlyMap<number, { host: string; port: number }>;
  /** The proxy logs every event and every error here (appending). */
  logFile: string;
  /** Frames longer than this are treated as malformed; default 4 MiB. */
  maxFrameBytes?: number;
  /** Where the proxy runs; default: a child process of this one, its control port on this machine's loopback. */
  launch?: ProxyLauncher;
}

/** Runs the proxy elsewhere (another host, over SSH): how to start it and how to reach its control port from here. */
export interface ProxyLauncher {
  /** Starts `main.ts` (or a bundle of it) with these arguments; its stdout carries the ready line. Killing the child stops it. */
  spawn(mainArguments: readonly string[]): ChildProcess;
  /** The port on this machine's 127.0.0.1 that reaches the proxy's control port. */
  reach(controlPort: number): Promise<number>;
}

/** A fault waiting for its request. */
export interface ArmedFault {
  readonly id: number;
  /**
   * Resolves with the event that applied the fault — request-dropped, reply-dropped, or reply-held (the server
   * has applied the request and its reply is in the proxy's hands: kill the server now) — or with undefined
   * when the fault ended without effect (disarmed, or its connection closed before the reply came).
   */
  readonly applied: Promise<ProxyEvent | undefined>;
  /** Disarms it if it has not matched yet, or releases its held reply. */
  disarm(): Promise<DisarmOutcome>;
}

export interface ProxyHandle {
  readonly controlPort: number;
  /** Opens one loopback listener per server for this client host; returns the connect string its clients use. */
  addClientHost(name: string): Promise<string>;
  /** Black-holes the chosen links (default every client host × every server, both directions). */
  partition(request?: PartitionRequest): Promise<void>;
  /** Lifts the partition of the chosen links (default all): held bytes flow on, waiting connections reset. */
  heal(selector?: LinkSelector): Promise<void>;
  /** Sets the delay of each direction of the chosen links (a direction left out: no delay). */
  setLatency(request: LatencyRequest): Promise<void>;
  /** Resets every connection of the chosen links now; resolves with how many. */
  reset(selector?: LinkSelector): Promise<number>;
  armLostReply(filter?: FaultFilter): Promise<ArmedFault>;
  armLostRequest(filter?: FaultFilter): Promise<ArmedFault>;
  armHoldReply(filter?: FaultFilter): Promise<ArmedFault>;
  disarm(faultId: number): Promise<DisarmOutcome>;
  /** Heals partitions, clears latency, disarms pending faults and releases held replies. */
  healAll(): Promise<void>;
  /** The server (and client host) a session's connection goes to right now; undefined when it has none. */
  sessionServer(session: string): Promise<SessionLocation | undefined>;
  connections(): Promise<ConnectionInfo[]>;
  /** Every event of the proxy, in order; returns a function that unsubscribes. */
  onEvent(listener: (event: ProxyEvent) => void): () => void;
  /** Stops the proxy process (every connection through it closes). Safe to call twice. */
  close(): Promise<void>;
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The proxy's program (docs/proxy-api.md); a launcher elsewhere runs it, or a bundle of it. */
export const PROXY_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
/** Events that end a fault: the ones that apply it, and the ones that end it without effect. */
const APPLIED_EVENTS = new Set<ProxyEvent['event']>(['request-dropped', 'reply-dropped', 'reply-held']);
const UNAPPLIED_EVENTS = new Set<ProxyEvent['event']>(['disarmed', 'fault-aborted']);

export async function startProxy(options: StartProxyOptions): Promise<ProxyHandle> {
  const servers = [...options.servers].map(([id, { host, port }]) => `${id}=${host}:${port}`).join(',');
  const args = ['--servers', servers, '--log-file', options.logFile];
  if (options.maxFrameBytes !== undefined) args.push('--max-frame-bytes', String(options.maxFrameBytes));
  const child = options.launch?.spawn(args) ?? spawn(process.execPath, ['--import', 'tsx', PROXY_MAIN, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const unregisterCleanup = registerCleanup(`fault proxy ${child.pid}`, () => stopChild(child));
  try {
    const ready = await readReadyLine(child);
    const controlPort = options.launch === undefined ? ready.controlPort : await options.launch.reach(ready.controlPort);
    const handle = new ProxyClient(child, controlPort, unregisterCleanup);
    await handle.subscribe();
    return handle;
  } catch (error) {
    await stopChild(child);
    unregisterCleanup();
    throw error;
  }
}

class ProxyClient implements ProxyHandle {
  private readonly listeners = new Set<(event: ProxyEvent) => void>();
  private readonly faultWaiters = new Map<number, (event: ProxyEvent | undefined) => void>();
  /** Fault outcomes that arrived before the arming call returned. */
  private readonly earlyOutcomes = new Map<number, ProxyEvent | undefined>();
  private eventsRequest: http.ClientRequest | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly controlPort: number,
    private readonly unregisterCleanup: () => void,
  ) {}

  /** Opens the event stream; resolves once the proxy answered, so no later event can be missed. */
  subscribe(): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port: this.controlPort, path: '/events', agent: false }, (response) => {
        let partial = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => {
          const lines = (partial + text).split('\n');
          partial = lines.pop()!;
          for (const line of lines) if (line !== '') this.dispatch(JSON.parse(line) as ProxyEvent);
        });
        resolve();
      });
      request.on('error', (error) => (this.closing === undefined ? reject(error) : undefined));
      this.eventsRequest = request;
    });
  }

  private dispatch(event: ProxyEvent): void {
    if (event.faultId !== undefined && (APPLIED_EVENTS.has(event.event) || UNAPPLIED_EVENTS.has(event.event))) {
      const outcome = APPLIED_EVENTS.has(event.event) ? event : undefined;
      const waiter = this.faultWaiters.get(event.faultId);
      if (waiter === undefined) this.earlyOutcomes.set(event.faultId, outcome);
      else {
        this.faultWaiters.delete(event.faultId);
        waiter(outcome);
      }
    }
    for (const listener of this.listeners) listener(event);
  }

  onEvent(listener: (event: ProxyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addClientHost(name: string): Promise<string> {
    const addresses = await this.call<ClientHostAddresses>('POST', '/client-hosts', { name });
    return addresses.connectString;
  }

  async partition(request: PartitionRequest = {}): Promise<void> {
    await this.call('POST', '/partition', request);
  }

  async heal(selector: LinkSelector = {}): Promise<void> {
    await this.call('POST', '/heal', selector);
  }

  async setLatency(request: LatencyRequest): Promise<void> {
    await this.call('POST', '/latency', request);
  }

  async reset(selector: LinkSelector = {}): Promise<number> {
    return (await this.call<{ connections: number }>('POST', '/reset', selector)).connections;
  }

  armLostReply(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm('lost-reply', filter);
  }

  armLostRequest(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm('lost-request', filter);
  }

  armHoldReply(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm('hold-reply', filter);
  }

  private async arm(kind: FaultKind, filter: FaultFilter): Promise<ArmedFault> {
    const { id } = await this.call<{ id: number }>('POST', '/faults', { kind, filter });
    const applied = new Promise<ProxyEvent | undefined>((resolve) => {
      if (this.earlyOutcomes.has(id)) {
        resolve(this.earlyOutcomes.get(id));
        this.earlyOutcomes.delete(id);
      } else {
        this.faultWaiters.set(id, resolve);
      }
    });
    return { id, applied, disarm: () => this.disarm(id) };
  }

  async disarm(faultId: number): Promise<DisarmOutcome> {
    return (await this.call<{ outcome: DisarmOutcome }>('DELETE', `/faults/${faultId}`)).outcome;
  }

  async healAll(): Promise<void> {
    await this.call('POST', '/heal-all');
  }

  async sessionServer(session: string): Promise<SessionLocation | undefined> {
    return this.call<SessionLocation>('GET', `/sessions/${encodeURIComponent(session)}`, undefined, true);
  }

  connections(): Promise<ConnectionInfo[]> {
    return this.call<ConnectionInfo[]>('GET', '/connections');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.eventsRequest?.destroy();
      await stopChild(this.child);
      this.unregisterCleanup();
      for (const waiter of this.faultWaiters.values()) waiter(undefined);
      this.faultWaiters.clear();
    })();
    return this.closing;
  }

  /** One control call; with `absentIsUndefined`, a 404 answers undefined instead of throwing. */
  private call<T>(method: string, path: string, body?: unknown, absentIsUndefined = false): Promise<T> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.reject(new Error(`fault proxy has exited (${this.child.exitCode ?? this.child.signalCode})`));
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: this.controlPort,
          method,
          path,
          agent: false,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as T & { error?: string };
            if (response.statusCode === 200) resolve(answer);
            else if (response.statusCode === 404 && absentIsUndefined) resolve(undefined as T);
            else reject(new Error(`fault proxy: ${method} ${path}: ${answer.error ?? response.statusCode}`));
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }
}

/** Waits for `{"controlPort":N}`; afterwards the proxy's stderr (only ever a crash report) goes to ours. */
function readReadyLine(child: ChildProcess): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const collectStderr = (text: string): void => {
      stderr += text;
    };
    const onStdout = (text: string): void => {
      stdout += text;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      const line = stdout.slice(0, newline);
      try {
        const ready = JSON.parse(line) as ReadyLine;
        settle();
        child.stderr!.off('data', collectStderr).on('data', (text: string) => process.stderr.write(`fault proxy: ${text}`));
        child.stdout!.resume();
        resolve(ready);
      } catch {
        fail(`printed '${line}' instead of its control port`);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => fail(`exited at start (${code ?? signal})`);
    const onError = (error: Error): void => fail(`could not start: ${error.message}`);
    const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const settle = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onStdout);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const fail = (why: string): void => {
      settle();
      reject(new Error(`fault proxy ${why}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`));
    };
    child.stderr!.setEncoding('utf8').on('data', collectStderr);
    child.stdout!.setEncoding('utf8').on('data', onStdout);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

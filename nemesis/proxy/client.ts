/**
 * The runner's side of the fault proxy: a ProxyHandle that drives a Toxiproxy-compatible server through
 * `toxiproxy-node-client`, so the same nemesis code drives this project's proxy or a real Toxiproxy.
 *
 * - `startProxy({ servers, logFile })` spawns this project's proxy (main.ts) and attaches to it: every fault is
 *   available, ZooKeeper-aware ones included, and its events stream in (`zkAware: true`).
 * - `startProxy({ servers, toxiproxy: url })` attaches to a Toxiproxy server the user runs: the generic faults
 *   (partition, latency, reset) work as on ours; ZooKeeper-aware faults, sessions, connections and events do not
 *   exist there (`zkAware: false`) and their calls throw.
 *
 * One Toxiproxy proxy per client host and server, named `<host>-zk<id>` (`w1-zk2`), listening on 127.0.0.1.
 * A partition is a `timeout` toxic (timeout 0) on the silenced streams, latency a `latency` toxic, a reset a
 * disable-and-enable of the proxies, the ZooKeeper-aware faults zk_* toxics sharing one fault_id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { EXIT, UserError } from '../../ground/errors.ts';
import type { ConnectionJson, ProxyEvent, ProxyJson, ReadyLine, ServerEvent, SessionJson, ToxicJson } from './api.ts';
import type { StreamName } from './toxics/toxic.ts';

export type { ProxyEvent } from './api.ts';

/** Which (client host, server) links an action applies to; an absent list means all of them. */
export interface LinkSelector {
  clientHosts?: string[];
  servers?: number[];
}

/** to-server: client → server bytes stop; to-client: server → client bytes stop; both: the link is silent. */
export type Direction = 'both' | 'to-server' | 'to-client';

export interface PartitionRequest extends LinkSelector {
  direction?: Direction;
}

export interface Delay {
  delayMs: number;
  /** Each chunk's delay varies by up to this much either way. */
  jitterMs?: number;
}

/** The delay of each direction of the chosen links; a direction left out gets none. */
export interface LatencyRequest extends LinkSelector {
  toServer?: Delay;
  toClient?: Delay;
}

/**
 * Which request a fault hits: the first one, after arming, that matches every field given. Requests with a
 * negative xid (pings, auth, setWatches) never match: faults aim at client operations.
 */
export interface FaultFilter {
  /** Op names as in ZooDefs.OpCode: create, create2, delete, getChildren2, ... */
  ops?: string[];
  pathPrefix?: string;
  clientHost?: string;
  server?: number;
  session?: string;
}

export interface SessionLocation {
  session: string;
  server: number;
  clientHost: string;
}

export interface ConnectionInfo {
  id: number;
  clientHost: string;
  server: number;
  session?: string;
  /** closing: one side has closed, the other may still send for a moment. */
  state: ConnectionJson['state'];
}

/** What disarming did: disarmed before it applied, released a held reply, or found the fault over. */
export type DisarmOutcome = 'disarmed' | 'released' | 'finished';

export interface StartProxyOptions {
  /** ZooKeeper servers by node id, as the proxy reaches them (Cluster.clientAddress). */
  servers: ReadonlyMap<number, { host: string; port: number }>;
  /** Our proxy logs every event and every error here (appending). */
  logFile?: string;
  /** Frames longer than this are not parsed; default 4 MiB. */
  maxFrameBytes?: number;
  /** Seed of our proxy's random stream (toxicity, jitter, slice sizes); default a random one. */
  seed?: number;
  /** A Toxiproxy server's API URL ("http://127.0.0.1:8474"): use it instead of spawning our proxy. */
  toxiproxy?: string;
  /** Node options for our proxy's process, before its script (`--cpu-prof`, `--cpu-prof-dir=D`: the bench's profile). */
  nodeOptions?: string[];
  /** Where our proxy runs; default: a child process of this one, its API on this machine's loopback. */
  launch?: ProxyLauncher;
}

/** Runs the proxy elsewhere (another host, over SSH): how to start it and how to reach its API from here. */
export interface ProxyLauncher {
  /** Starts `main.ts` (or a bundle of it) with these arguments; its stdout carries the ready line. Killing the child stops it. */
  spawn(mainArguments: readonly string[]): ChildProcess;
  /** The port on this machine's 127.0.0.1 that reaches the proxy's API port there. */
  reach(apiPort: number): Promise<number>;
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
  /** The API's URL. */
  readonly url: string;
  /** True for this project's proxy: ZooKeeper-aware faults, sessions, connections and events are available. */
  readonly zkAware: boolean;
  /** Our proxy's process id; undefined on a Toxiproxy server. */
  readonly pid: number | undefined;
  /** Opens one proxy per server for this client host; returns the connect string its clients use. */
  addClientHost(name: string): Promise<string>;
  /** Silences the chosen links (default every client host × every server, both directions); bytes sent meanwhile are lost. */
  partition(request?: PartitionRequest): Promise<void>;
  /** Lifts the partition of the chosen links (default all); their connections close, as Toxiproxy's do. */
  heal(selector?: LinkSelector): Promise<void>;
  /** Sets the delay of each direction of the chosen links (a direction left out: no delay). */
  setLatency(request: LatencyRequest): Promise<void>;
  /**
   * Closes every connection of the chosen links now; resolves with how many (against a Toxiproxy server, which
   * does not count them: how many links).
   */
  reset(selector?: LinkSelector): Promise<number>;
  armLostReply(filter?: FaultFilter): Promise<ArmedFault>;
  armLostRequest(filter?: FaultFilter): Promise<ArmedFault>;
  armHoldReply(filter?: FaultFilter): Promise<ArmedFault>;
  disarm(faultId: number): Promise<DisarmOutcome>;
  /** Removes every toxic of every link (partitions, latency, pending faults; held replies are released). */
  healAll(): Promise<void>;
  /** The server (and client host) a session's connection goes to right now; undefined when it has none. */
  sessionServer(session: string): Promise<SessionLocation | undefined>;
  connections(): Promise<ConnectionInfo[]>;
  /** Every event of the proxy, in order; returns a function that unsubscribes. */
  onEvent(listener: (event: ProxyEvent) => void): () => void;
  /** Stops our proxy process (every connection through it closes), or removes our proxies from a Toxiproxy server. Safe to call twice. */
  close(): Promise<void>;
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The proxy's program (docs/proxy-api.md); a launcher elsewhere runs it, or a bundle of it. */
export const PROXY_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const CLIENT_HOST_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Events that apply a fault, and the ones that end it. */
const APPLYING = new Set<ProxyEvent['event']>(['request-dropped', 'reply-dropped', 'reply-held']);
const ENDING: ReadonlyMap<ProxyEvent['event'], DisarmOutcome> = new Map([
  ['disarmed', 'disarmed'],
  ['reply-released', 'released'],
  ['request-dropped', 'finished'],
  ['reply-dropped', 'finished'],
  ['reply-discarded', 'finished'],
  ['fault-aborted', 'finished'],
] as const);

const ZK_FAULT_TOXICS = { 'lost-reply': 'zk_lost_reply', 'lost-request': 'zk_lost_request', 'hold-reply': 'zk_hold_reply' } as const;
type FaultKind = keyof typeof ZK_FAULT_TOXICS;

export async function startProxy(options: StartProxyOptions): Promise<ProxyHandle> {
  if (options.toxiproxy !== undefined) return attachToxiproxy(options.toxiproxy, options.servers);
  const args = ['--api', '127.0.0.1:0', '--exit-with-parent'];
  if (options.logFile !== undefined) args.push('--log-file', options.logFile);
  if (options.maxFrameBytes !== undefined) args.push('--max-frame-bytes', String(options.maxFrameBytes));
  if (options.seed !== undefined) args.push('--seed', String(options.seed));
  // Whoever starts it closes it (a testbed does); with --exit-with-parent it also leaves when its parent is gone.
  const child = options.launch?.spawn(args) ?? spawn(process.execPath, [...(options.nodeOptions ?? []), '--import', 'tsx', PROXY_MAIN, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const ready = await readReadyLine(child);
    const apiPort = Number(ready.api.slice(ready.api.lastIndexOf(':') + 1));
    const here = options.launch === undefined ? ready.api : `127.0.0.1:${await options.launch.reach(apiPort)}`;
    const handle = new ToxiproxyHandle(`http://${here}`, options.servers, child);
    await handle.subscribe();
    return handle;
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** A handle on a Toxiproxy server the user runs: generic faults only. */
export async function attachToxiproxy(url: string, servers: StartProxyOptions['servers']): Promise<ProxyHandle> {
  const base = url.replace(/\/+$/, '');
  try {
    await new Toxiproxy(base).getVersion();
  } catch (error) {
    throw new UserError(`--toxiproxy ${url}: no Toxiproxy server answers there (${(error as Error).message})`, EXIT.environment);
  }
  return new ToxiproxyHandle(base, servers, undefined);
}

interface Link {
  clientHost: string;
  server: number;
  proxy: Proxy;
}

/** One armed fault: its toxics, and what its events said. */
interface TrackedFault {
  toxics: { link: Link; name: string }[];
  applied: Promise<ProxyEvent | undefined>;
  ended: Promise<DisarmOutcome>;
  settleApplied(event: ProxyEvent | undefined): void;
  settleEnded(outcome: DisarmOutcome): void;
  /** Its toxics are being removed, or are gone. */
  over: boolean;
  /** Armed by this handle (not merely seen in the events). */
  ours: boolean;
}

const partitionToxic = (stream: StreamName): string => `partition_${stream}`;
const latencyToxic = (stream: StreamName): string => `latency_${stream}`;
const isNotFound = (error: unknown): boolean => /status code 404\b/.test((error as Error).message);

class ToxiproxyHandle implements ProxyHandle {
  readonly zkAware: boolean;
  readonly pid: number | undefined;
  private readonly toxiproxy: Toxiproxy;
  private readonly links = new Map<string, Link>();
  private readonly hosts = new Map<string, string>();
  private readonly faults = new Map<number, TrackedFault>();
  private readonly listeners = new Set<(event: ProxyEvent) => void>();
  private eventsRequest: http.ClientRequest | undefined;
  private nextToxic = 1;
  private closing: Promise<void> | undefined;

  constructor(
    readonly url: string,
    private readonly servers: StartProxyOptions['servers'],
    /** Our proxy's process, when this handle spawned it; undefined on a Toxiproxy server of the user's. */
    private readonly spawned: ChildProcess | undefined,
  ) {
    this.toxiproxy = new Toxiproxy(url);
    this.zkAware = spawned !== undefined;
    this.pid = spawned?.pid;
  }

  /** Opens the event stream; resolves once the proxy answered, so no later event can be missed. */
  subscribe(): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = http.get(`${this.url}/events`, { agent: false }, (response) => {
        let partial = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => {
          const lines = (partial + text).split('\n');
          partial = lines.pop()!;
          for (const line of lines) if (line !== '') this.dispatch(JSON.parse(line) as ServerEvent);
        });
        resolve();
      });
      request.on('error', (error) => (this.closing === undefined ? reject(error) : undefined));
      this.eventsRequest = request;
    });
  }

  private dispatch({ proxy, ...fields }: ServerEvent): void {
    const link = proxy === undefined ? undefined : this.links.get(proxy);
    const event: ProxyEvent = link === undefined ? fields : { ...fields, clientHost: link.clientHost, server: link.server };
    if (event.faultId !== undefined) {
      const fault = this.tracked(event.faultId);
      if (APPLYING.has(event.event)) fault.settleApplied(event);
      const outcome = ENDING.get(event.event);
      if (outcome !== undefined) {
        fault.settleApplied(undefined);
        fault.settleEnded(outcome);
        if (!fault.over) void this.removeFaultToxics(fault).catch(() => undefined);
      }
    }
    for (const listener of this.listeners) listener(event);
  }

  /** The fault's record, made on first sight: its events may come before its arming call has returned. */
  private tracked(id: number): TrackedFault {
    let fault = this.faults.get(id);
    if (fault === undefined) {
      let settleApplied!: (event: ProxyEvent | undefined) => void;
      let settleEnded!: (outcome: DisarmOutcome) => void;
      const applied = new Promise<ProxyEvent | undefined>((resolve) => (settleApplied = resolve));
      const ended = new Promise<DisarmOutcome>((resolve) => (settleEnded = resolve));
      fault = { toxics: [], applied, ended, settleApplied, settleEnded, over: false, ours: false };
      this.faults.set(id, fault);
    }
    return fault;
  }

  onEvent(listener: (event: ProxyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addClientHost(name: string): Promise<string> {
    if (!CLIENT_HOST_NAME.test(name)) throw new Error(`fault proxy: '${name}' is not a client host name (1-64 of A-Z a-z 0-9 . _ -)`);
    const known = this.hosts.get(name);
    if (known !== undefined) return known;
    const servers = [...this.servers.keys()].sort((a, b) => a - b);
    // populate replaces a proxy of that name left by an earlier run, and opens them all in one call.
    const proxies = await this.api('open proxies', () => this.toxiproxy.populate(servers.map((server) => {
      const { host, port } = this.servers.get(server)!;
      return { name: `${name}-zk${server}`, listen: '127.0.0.1:0', upstream: `${host}:${port}`, enabled: true };
    })));
    const addresses = servers.map((server) => {
      const proxy = proxies[`${name}-zk${server}`]!;
      this.links.set(proxy.name, { clientHost: name, server, proxy });
      return proxy.listen.replace(/^(0\.0\.0\.0|\[::\]|):/, '127.0.0.1:');
    });
    const connectString = addresses.join(',');
    this.hosts.set(name, connectString);
    return connectString;
  }

  private select(selector: LinkSelector): Link[] {
    for (const host of selector.clientHosts ?? []) {
      if (!this.hosts.has(host)) throw new Error(`fault proxy: unknown client host '${host}'`);
    }
    for (const server of selector.servers ?? []) {
      if (!this.servers.has(server)) throw new Error(`fault proxy: unknown server ${server}`);
    }
    return [...this.links.values()].filter((link) =>
      (selector.clientHosts?.includes(link.clientHost) ?? true) && (selector.servers?.includes(link.server) ?? true));
  }

  async partition(request: PartitionRequest = {}): Promise<void> {
    const direction = request.direction ?? 'both';
    const silenced: StreamName[] = direction === 'both' ? ['upstream', 'downstream'] : [direction === 'to-server' ? 'upstream' : 'downstream'];
    await Promise.all(this.select(request).map(async (link) => {
      for (const stream of ['upstream', 'downstream'] as const) {
        if (!silenced.includes(stream)) await this.removeToxic(link, partitionToxic(stream));
      }
      for (const stream of silenced) await this.setToxic(link, partitionToxic(stream), 'timeout', stream, { timeout: 0 });
    }));
  }

  async heal(selector: LinkSelector = {}): Promise<void> {
    await Promise.all(this.select(selector).map(async (link) => {
      for (const stream of ['upstream', 'downstream'] as const) await this.removeToxic(link, partitionToxic(stream));
    }));
  }

  async setLatency(request: LatencyRequest): Promise<void> {
    const delays: [StreamName, Delay | undefined][] = [['upstream', request.toServer], ['downstream', request.toClient]];
    await Promise.all(this.select(request).map(async (link) => {
      for (const [stream, delay] of delays) {
        const latency = Math.round(delay?.delayMs ?? 0);
        const jitter = Math.round(delay?.jitterMs ?? 0);
        if (latency === 0 && jitter === 0) await this.removeToxic(link, latencyToxic(stream));
        else await this.setToxic(link, latencyToxic(stream), 'latency', stream, { latency, jitter });
      }
    }));
  }

  async reset(selector: LinkSelector = {}): Promise<number> {
    const links = this.select(selector);
    const names = new Set(links.map((link) => link.proxy.name));
    const count = this.zkAware ? (await this.extension<ConnectionJson[]>('/connections')).filter((connection) => names.has(connection.proxy)).length : links.length;
    await Promise.all(links.map(async (link) => {
      const { listen, upstream } = link.proxy;
      await this.api(`disable ${link.proxy.name}`, () => link.proxy.update({ enabled: false, listen, upstream }));
      await this.api(`enable ${link.proxy.name}`, () => link.proxy.update({ enabled: true, listen, upstream }));
    }));
    return count;
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

  /** One zk_* toxic on every link the filter names, all sharing the fault_id the first one was given. */
  private async arm(kind: FaultKind, filter: FaultFilter): Promise<ArmedFault> {
    this.requireZkAware(`a ${kind} fault (toxic ${ZK_FAULT_TOXICS[kind]})`);
    const links = this.select({
      ...(filter.clientHost === undefined ? {} : { clientHosts: [filter.clientHost] }),
      ...(filter.server === undefined ? {} : { servers: [filter.server] }),
    });
    if (links.length === 0) throw new Error('fault proxy: no client host to arm a fault on');
    const name = `fault_${this.nextToxic++}`;
    const attributes = { ops: filter.ops ?? [], path_prefix: filter.pathPrefix ?? '', session: filter.session ?? '', fault_id: 0 };
    const first = await this.addToxic(links[0]!, name, ZK_FAULT_TOXICS[kind], 'upstream', attributes);
    const id = first.attributes['fault_id'] as number;
    const fault = this.tracked(id);
    fault.ours = true;
    fault.toxics.push({ link: links[0]!, name });
    for (const link of links.slice(1)) {
      await this.addToxic(link, name, ZK_FAULT_TOXICS[kind], 'upstream', { ...attributes, fault_id: id });
      fault.toxics.push({ link, name });
    }
    if (fault.over) await this.removeFaultToxics(fault); // it ended while the others were being added
    return { id, applied: fault.applied, disarm: () => this.disarm(id) };
  }

  async disarm(faultId: number): Promise<DisarmOutcome> {
    const fault = this.faults.get(faultId);
    if (fault === undefined) throw new Error(`fault proxy: no fault ${faultId}`);
    await this.removeFaultToxics(fault);
    return fault.ended;
  }

  /** Removing a fault's last toxic ends it (disarmed, or a held reply released): its final event follows. */
  private async removeFaultToxics(fault: TrackedFault): Promise<void> {
    fault.over = true;
    await Promise.all(fault.toxics.splice(0).map(({ link, name }) => this.removeToxic(link, name)));
  }

  async healAll(): Promise<void> {
    await Promise.all([...this.links.values()].map(async (link) => {
      const path = `${this.url}/proxies/${link.proxy.name}`;
      const current = (await this.api(`read ${link.proxy.name}`, () => this.toxiproxy.getApi().get<ProxyJson>(path))).data;
      for (const toxic of current.toxics) await this.removeToxic(link, toxic.name);
      if (!current.enabled) await this.api(`enable ${link.proxy.name}`, () => link.proxy.update({ enabled: true, listen: current.listen, upstream: current.upstream }));
    }));
    await Promise.all([...this.faults.values()].filter((fault) => fault.ours).map((fault) => fault.ended));
  }

  async sessionServer(session: string): Promise<SessionLocation | undefined> {
    this.requireZkAware('sessionServer');
    const location = await this.extension<SessionJson>(`/sessions/${encodeURIComponent(session)}`, true);
    const link = location === undefined ? undefined : this.links.get(location.proxy);
    return location === undefined || link === undefined ? undefined : { session: location.session, server: link.server, clientHost: link.clientHost };
  }

  async connections(): Promise<ConnectionInfo[]> {
    this.requireZkAware('connections');
    return (await this.extension<ConnectionJson[]>('/connections')).flatMap((connection) => {
      const link = this.links.get(connection.proxy);
      if (link === undefined) return [];
      return [{ id: connection.id, clientHost: link.clientHost, server: link.server, ...(connection.session === undefined ? {} : { session: connection.session }), state: connection.state }];
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.eventsRequest?.destroy();
      if (this.spawned !== undefined) await stopChild(this.spawned);
      else await Promise.all([...this.links.values()].map((link) => link.proxy.remove().catch(() => undefined)));
      for (const fault of this.faults.values()) {
        fault.settleApplied(undefined);
        fault.settleEnded('finished');
      }
    })();
    return this.closing;
  }

  private requireZkAware(what: string): void {
    if (!this.zkAware) throw new Error(`fault proxy: ${what} needs this project's ZooKeeper-aware proxy; the Toxiproxy server at ${this.url} has none`);
  }

  /** Adds the toxic, or updates it when the link has it already. */
  private async setToxic(link: Link, name: string, type: string, stream: StreamName, attributes: Record<string, unknown>): Promise<void> {
    try {
      const existing = await link.proxy.getToxic(name);
      await this.api(`update ${name} on ${link.proxy.name}`, () => existing.update({ ...existing.toJson(), attributes }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.addToxic(link, name, type, stream, attributes);
    }
  }

  private async addToxic(link: Link, name: string, type: string, stream: StreamName, attributes: Record<string, unknown>): Promise<ToxicJson> {
    // The client's types list Toxiproxy's toxic types; this project's zk_* ones are extensions of the same API.
    const body = { name, type, stream, toxicity: 1, attributes } as unknown as Parameters<Proxy['addToxic']>[0];
    return (await this.api(`add ${type} toxic ${name} to ${link.proxy.name}`, () => link.proxy.addToxic(body))).toJson() as unknown as ToxicJson;
  }

  /** Removes a toxic; one that is not there (removed already) is no error. */
  private async removeToxic(link: Link, name: string): Promise<void> {
    try {
      await this.toxiproxy.getApi().delete(`${this.url}/proxies/${link.proxy.name}/toxics/${name}`);
    } catch (error) {
      if (!isNotFound(error)) throw new Error(`fault proxy: remove toxic ${name} from ${link.proxy.name}: ${(error as Error).message}`);
    }
  }

  private async api<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new Error(`fault proxy: ${what}: ${(error as Error).message}`);
    }
  }

  /** A GET on one of our proxy's extension routes; with `absentIsUndefined`, a 404 answers undefined. */
  private async extension<T>(path: string, absentIsUndefined = false): Promise<T> {
    const response = await fetch(`${this.url}${path}`);
    if (response.status === 404 && absentIsUndefined) return undefined as T;
    const body = await response.json() as T & { error?: string };
    if (!response.ok) throw new Error(`fault proxy: GET ${path}: ${body.error ?? response.status}`);
    return body;
  }
}

/** Waits for the ready line; afterwards the proxy's stderr (only ever a crash report) goes to ours. */
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
        fail(`printed '${line}' instead of its address`);
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

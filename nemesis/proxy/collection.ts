/**
 * The proxies and their toxics, with Toxiproxy's semantics (its proxy_collection.go, proxy.go and
 * toxic_collection.go, as docs/proxy-api.md states them): what the HTTP API (control.ts) does, as methods. Bodies
 * arrive parsed from JSON; they are read the way Go's decoder reads them into Toxiproxy's structs (unknown fields
 * ignored, null leaves a field as it is, a value of the wrong type is a bad request body).
 */
import net from 'node:net';
import { z } from 'zod';
import { formatSessionId } from '../../ground/history.ts';
import { ApiError, ERRORS, type ConnectionJson, type ProxyJson, type SessionJson, type ToxicJson } from './api.ts';
import { ZkFaults, type EventFields, type FrameToxicEntry } from './faults.ts';
import { Connection, isFrameToxic, type LinkOwner, type StreamToxicEntry, type ToxicEntry } from './link.ts';
import { TOXICS } from './toxics/registry.ts';
import { STREAMS, type StreamName } from './toxics/toxic.ts';
import type { ZkFaultAttributes } from './toxics/zk.ts';

export interface ProxyServerOptions {
  maxFrameBytes: number;
  /** Uniform in [0, 1): the seeded stream every toxicity, jitter and slice size is drawn from. */
  random(): number;
  emit(event: EventFields): void;
  log(message: string): void;
}

/** Go's decoder leaves a field as it is when the JSON says null. */
function withoutNulls(value: unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, field]) => field !== null));
}

/** Reads a JSON body as Go decodes it into a struct: null is an empty struct, anything but an object is a bad body. */
function decode<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  if (body === undefined) throw ApiError.joined(ERRORS.badRequestBody, 'EOF');
  if (body === null) return schema.parse({});
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw ApiError.joined(ERRORS.badRequestBody, `cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into ${what}`);
  }
  const result = schema.safeParse(withoutNulls(body));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw ApiError.joined(ERRORS.badRequestBody, `${what}.${issue.path.join('.')}: ${issue.message}`);
  }
  return result.data;
}

const proxyFields = z.object({ name: z.string(), listen: z.string(), upstream: z.string(), enabled: z.boolean() }).partial();
const toxicFields = z.object({ name: z.string(), type: z.string(), stream: z.string(), toxicity: z.number(), attributes: z.unknown() }).partial();
const toxicUpdateFields = z.object({ toxicity: z.number(), attributes: z.unknown() }).partial();

interface Address {
  host: string;
  port: number;
}

/** host:port as Go's net package reads it (an empty host: every interface; a port from 0 to 65535). */
function parseAddress(text: string, verb: 'listen' | 'dial'): Address {
  const fail = (why: string): never => {
    throw new ApiError(`${verb} tcp: address ${text}: ${why}`, 400);
  };
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(text);
  if (match === null) return fail(text.includes(':') ? 'too many colons in address' : 'missing port in address');
  const host = match[1] ?? match[2] ?? '';
  const port = match[3]!;
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65_535) return fail('invalid port');
  return { host: host === 'localhost' ? '127.0.0.1' : host, port: Number(port) };
}

/** An address as Go prints a TCP address: IPv6 in brackets, no host for "every interface". */
function formatAddress({ host, port }: Address): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Bind failures as Go's net package words them. */
const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
};

class Proxy implements LinkOwner {
  enabled = false;
  /** Both streams, each in chain order (the order toxics were added). */
  readonly toxics: ToxicEntry[] = [];
  readonly connections = new Set<Connection>();
  private listener: net.Server | undefined;
  private streamChains: Record<StreamName, StreamToxicEntry[]> = { upstream: [], downstream: [] };
  private frameEntries: FrameToxicEntry[] = [];

  constructor(
    private readonly server: ProxyServer,
    readonly name: string,
    public listen: string,
    public upstream: string,
  ) {}

  get maxFrameBytes(): number {
    return this.server.options.maxFrameBytes;
  }

  get faults(): ZkFaults {
    return this.server.faults;
  }

  streamToxics(stream: StreamName): readonly StreamToxicEntry[] {
    return this.streamChains[stream];
  }

  frameToxics(): readonly FrameToxicEntry[] {
    return this.frameEntries;
  }

  random(): number {
    return this.server.options.random();
  }

  emit(event: EventFields): void {
    this.server.options.emit(event);
  }

  onSession(connection: Connection): void {
    this.server.sessions.set(connection.session!, connection);
  }

  onConnectionClosed(connection: Connection, reason: string): void {
    this.connections.delete(connection);
    if (connection.session !== undefined && this.server.sessions.get(connection.session) === connection) {
      this.server.sessions.delete(connection.session);
    }
    this.emit({ event: 'connection-closed', ...connection.describe(), detail: reason });
  }

  toJson(): ProxyJson {
    const toxics = STREAMS.flatMap((stream) => this.toxics.filter((entry) => entry.stream === stream)).map(toxicJson);
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled, toxics };
  }

  /** Whether `listen` and `upstream` name another proxy than this one (Toxiproxy's Differs). */
  differs(listen: string, upstream: string): boolean {
    return formatAddress(parseAddress(listen, 'listen')) !== this.listen || upstream !== this.upstream;
  }

  async start(): Promise<void> {
    if (this.enabled) return;
    const address = parseAddress(this.listen, 'listen');
    const listener = net.createServer({ noDelay: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ port: address.port, ...(address.host === '' ? {} : { host: address.host }) }, () => {
        listener.off('error', reject);
        resolve();
      });
    }).catch((error: NodeJS.ErrnoException) => {
      // Toxiproxy answers 500 here; a port in use is a conflict and any other bind failure a bad address.
      throw new ApiError(`listen tcp ${formatAddress(address)}: bind: ${BIND_ERRORS[error.code ?? ''] ?? error.message}`, error.code === 'EADDRINUSE' ? 409 : 400);
    });
    listener.on('error', (error) => this.server.options.log(`proxy ${this.name}: ${error.message}`));
    listener.on('connection', (socket) => this.accept(socket));
    const bound = listener.address() as net.AddressInfo;
    this.listen = formatAddress({ host: address.host === '' ? '::' : bound.address, port: bound.port });
    this.listener = listener;
    this.enabled = true;
  }

  /** Closes the listener (new connections are refused) and every open connection. */
  async stop(): Promise<void> {
    if (!this.enabled) return;
    this.enabled = false;
    const listener = this.listener!;
    this.listener = undefined;
    for (const connection of [...this.connections]) connection.close('proxy disabled', false);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    let upstream: Address;
    try {
      upstream = parseAddress(this.upstream, 'dial');
    } catch (error) {
      this.server.options.log(`proxy ${this.name}: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    const connection = new Connection(this.server.nextConnectionId++, this, socket, upstream);
    this.connections.add(connection);
    this.emit({ event: 'connection-opened', ...connection.describe() });
  }

  addToxic(entry: ToxicEntry): void {
    this.toxics.push(entry);
    this.rebuildChains();
    for (const connection of this.connections) connection.addToxic(entry);
  }

  updateToxic(entry: ToxicEntry): void {
    for (const connection of this.connections) connection.updateToxic(entry);
  }

  removeToxic(entry: ToxicEntry): void {
    this.toxics.splice(this.toxics.indexOf(entry), 1);
    this.rebuildChains();
    if (isFrameToxic(entry)) this.faults.detach(entry);
    for (const connection of [...this.connections]) connection.removeToxic(entry);
  }

  private rebuildChains(): void {
    const streamEntries = this.toxics.filter((entry): entry is StreamToxicEntry => !isFrameToxic(entry));
    this.streamChains = {
      upstream: streamEntries.filter((entry) => entry.stream === 'upstream'),
      downstream: streamEntries.filter((entry) => entry.stream === 'downstream'),
    };
    this.frameEntries = this.toxics.filter(isFrameToxic);
  }
}

function toxicJson(entry: ToxicEntry): ToxicJson {
  return { attributes: { ...entry.attributes }, name: entry.name, type: entry.type.type, stream: entry.stream, toxicity: entry.toxicity };
}

function describeToxic(entry: ToxicEntry): string {
  return `${entry.name}: ${entry.type.type} ${entry.stream}, toxicity ${entry.toxicity}, ${JSON.stringify(entry.attributes)}`;
}

/** Parses attributes for a toxic type over the ones it has (the defaults for a new toxic). */
function mergeAttributes(entryType: ToxicEntry['type'], current: object, attributes: unknown): object {
  if (attributes === undefined) return current;
  const given = decode(entryType.attributes as z.ZodType<Record<string, unknown>>, attributes, 'attributes');
  return { ...current, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) };
}

export class ProxyServer {
  readonly proxies = new Map<string, Proxy>();
  readonly sessions = new Map<string, Connection>();
  readonly faults: ZkFaults;
  nextConnectionId = 1;

  constructor(readonly options: ProxyServerOptions) {
    this.faults = new ZkFaults((event) => options.emit(event));
  }

  private proxy(name: string): Proxy {
    const proxy = this.proxies.get(name);
    if (proxy === undefined) throw ERRORS.proxyNotFound;
    return proxy;
  }

  private toxic(proxy: Proxy, name: string): ToxicEntry {
    const entry = proxy.toxics.find((candidate) => candidate.name === name);
    if (entry === undefined) throw ERRORS.toxicNotFound;
    return entry;
  }

  /** GET /proxies: every proxy by name (Go sorts a map's keys). */
  list(): Record<string, ProxyJson> {
    return Object.fromEntries([...this.proxies.keys()].sort().map((name) => [name, this.proxies.get(name)!.toJson()]));
  }

  get(name: string): ProxyJson {
    return this.proxy(name).toJson();
  }

  /** POST /proxies: 201 with the proxy, its listen address as bound. */
  async create(body: unknown): Promise<ProxyJson> {
    const input = { enabled: true, ...decode(proxyFields, body, 'Proxy') };
    if ((input.name ?? '') === '') throw ApiError.joined(ERRORS.missingField, 'name');
    if ((input.upstream ?? '') === '') throw ApiError.joined(ERRORS.missingField, 'upstream');
    if (this.proxies.has(input.name!)) throw ERRORS.proxyAlreadyExists;
    const proxy = new Proxy(this, input.name!, input.listen ?? '', input.upstream!);
    if (input.enabled) await proxy.start();
    if (this.proxies.has(proxy.name)) {
      await proxy.stop(); // another request took the name while this one was binding
      throw ERRORS.proxyAlreadyExists;
    }
    this.proxies.set(proxy.name, proxy);
    this.emit('proxy-created', proxy);
    return proxy.toJson();
  }

  /** POST or PATCH /proxies/{proxy}: fields left out keep their values; a new address restarts it. */
  async update(name: string, body: unknown): Promise<ProxyJson> {
    const proxy = this.proxy(name);
    const input = { listen: proxy.listen, upstream: proxy.upstream, enabled: proxy.enabled, ...decode(proxyFields, body, 'Proxy') };
    if (proxy.differs(input.listen, input.upstream)) {
      await proxy.stop();
      proxy.listen = input.listen;
      proxy.upstream = input.upstream;
    }
    if (input.enabled !== proxy.enabled) {
      if (input.enabled) await proxy.start();
      else await proxy.stop();
    }
    this.emit('proxy-updated', proxy);
    return proxy.toJson();
  }

  /** DELETE /proxies/{proxy}: 204. */
  async remove(name: string): Promise<void> {
    const proxy = this.proxy(name);
    await this.discard(proxy);
    this.proxies.delete(name);
    this.options.emit({ event: 'proxy-deleted', proxy: name });
  }

  private async discard(proxy: Proxy): Promise<void> {
    await proxy.stop();
    for (const entry of [...proxy.toxics]) proxy.removeToxic(entry);
  }

  /**
   * POST /populate: creates or replaces the proxies of a list; an identical one (same listen and upstream) is
   * kept, toxics and all. Answers 201 `{"proxies": [...]}`, or the error with the proxies done before it.
   */
  async populate(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    let inputs: { name?: string; listen?: string; upstream?: string; enabled: boolean }[];
    try {
      if (body === undefined) throw ApiError.joined(ERRORS.badRequestBody, 'EOF');
      if (body !== null && !Array.isArray(body)) throw ApiError.joined(ERRORS.badRequestBody, `cannot unmarshal ${typeof body} into []Proxy`);
      inputs = ((body ?? []) as unknown[]).map((item, index) => ({ enabled: true, ...decode(proxyFields, item, `[${index}]Proxy`) }));
      inputs.forEach((input, index) => {
        if ((input.name ?? '') === '') throw ApiError.joined(ERRORS.missingField, `name at proxy ${index + 1}`);
        if ((input.upstream ?? '') === '') throw ApiError.joined(ERRORS.missingField, `upstream at proxy ${index + 1}`);
      });
    } catch (error) {
      // A list refused before any proxy was made: Toxiproxy's answer carries "proxies": null.
      if (!(error instanceof ApiError)) throw error;
      return { status: error.status, body: { error: error.message, status: error.status, proxies: null } };
    }
    const done: ProxyJson[] = [];
    for (const input of inputs) {
      try {
        const existing = this.proxies.get(input.name!);
        if (existing !== undefined && !existing.differs(input.listen ?? '', input.upstream!)) {
          done.push(existing.toJson());
          continue;
        }
        if (existing !== undefined) await this.discard(existing);
        const proxy = new Proxy(this, input.name!, input.listen ?? '', input.upstream!);
        if (input.enabled) await proxy.start();
        this.proxies.set(proxy.name, proxy);
        this.emit(existing === undefined ? 'proxy-created' : 'proxy-updated', proxy);
        done.push(proxy.toJson());
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        return { status: error.status, body: { error: error.message, status: error.status, proxies: done } };
      }
    }
    return { status: 201, body: { proxies: done } };
  }

  /** POST /reset: every proxy enabled again, every toxic removed. 204. */
  async reset(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      await proxy.start();
      for (const entry of [...proxy.toxics]) this.removeToxicEntry(proxy, entry);
    }
  }

  listToxics(name: string): ToxicJson[] {
    return this.proxy(name).toJson().toxics;
  }

  getToxic(name: string, toxic: string): ToxicJson {
    return toxicJson(this.toxic(this.proxy(name), toxic));
  }

  /** POST /proxies/{proxy}/toxics: 200 with the toxic, defaults filled in (downstream, toxicity 1, name type_stream). */
  addToxic(name: string, body: unknown): ToxicJson {
    const proxy = this.proxy(name);
    const input = decode(toxicFields, body, 'ToxicWrapper');
    const stream = (input.stream ?? 'downstream').toLowerCase();
    if (!(STREAMS as readonly string[]).includes(stream)) throw ERRORS.invalidStream;
    const typeName = input.type ?? '';
    const entryName = input.name !== undefined && input.name !== '' ? input.name : `${typeName}_${stream}`;
    const type = TOXICS.get(typeName);
    if (type === undefined) throw ERRORS.invalidToxicType;
    if (proxy.toxics.some((entry) => entry.name === entryName)) throw ERRORS.toxicAlreadyExists;
    const attributes = mergeAttributes(type, { ...type.defaults }, input.attributes ?? undefined);
    const entry = { name: entryName, type, stream: stream as StreamName, toxicity: input.toxicity ?? 1, attributes } as ToxicEntry;
    if (isFrameToxic(entry)) this.faults.attach(entry);
    proxy.addToxic(entry);
    this.options.emit({ event: 'toxic-added', proxy: proxy.name, detail: describeToxic(entry) });
    return toxicJson(entry);
  }

  /** POST or PATCH /proxies/{proxy}/toxics/{toxic}: toxicity and attributes, merged over what it has. */
  updateToxic(name: string, toxic: string, body: unknown): ToxicJson {
    const proxy = this.proxy(name);
    const entry = this.toxic(proxy, toxic);
    const input = decode(toxicUpdateFields, body, 'ToxicWrapper');
    const attributes = mergeAttributes(entry.type, entry.attributes, input.attributes ?? undefined);
    if (isFrameToxic(entry) && (attributes as ZkFaultAttributes).fault_id !== entry.attributes.fault_id) {
      throw ApiError.joined(ERRORS.badRequestBody, 'fault_id cannot change');
    }
    entry.attributes = attributes as ZkFaultAttributes;
    entry.toxicity = input.toxicity ?? entry.toxicity;
    proxy.updateToxic(entry);
    this.options.emit({ event: 'toxic-updated', proxy: proxy.name, detail: describeToxic(entry) });
    return toxicJson(entry);
  }

  /** DELETE /proxies/{proxy}/toxics/{toxic}: 204. */
  removeToxic(name: string, toxic: string): void {
    const proxy = this.proxy(name);
    this.removeToxicEntry(proxy, this.toxic(proxy, toxic));
  }

  private removeToxicEntry(proxy: Proxy, entry: ToxicEntry): void {
    proxy.removeToxic(entry);
    this.options.emit({ event: 'toxic-removed', proxy: proxy.name, detail: describeToxic(entry) });
  }

  /** Extension: every open connection. */
  connections(): ConnectionJson[] {
    return [...this.proxies.values()].flatMap((proxy) => [...proxy.connections].map((connection) => connection.toJson()));
  }

  /** Extension: the proxy a session's connection goes through now, if any. */
  session(id: string): SessionJson | undefined {
    if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(id)) throw new ApiError(`not a session id: ${id}`, 400);
    const connection = this.sessions.get(formatSessionId(id.toLowerCase()));
    return connection === undefined ? undefined : { session: connection.session!, proxy: connection.owner.name };
  }

  private emit(event: 'proxy-created' | 'proxy-updated', proxy: Proxy): void {
    this.options.emit({ event, proxy: proxy.name, detail: `listen ${proxy.listen}, upstream ${proxy.upstream}, ${proxy.enabled ? 'enabled' : 'disabled'}` });
  }

  /** Stops every proxy; every connection closes. */
  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.stop()));
  }
}

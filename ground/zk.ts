/**
 * A typed face for the npm `zookeeper` package (a binding of the ZooKeeper C client): only the calls the recipes
 * use, with the shapes read from node_modules/zookeeper/lib and src/node-zk.cpp (the package's own .d.ts files
 * declare ambient modules that do not type the default export usefully).
 */
import ZooKeeperPackage from 'zookeeper';

export interface ZkStat {
  czxid: number;
  /** Session id in lowercase hex without "0x"; "0" for a persistent node. */
  ephemeralOwner: string;
}

/** One C-client handle = one ZooKeeper session (re-established on reconnect until it expires). */
export interface ZkHandle {
  init(config: object): ZkHandle;
  close(): void;
  /** Lowercase hex without "0x"; "0" before the first connection. */
  readonly client_id: string;
  create(path: string, data: string, flags: number): Promise<string>;
  exists(path: string, watch: boolean): Promise<ZkStat | null>;
  /** Like exists, and `watcher` fires once when the node is created, deleted or changed. */
  w_exists(path: string, watcher: () => void): Promise<ZkStat | null>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  /** Like get_children, and `watcher` fires once when the children change. */
  w_get_children(path: string, watcher: () => void): Promise<string[]>;
  get(path: string, watch: boolean): Promise<[stat: ZkStat, data: Buffer | string]>;
  delete_(path: string, version: number): Promise<void>;
  sync(path: string): Promise<void>;
  on(event: 'connect' | 'connecting', listener: () => void): void;
  /** code: 0 when closed by us, -112 when the session expired, -113 when authentication failed. */
  on(event: 'close', listener: (handle: unknown, code: number) => void): void;
}

interface ZkConfig {
  connect: string;
  timeout: number;
  debug_level: number;
  host_order_deterministic: boolean;
}

const ZooKeeper = ZooKeeperPackage as unknown as new (config: ZkConfig) => ZkHandle;

export function newZkHandle(connect: string, sessionTimeoutMs: number): ZkHandle {
  // debug_level 0: silent. At any other level the binding's own messages ("Session expired. Shutting down...") are
  // printf'ed to stdout, which is the protocol channel; the worker reports session changes itself.
  const handle = new ZooKeeper({ connect, timeout: sessionTimeoutMs, debug_level: 0, host_order_deterministic: false });
  // The binding rejects exists() of a missing node with "-101 no node"; ZooKeeper's API answers a null stat, and
  // so does this face (a recipe that took the rejection for an unknown outcome would strand its own node).
  const missingAsNull = <A extends unknown[]>(call: (...args: A) => Promise<ZkStat | null>) =>
    (...args: A): Promise<ZkStat | null> =>
      call(...args).catch((error: unknown) => (zkErrorCode(error) === ZkCode.noNode ? null : Promise.reject(error)));
  handle.exists = missingAsNull(handle.exists.bind(handle));
  handle.w_exists = missingAsNull(handle.w_exists.bind(handle));
  return handle;
}

/**
 * A connected session: resolves once the client has one; rejects when none came within `withinMs`. Each handshake
 * gets a second, then twice as long as the one before, and a handle without a session by then is closed for a
 * fresh one: in a process that also spawns children, the binding now and then never hears its socket again
 * (docs/environment.md), and that handle would wait out the whole session timeout for nothing.
 */
export async function connectedZkHandle(connect: string, sessionTimeoutMs: number, withinMs = 15_000): Promise<ZkHandle> {
  const deadline = Date.now() + withinMs;
  for (let attemptMs = FIRST_HANDSHAKE_MS; ; attemptMs *= 2) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ZooKeeper session with ${connect} within ${withinMs} ms`);
    const handle = newZkHandle(connect, sessionTimeoutMs);
    if (await sessionWithin(handle, Math.min(attemptMs, left))) return handle;
    handle.close();
  }
}

const FIRST_HANDSHAKE_MS = 1_000;

function sessionWithin(handle: ZkHandle, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    handle.on('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
    handle.init({});
  });
}

export const ZOO_PERSISTENT = 0;
export const ZOO_EPHEMERAL_SEQUENTIAL = 3;
/** `close` code of a session the server declared expired. */
export const ZOO_EXPIRED_SESSION_STATE = -112;

/** ZooKeeper return codes the recipes tell apart (zookeeper.h). */
export const ZkCode = {
  /** ZRUNTIMEINCONSISTENCY: after a reset with many requests in flight the C client may desynchronise (docs/environment.md). */
  runtimeInconsistency: -2,
  connectionLoss: -4,
  operationTimeout: -7,
  invalidState: -9,
  noNode: -101,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
  closing: -116,
  sessionMoved: -118,
} as const;

/**
 * The numeric code of a rejected call: the package rejects with Error("-4 connection loss"), or, when the handle
 * is already closed, Error('fn: "a_exists" args: ... result: "ZINVALIDSTATE -9"'). undefined for anything else.
 */
export function zkErrorCode(error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const leading = /^(-\d+) /.exec(message);
  if (leading) return Number(leading[1]);
  const trailing = / (-\d+)"$/.exec(message);
  return trailing ? Number(trailing[1]) : undefined;
}

/** The call may or may not have been applied: the request or its reply was lost with the connection. */
export function isOutcomeUnknown(code: number | undefined): boolean {
  return code === ZkCode.connectionLoss || code === ZkCode.operationTimeout || code === ZkCode.sessionMoved || code === ZkCode.runtimeInconsistency;
}

/** The session is over: its ephemeral nodes are gone (or will be once the server notices), nothing more can be done with it. */
export function isSessionGone(code: number | undefined): boolean {
  return code === ZkCode.sessionExpired || code === ZkCode.invalidState || code === ZkCode.closing;
}

export function describeZkError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

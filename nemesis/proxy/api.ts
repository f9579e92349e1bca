/**
 * The fault proxy's API (docs/proxy-api.md): Toxiproxy's HTTP API v2, as its server answers it, plus this
 * project's extensions (ZooKeeper-aware toxics, events, sessions, connections). The shapes both the proxy and
 * its clients use, and Toxiproxy's error vocabulary.
 */
import type { ProxyLine } from '../../ground/history.ts';
import type { StreamName } from './toxics/toxic.ts';

/** What GET /version answers (the Toxiproxy version whose API this one follows). */
export const TOXIPROXY_VERSION = '2.12.0';
export const DEFAULT_API_ADDRESS = '127.0.0.1:8474';

export interface ToxicJson {
  attributes: Record<string, unknown>;
  name: string;
  type: string;
  stream: StreamName;
  toxicity: number;
}

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
}

/** An error answer: Toxiproxy's `{"error": message, "status": code}`. */
export class ApiError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 405 | 409 | 413 | 500) {
    super(message);
  }

  /** Toxiproxy's prefix for a message about a field or body: "bad request body: ...". */
  static joined(prefix: ApiError, detail: string): ApiError {
    return new ApiError(`${prefix.message}: ${detail}`, prefix.status);
  }
}

/** Toxiproxy's own errors, with its messages and codes (api.go). */
export const ERRORS = {
  badRequestBody: new ApiError('bad request body', 400),
  missingField: new ApiError('missing required field', 400),
  proxyNotFound: new ApiError('proxy not found', 404),
  proxyAlreadyExists: new ApiError('proxy already exists', 409),
  invalidStream: new ApiError('stream was invalid, can be either upstream or downstream', 400),
  invalidToxicType: new ApiError('invalid toxic type', 400),
  toxicAlreadyExists: new ApiError('toxic already exists', 409),
  toxicNotFound: new ApiError('toxic not found', 404),
} as const;

/** Extension: one connection as GET /connections lists it. */
export interface ConnectionJson {
  id: number;
  proxy: string;
  session?: string;
  /** closing: one side has closed, the other may still send for a moment. */
  state: 'open' | 'closing';
}

/** Extension: GET /sessions/{session}. */
export interface SessionJson {
  session: string;
  proxy: string;
}

export const PROXY_EVENTS = [
  'proxy-created',
  'proxy-updated',
  'proxy-deleted',
  'toxic-added',
  'toxic-updated',
  'toxic-removed',
  'connection-opened',
  'connection-closed',
  'passthrough',
  'session-established',
  'session-expired',
  'malformed-frame',
  'reset',
  'armed',
  'disarmed',
  'matched',
  'request-dropped',
  'reply-dropped',
  'reply-held',
  'reply-released',
  'reply-discarded',
  'fault-aborted',
] as const;
export type ProxyEventName = (typeof PROXY_EVENTS)[number];

/** What the event fields of a history `proxy` line are, minus its time. */
type EventFields = Omit<ProxyLine, 'kind' | 'time' | 'event'>;

/** Extension: one event of GET /events, as the proxy writes it: about a proxy by its name. */
export interface ServerEvent extends Omit<EventFields, 'clientHost' | 'server'> {
  /** process.hrtime.bigint() of the proxy (CLOCK_MONOTONIC, shared by every process here), decimal. */
  monotonicNs: string;
  event: ProxyEventName;
  proxy?: string;
}

/** An event as a ProxyHandle delivers it: the proxy's name turned into its client host and server. */
export interface ProxyEvent extends EventFields {
  monotonicNs: string;
  event: ProxyEventName;
}

/** The one line the proxy prints on stdout once its API listens. */
export interface ReadyLine {
  /** host:port the API listens on. */
  api: string;
  port: number;
  /** The seed of its random stream (toxicity, jitter, slice sizes). */
  seed: number;
}

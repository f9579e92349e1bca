/**
 * The fenced resource: what lock holders write to, so that a stale holder (P2) shows up as a write that should
 * not have landed. One HTTP server on 127.0.0.1 serves one resource per name (the runner uses the lock's name):
 *   POST /resources/<name> {client, token, value}    → 200 {accepted, value, highestToken}
 *   GET  /resources/<name>[?client=<c>&token=<t>]   → 200 {value, highestToken}
 * The resource remembers the highest token it has seen, on reads and accepted writes alike: a holder that reads
 * before it writes has thereby fenced off every older holder, whose late write would otherwise land between
 * that read and the write that follows it and be overwritten (a lost update under fencing). With fencing, a write
 * whose token is lower than the highest seen is rejected (a null token cannot be checked and is accepted: that is
 * what a recipe without tokens buys); reads are never rejected. Without fencing every write is accepted.
 * Every write is reported to onWrite in arrival order, before it is answered; reads are not.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { ResourceLine } from '../ground/history.ts';

export type ResourceWrite = Omit<ResourceLine, 'kind' | 'time'>;

export interface ResourceState {
  value: number;
  /** Highest token seen (reads and accepted writes); null before the first one that carried a token. */
  highestToken: number | null;
}

export interface FencedResourceOptions {
  fencing: boolean;
  onWrite?: (write: ResourceWrite) => void;
}

export interface FencedResource {
  readonly fencing: boolean;
  /** The URL of resource `name`, for fenced-write and read requests. */
  url(name: string): string;
  state(name: string): ResourceState;
  close(): Promise<void>;
}

const WriteBody = z.object({ client: z.string(), token: z.number().nullable(), value: z.number().int() });
/** A read's `token` query parameter: absent, empty or `null` when the reader holds none; else an integer. */
const ReadToken = z.union([
  z.enum(['', 'null']).nullable().transform(() => null),
  z.string().regex(/^-?\d+$/).transform(Number),
]);
const PATH_PREFIX = '/resources/';
const MAX_BODY_BYTES = 64 * 1024;

export async function startFencedResource(options: FencedResourceOptions): Promise<FencedResource> {
  const states = new Map<string, ResourceState>();
  const stateOf = (name: string): ResourceState => {
    let state = states.get(name);
    if (state === undefined) {
      state = { value: 0, highestToken: null };
      states.set(name, state);
    }
    return state;
  };

  const see = (state: ResourceState, token: number | null): void => {
    if (token !== null && (state.highestToken === null || token > state.highestToken)) state.highestToken = token;
  };

  const write = (name: string, body: z.infer<typeof WriteBody>): ResourceState & { accepted: boolean } => {
    const state = stateOf(name);
    const stale = options.fencing && body.token !== null && state.highestToken !== null && body.token < state.highestToken;
    if (!stale) {
      state.value = body.value;
      see(state, body.token);
    }
    options.onWrite?.({ resource: name, client: body.client, token: body.token, value: body.value, accepted: !stale });
    return { accepted: !stale, ...state };
  };

  const read = (name: string, token: number | null): ResourceState => {
    const state = stateOf(name);
    see(state, token);
    return state;
  };

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => reply(response, 500, { error: String(error) }));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://resource');
    const path = url.pathname;
    if (!path.startsWith(PATH_PREFIX) || path.length === PATH_PREFIX.length) return reply(response, 404, { error: `no resource at ${path}` });
    const name = decodeURIComponent(path.slice(PATH_PREFIX.length));
    if (request.method === 'GET') {
      const token = ReadToken.safeParse(url.searchParams.get('token'));
      if (!token.success) return reply(response, 400, { error: `bad read token: ${url.searchParams.get('token')}` });
      return reply(response, 200, read(name, token.data));
    }
    if (request.method !== 'POST') return reply(response, 405, { error: 'GET or POST' });
    const body = WriteBody.safeParse(await readJson(request));
    if (!body.success) return reply(response, 400, { error: `bad write: ${body.error.issues[0]?.message ?? 'invalid'}` });
    reply(response, 200, write(name, body.data));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    fencing: options.fencing,
    url: (name) => `http://127.0.0.1:${port}${PATH_PREFIX}${encodeURIComponent(name)}`,
    state: (name) => ({ ...stateOf(name) }),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      // Workers keep connections alive; they must not hold the close up.
      server.closeAllConnections();
    }),
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > MAX_BODY_BYTES) return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The HTTP API: Toxiproxy's routes, codes and bodies (api.go), mapped onto ProxyServer, plus this project's
 * extension routes (GET /events, /sessions/{session}, /connections). Any failure of a request is answered with a
 * Toxiproxy error body and a 4xx code; a 500 would be a bug of this proxy, and is logged.
 */
import http from 'node:http';
import { ApiError, TOXIPROXY_VERSION, type ServerEvent } from './api.ts';
import type { ProxyServer } from './collection.ts';

/** Bound on events kept for a subscriber that has not come yet; a controller subscribes within a second. */
const MAX_EARLY_EVENTS = 100_000;
const MAX_BODY_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  /** Sent as JSON; an ApiError as Toxiproxy's error body. */
  body?: unknown;
  /** Sent as it is, instead of a body. */
  text?: { contentType: string; content: string };
}

type Handler = (parameters: string[], body: unknown) => Answer | Promise<Answer>;

interface Route {
  /** Path segments; '*' takes one segment as a parameter. */
  pattern: string[];
  methods: Record<string, Handler>;
  /** Whether the handlers read a body. */
  readsBody: boolean;
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const created = (body: unknown): Answer => ({ status: 201, body });
const noContent = (): Answer => ({ status: 204 });

export class ControlServer {
  private readonly server: http.Server;
  private readonly subscribers = new Set<http.ServerResponse>();
  private early: string[] | undefined = [];
  private readonly routes: Route[];

  constructor(proxies: ProxyServer, private readonly log: (message: string) => void) {
    const route = (path: string, methods: Record<string, Handler>, readsBody = true): Route => ({
      pattern: path.split('/').filter((segment) => segment !== ''),
      methods,
      readsBody,
    });
    const updateProxy: Handler = async ([name], body) => ok(await proxies.update(name!, body));
    const updateToxic: Handler = ([name, toxic], body) => ok(proxies.updateToxic(name!, toxic!, body));
    this.routes = [
      route('/reset', { POST: async () => (await proxies.reset(), noContent()) }, false),
      route('/proxies', { GET: () => ok(proxies.list()), POST: async (_, body) => created(await proxies.create(body)) }),
      route('/populate', { POST: async (_, body) => proxies.populate(body) }),
      route('/proxies/*', {
        GET: ([name]) => ok(proxies.get(name!)),
        POST: updateProxy,
        PATCH: updateProxy,
        DELETE: async ([name]) => (await proxies.remove(name!), noContent()),
      }),
      route('/proxies/*/toxics', { GET: ([name]) => ok(proxies.listToxics(name!)), POST: ([name], body) => ok(proxies.addToxic(name!, body)) }),
      route('/proxies/*/toxics/*', {
        GET: ([name, toxic]) => ok(proxies.getToxic(name!, toxic!)),
        POST: updateToxic,
        PATCH: updateToxic,
        DELETE: ([name, toxic]) => (proxies.removeToxic(name!, toxic!), noContent()),
      }),
      route('/version', { GET: () => ({ status: 200, text: { contentType: 'application/json;charset=utf-8', content: `{"version": "${TOXIPROXY_VERSION}"}\n` } }) }, false),
      route('/connections', { GET: () => ok(proxies.connections()) }, false),
      route('/sessions/*', {
        GET: ([session]) => {
          const location = proxies.session(session!);
          if (location === undefined) throw new ApiError(`session ${session} is not attached to any server`, 404);
          return ok(location);
        },
      }, false),
    ];
    this.server = http.createServer((request, response) => void this.handle(request, response));
    this.server.on('clientError', (_error, socket) => socket.destroy());
  }

  /** Listens on host:port (port 0: any free one); resolves with the port. */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as { port: number }).port;
  }

  publish(event: ServerEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    if (this.early !== undefined) {
      if (this.early.length < MAX_EARLY_EVENTS) this.early.push(line);
      return;
    }
    for (const subscriber of this.subscribers) subscriber.write(line);
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    let answer: Answer;
    try {
      answer = await this.answer(request, response);
    } catch (error) {
      if (error instanceof ApiError) {
        answer = { status: error.status, body: error };
      } else {
        this.log(`api: ${request.method} ${request.url}: ${error instanceof Error ? error.stack : String(error)}`);
        answer = { status: 500, body: new ApiError(error instanceof Error ? error.message : String(error), 500) };
      }
    }
    if (response.headersSent) return; // the event stream
    send(response, answer);
  }

  private async answer(request: http.IncomingMessage, response: http.ServerResponse): Promise<Answer> {
    // Toxiproxy refuses browsers, so a web page cannot drive it across origins.
    if ((request.headers['user-agent'] ?? '').startsWith('Mozilla/')) return { status: 403, text: { contentType: 'text/plain; charset=utf-8', content: 'User agent not allowed\n' } };
    const path = (request.url ?? '/').split('?')[0]!;
    const segments = path.split('/').slice(1);
    if (segments.at(-1) === '' && segments.length > 0) segments.pop();
    if (path === '/events' && request.method === 'GET') {
      this.subscribe(response);
      return ok(undefined);
    }
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      throw new ApiError(`bad path ${path}`, 400);
    }
    const route = this.routes.find(({ pattern }) => pattern.length === decoded.length && pattern.every((part, index) => part === '*' || part === decoded[index]));
    if (route === undefined || decoded.some((segment) => segment === '')) throw new ApiError('404 page not found', 404);
    const handler = route.methods[request.method ?? ''];
    if (handler === undefined) throw new ApiError('method not allowed', 405);
    const parameters = decoded.filter((_, index) => route.pattern[index] === '*');
    const body = route.readsBody ? await readJson(request) : undefined;
    return handler(parameters, body);
  }

  private subscribe(response: http.ServerResponse): void {
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    response.flushHeaders();
    this.subscribers.add(response);
    response.on('close', () => this.subscribers.delete(response));
    for (const line of this.early ?? []) response.write(line);
    this.early = undefined;
  }

  async close(): Promise<void> {
    for (const subscriber of this.subscribers) subscriber.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The body as JSON; undefined when empty (Go's decoder then says EOF). */
async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(`request body over ${MAX_BODY_BYTES} bytes`, 413);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(`bad request body: ${error instanceof Error ? error.message : 'not JSON'}`, 400);
  }
}

function send(response: http.ServerResponse, { status, body, text }: Answer): void {
  if (text === undefined && body === undefined) {
    response.writeHead(status);
    response.end();
    return;
  }
  // Toxiproxy writes errors with a newline after the JSON, as Go's http.Error does; other answers without.
  const content = text?.content ?? (body instanceof ApiError ? `${JSON.stringify({ error: body.message, status: body.status })}\n` : JSON.stringify(body));
  response.writeHead(status, { 'content-type': text?.contentType ?? 'application/json', 'content-length': Buffer.byteLength(content) });
  response.end(content);
}

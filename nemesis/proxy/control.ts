/**
 * The proxy's control API: HTTP/JSON on 127.0.0.1 (docs/proxy-api.md). Requests are checked against api.ts;
 * events stream as NDJSON on GET /events. Events raised before the first subscriber are kept for it, so a
 * controller that subscribes right after start misses nothing.
 */
import http from 'node:http';
import type { z } from 'zod';
import {
  addClientHostSchema,
  armSchema,
  latencySchema,
  linkSelectorSchema,
  partitionSchema,
  type ProxyEvent,
} from './api.ts';
import { RequestError, type FaultProxyServer } from './proxy.ts';

/** Bound on events kept for a subscriber that has not come yet; a controller subscribes within a second. */
const MAX_EARLY_EVENTS = 100_000;
const MAX_BODY_BYTES = 64 * 1024;

type Handler = (body: unknown, parameter: string | undefined) => unknown;

export class ControlServer {
  private readonly server: http.Server;
  private readonly subscribers = new Set<http.ServerResponse>();
  private early: string[] | undefined = [];
  private readonly routes: Map<string, Handler>;

  constructor(proxy: FaultProxyServer) {
    const parse = <T extends z.ZodType>(schema: T, body: unknown): z.output<T> => {
      const result = schema.safeParse(body ?? {});
      if (!result.success) throw new RequestError(result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
      return result.data;
    };
    const faultId = (parameter: string | undefined): number => {
      const id = Number(parameter);
      if (!Number.isInteger(id)) throw new RequestError(`not a fault id: ${parameter}`);
      return id;
    };
    this.routes = new Map<string, Handler>([
      ['POST /client-hosts', (body) => proxy.addClientHost(parse(addClientHostSchema, body).name)],
      ['POST /partition', (body) => {
        const request = parse(partitionSchema, body);
        return { links: proxy.partition(request, request.direction) };
      }],
      ['POST /heal', (body) => ({ links: proxy.heal(parse(linkSelectorSchema, body)) })],
      ['POST /heal-all', () => proxy.healAll()],
      ['POST /latency', (body) => {
        const request = parse(latencySchema, body);
        return { links: proxy.setLatency(request, request.toServer, request.toClient) };
      }],
      ['POST /reset', (body) => ({ connections: proxy.reset(parse(linkSelectorSchema, body)) })],
      ['POST /faults', (body) => {
        const request = parse(armSchema, body);
        return { id: proxy.arm(request.kind, request.filter) };
      }],
      ['DELETE /faults', (_, parameter) => ({ outcome: proxy.disarm(faultId(parameter)) })],
      ['GET /sessions', (_, parameter) => {
        const location = proxy.sessionServer(parameter ?? '');
        if (location === undefined) throw new RequestError(`session ${parameter} is not attached to any server`, 404);
        return location;
      }],
      ['GET /connections', () => proxy.listConnections()],
    ]);
    this.server = http.createServer((request, response) => void this.handle(request, response));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    return (this.server.address() as { port: number }).port;
  }

  publish(event: ProxyEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    if (this.early !== undefined) {
      if (this.early.length < MAX_EARLY_EVENTS) this.early.push(line);
      return;
    }
    for (const subscriber of this.subscribers) subscriber.write(line);
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const [, resource = '', parameter] = (request.url ?? '/').split('/');
    const route = `${request.method} /${resource}`;
    if (route === 'GET /events') {
      this.subscribe(response);
      return;
    }
    const handler = this.routes.get(route);
    try {
      if (handler === undefined) throw new RequestError(`no route ${request.method} ${request.url}`, 404);
      const body = await readJson(request);
      const result = await handler(body, parameter === undefined ? undefined : decodeURIComponent(parameter));
      reply(response, 200, result ?? {});
    } catch (error) {
      if (error instanceof RequestError) reply(response, error.status, { error: error.message });
      else reply(response, 500, { error: error instanceof Error ? error.message : String(error) });
    }
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

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RequestError(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError('request body is not JSON');
  }
}

function reply(response: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

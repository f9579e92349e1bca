/**
 * What the proxy's unit tests share: our proxy process with no ZooKeeper behind it, plain TCP servers to put
 * behind its proxies, and sockets that record what they receive and how they end.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Toxiproxy } from 'toxiproxy-node-client';
import { startProxy, type ProxyHandle } from './client.ts';

export interface TestServer {
  url: string;
  client: Toxiproxy;
  handle: ProxyHandle;
  close(): Promise<void>;
}

/** Our proxy process, spawned as the runner spawns it, with no client host yet; its log goes to a scratch file. */
export async function startTestServer(seed?: number): Promise<TestServer> {
  const scratch = await mkdtemp(join(tmpdir(), 'zkj-proxy-unit-'));
  const handle = await startProxy({ servers: new Map(), logFile: join(scratch, 'proxy.log'), ...(seed === undefined ? {} : { seed }) });
  return {
    url: handle.url,
    client: new Toxiproxy(handle.url),
    handle,
    close: async () => {
      await handle.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** A ZooKeeper frame: the body's length (4 bytes, big-endian), then the body. */
export function frame(body: Buffer): Buffer {
  const bytes = Buffer.alloc(4 + body.length);
  bytes.writeInt32BE(body.length);
  body.copy(bytes, 4);
  return bytes;
}

/** A TCP server on loopback that sends back whatever it receives and ends when its peer ends; it keeps what each connection sent. */
export async function startEchoServer(): Promise<{ address: string; port: number; received(connection: number): Buffer; receivedAtLeast(connection: number, length: number): Promise<Buffer>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const received: Buffer[][] = [];
  const arrivals = new EventEmitter();
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (bytes: Buffer) => {
      chunks.push(bytes);
      arrivals.emit('data');
    });
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const bytesOf = (connection: number): Buffer => Buffer.concat(received[connection] ?? []);
  return {
    address: `127.0.0.1:${port}`,
    port,
    received: bytesOf,
    receivedAtLeast: (connection, length) => new Promise((resolve) => {
      const check = (): void => {
        if (bytesOf(connection).length < length) return;
        arrivals.off('data', check);
        resolve(bytesOf(connection));
      };
      arrivals.on('data', check);
      check();
    }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client socket that keeps what it receives, with when, and how it ended. */
export class RecordingSocket {
  readonly socket: net.Socket;
  readonly chunks: { atMs: number; bytes: Buffer }[] = [];
  readonly connected: Promise<void>;
  /** Resolves with how the socket ended: 'end' (a FIN), or the error code (ECONNRESET, ECONNREFUSED). */
  readonly ended: Promise<string>;
  endedAtMs: number | undefined;

  constructor(address: string) {
    const [host, port] = address.split(':') as [string, string];
    this.socket = net.connect({ host, port: Number(port), allowHalfOpen: true });
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.ended = new Promise((resolve) => {
      const finish = (how: string): void => {
        this.endedAtMs ??= performance.now();
        resolve(how);
      };
      this.socket.on('end', () => finish('end'));
      this.socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
      this.socket.on('close', () => finish('close'));
    });
    this.socket.on('data', (bytes: Buffer) => this.chunks.push({ atMs: performance.now(), bytes }));
  }

  received(): Buffer {
    return Buffer.concat(this.chunks.map((chunk) => chunk.bytes));
  }

  /** Resolves once `length` bytes have arrived (or rejects after `boundMs`). */
  async receive(length: number, boundMs = 10_000): Promise<Buffer> {
    const deadline = performance.now() + boundMs;
    while (this.received().length < length) {
      if (performance.now() > deadline) throw new Error(`received ${this.received().length} of ${length} bytes within ${boundMs} ms`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.socket.off('data', done);
          resolve();
        };
        const timer = setTimeout(done, 50);
        this.socket.on('data', done);
      });
    }
    return this.received();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One HTTP request to the API; the status and the body as text (raw: for exact bodies and codes). */
export async function request(url: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; contentType: string | null }> {
  const response = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') };
}

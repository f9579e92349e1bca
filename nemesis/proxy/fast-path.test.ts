/**
 * The fast path (a session with nothing armed is forwarded without decoding its frames) gives way the moment a
 * toxic is added to the open connection, on the very next frame. No ZooKeeper: a TCP echo server behind our
 * proxy process, and a client that speaks ZooKeeper's framing. The echo of a ConnectRequest reads as a
 * ConnectResponse (its lastZxidSeen and timeOut fields are laid out to be a timeout and a session id), the echo of
 * a request as its reply (same xid), so a session, its requests and their replies go through the proxy as they do
 * with a server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from 'toxiproxy-node-client';
import type { ProxyEvent } from './client.ts';
import { RecordingSocket, frame, request, startEchoServer, startTestServer, type TestServer } from './test-support.ts';

let server: TestServer;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
const sockets: RecordingSocket[] = [];
const events: ProxyEvent[] = [];
let proxyCount = 0;
let connectionCount = 0;

beforeAll(async () => {
  [server, echo] = await Promise.all([startTestServer(), startEchoServer()]);
  server.handle.onEvent((event) => events.push(event));
});
afterAll(async () => {
  await server?.close();
  await echo?.close();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await server.client.reset();
});

const SESSION = 0x1234_0000_5678n;
const TIMEOUT_MS = 4000;
const EXISTS = 3;

/** A ConnectRequest whose echo is a ConnectResponse of TIMEOUT_MS for SESSION. */
function connectRequest(): Buffer {
  const body = Buffer.alloc(4 + 8 + 4 + 8 + 4 + 16);
  body.writeInt32BE(0, 0); // protocolVersion
  body.writeBigInt64BE((BigInt(TIMEOUT_MS) << 32n) | (SESSION >> 32n), 4); // lastZxidSeen: read back as timeout, session's high half
  body.writeInt32BE(Number(SESSION & 0xffff_ffffn), 12); // timeOut: read back as the session's low half
  body.writeBigInt64BE(0n, 16); // sessionId: a new session
  body.writeInt32BE(16, 24); // passwd
  return frame(body);
}

/** An exists request (RequestHeader, path, watch); its echo is a reply to `xid`. */
function exists(xid: number, path = '/fast/path'): Buffer {
  const pathBytes = Buffer.from(path);
  const body = Buffer.alloc(8 + 4 + pathBytes.length + 1);
  body.writeInt32BE(xid, 0);
  body.writeInt32BE(EXISTS, 4);
  body.writeInt32BE(pathBytes.length, 8);
  pathBytes.copy(body, 12);
  return frame(body);
}

async function newProxy(): Promise<Proxy> {
  proxyCount += 1;
  return server.client.createProxy({ name: `fast${proxyCount}`, listen: '127.0.0.1:0', upstream: echo.address });
}

/** A session through the proxy, past its handshake and a few requests: on the fast path. */
async function openSession(proxy: Proxy): Promise<{ socket: RecordingSocket; connection: number; sent: Buffer }> {
  const socket = new RecordingSocket(proxy.listen);
  sockets.push(socket);
  await socket.connected;
  const connection = connectionCount++;
  const sent = Buffer.concat([connectRequest(), exists(1), exists(2), exists(3)]);
  socket.socket.write(sent.subarray(0, connectRequest().length));
  socket.socket.write(sent.subarray(connectRequest().length));
  await socket.receive(sent.length);
  return { socket, connection, sent };
}

function until(what: (event: ProxyEvent) => boolean): Promise<ProxyEvent> {
  const seen = events.find(what);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const unsubscribe = server.handle.onEvent((event) => {
      if (!what(event)) return;
      unsubscribe();
      resolve(event);
    });
  });
}

type ToxicBody = Parameters<Proxy['addToxic']>[0];
const zkToxic = (type: string, ops: string[]): ToxicBody =>
  ({ name: type, type, stream: 'upstream', toxicity: 1, attributes: { ops, path_prefix: '', session: '', fault_id: 0 } }) as unknown as ToxicBody;

describe('a toxic added to an open session on the fast path', () => {
  it('the session is known from its handshake alone', async () => {
    const proxy = await newProxy();
    await openSession(proxy);
    const session = `0x${SESSION.toString(16)}`;
    await until((event) => event.event === 'session-established' && event.session === session);
    const answer = await request(server.url, 'GET', `/sessions/${session}`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ session, proxy: proxy.name });
  });

  // Where the request in flight when the toxic is added stands: nothing of it sent yet, inside its length, its length
  // alone (as the C client writes it), its length and a byte, inside its header. The proxy keeps a frame's length
  // back until the byte after it has come, so the first two have not gone out and are hit; the others have.
  const SPLITS = [0, 2, 4, 5, 9];
  const GONE_OUT = 5;

  /** Sends `before` bytes of the request in flight, and waits until they reached the server if they go on. */
  async function sendPart(socket: RecordingSocket, connection: number, sent: Buffer, bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    socket.socket.write(bytes);
    if (bytes.length >= GONE_OUT) await echo.receivedAtLeast(connection, sent.length + bytes.length);
  }

  it.each(SPLITS)('zk_lost_request, with %i bytes of a request through before it: that request goes on, the next one is swallowed', async (before) => {
    const proxy = await newProxy();
    const { socket, connection, sent } = await openSession(proxy);
    const inFlight = exists(4);
    const next = exists(5);
    await sendPart(socket, connection, sent, inFlight.subarray(0, before));
    const toxic = await proxy.addToxic(zkToxic('zk_lost_request', ['exists']));
    socket.socket.write(Buffer.concat([inFlight.subarray(before), next]));
    expect(await socket.ended).toBe('ECONNRESET');
    const dropped = await until((event) => event.event === 'request-dropped' && event.faultId === (toxic.attributes as { fault_id: number }).fault_id);
    // A request whose first bytes went on before the toxic cannot be cut any more: the one after it is dropped.
    expect(dropped).toMatchObject({ xid: before < GONE_OUT ? 4 : 5, op: 'exists', path: '/fast/path' });
    // No byte of the dropped request reached the server (the reset may cut short what went before it).
    const reached = echo.received(connection);
    const allowed = Buffer.concat(before < GONE_OUT ? [sent] : [sent, inFlight]);
    expect(reached.length).toBeLessThanOrEqual(allowed.length);
    expect(reached.equals(allowed.subarray(0, reached.length))).toBe(true);
    expect(events.some((event) => event.event === 'malformed-frame')).toBe(false);
  });

  it.each(SPLITS)('zk_hold_reply, with %i bytes of a request through before it: that reply goes on, the next one and all after it wait, then go intact', async (before) => {
    const proxy = await newProxy();
    const { socket, connection, sent } = await openSession(proxy);
    const inFlight = exists(6);
    const next = exists(7);
    const after = exists(8);
    await sendPart(socket, connection, sent, inFlight.subarray(0, before));
    const toxic = await proxy.addToxic(zkToxic('zk_hold_reply', ['exists']));
    const faultId = (toxic.attributes as { fault_id: number }).fault_id;
    socket.socket.write(Buffer.concat([inFlight.subarray(before), next]));
    expect(await until((event) => event.event === 'reply-held' && event.faultId === faultId)).toMatchObject({ xid: before < GONE_OUT ? 6 : 7, op: 'exists' });
    socket.socket.write(after);
    // Every request reached the server; the client has the replies up to the held one, and nothing after it.
    expect((await echo.receivedAtLeast(connection, sent.length + 3 * next.length)).equals(Buffer.concat([sent, inFlight, next, after]))).toBe(true);
    const beforeHeld = Buffer.concat(before < GONE_OUT ? [sent] : [sent, inFlight]);
    expect((await socket.receive(beforeHeld.length)).equals(beforeHeld)).toBe(true);
    await toxic.remove();
    expect((await socket.receive(sent.length + 3 * next.length)).equals(Buffer.concat([sent, inFlight, next, after]))).toBe(true);
    expect(await until((event) => event.event === 'reply-released' && event.faultId === faultId)).toMatchObject({ xid: before < GONE_OUT ? 6 : 7 });
  });

  it('zk_lost_reply: the next request is forwarded, its reply dropped, and the session goes on being read from there', async () => {
    const proxy = await newProxy();
    const { socket, connection, sent } = await openSession(proxy);
    const toxic = await proxy.addToxic(zkToxic('zk_lost_reply', ['exists']));
    const request9 = exists(9);
    socket.socket.write(request9);
    expect(await socket.ended).toBe('ECONNRESET');
    expect(await until((event) => event.event === 'reply-dropped' && event.faultId === (toxic.attributes as { fault_id: number }).fault_id)).toMatchObject({ xid: 9 });
    expect(echo.received(connection).equals(Buffer.concat([sent, request9]))).toBe(true);
    expect(socket.received().equals(sent)).toBe(true);
  });

  it('a latency toxic delays the next frame', async () => {
    const proxy = await newProxy();
    const { socket, sent } = await openSession(proxy);
    await proxy.addToxic({ name: 'slow', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } } as unknown as ToxicBody);
    const startedAt = performance.now();
    socket.socket.write(exists(10));
    await socket.receive(sent.length + exists(10).length);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(149);
  });
});

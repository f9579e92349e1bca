/**
 * Every toxic on the data path, over plain TCP: our proxy process between a client socket and an echo server,
 * toxics set through toxiproxy-node-client. Bounds are generous (a shared two-core machine); each test says what
 * it measured.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from 'toxiproxy-node-client';
import { RecordingSocket, startEchoServer, startTestServer, type TestServer } from './test-support.ts';

let server: TestServer;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
const sockets: RecordingSocket[] = [];
let proxyCount = 0;

beforeAll(async () => {
  [server, echo] = await Promise.all([startTestServer(), startEchoServer()]);
});
afterAll(async () => {
  await server?.close();
  await echo?.close();
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await server.client.reset();
});

async function newProxy(): Promise<Proxy> {
  proxyCount += 1;
  return server.client.createProxy({ name: `echo${proxyCount}`, listen: '127.0.0.1:0', upstream: echo.address });
}

async function connect(proxy: Proxy): Promise<RecordingSocket> {
  const socket = new RecordingSocket(proxy.listen);
  sockets.push(socket);
  await socket.connected;
  return socket;
}

type ToxicBody = Parameters<Proxy['addToxic']>[0];
const toxic = (type: string, stream: 'upstream' | 'downstream', attributes: Record<string, number>, extra: Partial<ToxicBody> = {}): ToxicBody =>
  ({ name: `${type}_${stream}`, type, stream, toxicity: 1, attributes, ...extra }) as unknown as ToxicBody;

/** Milliseconds from sending `payload` to receiving all of it back. */
async function roundTrip(socket: RecordingSocket, payload: Buffer): Promise<number> {
  const already = socket.received().length;
  const startedAt = performance.now();
  socket.socket.write(payload);
  await socket.receive(already + payload.length, 20_000);
  return performance.now() - startedAt;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('toxics on the data path', () => {
  it('without a toxic, passes every byte back and forth intact', async () => {
    const socket = await connect(await newProxy());
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, index) => (index * 7) % 256));
    await roundTrip(socket, payload);
    expect(socket.received().equals(payload)).toBe(true);
  });

  it('latency: adds its delay per direction, within tolerance, also to a connection already open', async () => {
    const proxy = await newProxy();
    const socket = await connect(proxy);
    const baseline = await roundTrip(socket, Buffer.from('ping'));
    await proxy.addToxic(toxic('latency', 'upstream', { latency: 60, jitter: 0 }));
    await proxy.addToxic(toxic('latency', 'downstream', { latency: 90, jitter: 0 }));
    const samples: number[] = [];
    for (let index = 0; index < 5; index += 1) samples.push(await roundTrip(socket, Buffer.from(`ping${index}`)));
    console.log(`measure: latency 60+90 ms: round trips ${samples.map((ms) => ms.toFixed(1)).join(', ')} ms (baseline ${baseline.toFixed(1)})`);
    for (const ms of samples) {
      expect(ms).toBeGreaterThanOrEqual(149);
      expect(ms).toBeLessThan(150 + 100);
    }
  });

  it('latency with jitter: every delay within latency ± jitter', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('latency', 'downstream', { latency: 100, jitter: 40 }));
    const socket = await connect(proxy);
    const samples: number[] = [];
    for (let index = 0; index < 8; index += 1) samples.push(await roundTrip(socket, Buffer.from(`j${index}`)));
    console.log(`measure: latency 100 ± 40 ms: ${samples.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    for (const ms of samples) {
      expect(ms).toBeGreaterThanOrEqual(59);
      expect(ms).toBeLessThan(140 + 80);
    }
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(5);
  });

  it('bandwidth: a known payload takes its size over the rate', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('bandwidth', 'downstream', { rate: 100 }));
    const socket = await connect(proxy);
    const payload = Buffer.alloc(50_000, 1);
    const ms = await roundTrip(socket, payload);
    console.log(`measure: 50,000 bytes at 100 KB/s in ${ms.toFixed(0)} ms (expected 500)`);
    expect(ms).toBeGreaterThan(450);
    expect(ms).toBeLessThan(1_500);
    expect(socket.received().equals(payload)).toBe(true);
  });

  it('bandwidth 0 lets nothing through until it is removed; then everything arrives, in order', async () => {
    const proxy = await newProxy();
    const stuck = await proxy.addToxic(toxic('bandwidth', 'downstream', { rate: 0 }));
    const socket = await connect(proxy);
    socket.socket.write('held back');
    await sleep(300);
    expect(socket.received().length).toBe(0);
    await stuck.remove();
    expect((await socket.receive(9)).toString()).toBe('held back');
  });

  it('timeout: drops what is sent, then closes the connection after its timeout', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('timeout', 'downstream', { timeout: 500 }));
    const startedAt = performance.now();
    const socket = await connect(proxy);
    socket.socket.write('lost');
    const how = await socket.ended;
    const ms = socket.endedAtMs! - startedAt;
    console.log(`measure: timeout 500 ms closed the connection after ${ms.toFixed(0)} ms (${how})`);
    expect(how).toBe('end');
    expect(ms).toBeGreaterThan(450);
    expect(ms).toBeLessThan(3_000);
    expect(socket.received().length).toBe(0);
  });

  it('timeout 0: silent until removed, and removing it closes the connection', async () => {
    const proxy = await newProxy();
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('before'));
    const silence = await proxy.addToxic(toxic('timeout', 'upstream', { timeout: 0 }));
    socket.socket.write('dropped');
    await sleep(400);
    expect(socket.received().toString()).toBe('before');
    expect(socket.endedAtMs).toBeUndefined();
    await silence.remove();
    expect(await socket.ended).toBe('end');
    expect(socket.received().toString()).toBe('before');
  });

  it('reset_peer: the client gets ECONNRESET when it next sends', async () => {
    const proxy = await newProxy();
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('fine'));
    await proxy.addToxic(toxic('reset_peer', 'upstream', { timeout: 100 }));
    const sentAt = performance.now();
    socket.socket.write('reset me');
    expect(await socket.ended).toBe('ECONNRESET');
    expect(socket.endedAtMs! - sentAt).toBeGreaterThan(90);
  });

  it('limit_data: lets its bytes through, then closes', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('limit_data', 'downstream', { bytes: 10 }));
    const socket = await connect(proxy);
    socket.socket.write(Buffer.alloc(100, 0x61));
    expect(await socket.ended).toBe('end');
    expect(socket.received().toString()).toBe('a'.repeat(10));
  });

  it('limit_data counts across an update of the toxic', async () => {
    const proxy = await newProxy();
    const limit = await proxy.addToxic(toxic('limit_data', 'downstream', { bytes: 10 }));
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('123456'));
    await limit.update({ ...limit.toJson(), attributes: { bytes: 12 } as never });
    socket.socket.write('abcdefgh');
    expect(await socket.ended).toBe('end');
    expect(socket.received().toString()).toBe('123456abcdef');
  });

  it('slicer: bytes intact and in order, in many small pieces', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('slicer', 'downstream', { average_size: 10, size_variation: 5, delay: 200 }));
    const socket = await connect(proxy);
    const payload = Buffer.from(Array.from({ length: 5_000 }, (_, index) => index % 251));
    await roundTrip(socket, payload);
    console.log(`measure: slicer average 10 ± 5 bytes: 5,000 bytes arrived in ${socket.chunks.length} reads`);
    expect(socket.received().equals(payload)).toBe(true);
    expect(socket.chunks.length).toBeGreaterThan(20);
  });

  it('slow_close: the close reaches the client its delay late, also past the 2 s a lingering side is given', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('slow_close', 'downstream', { delay: 2_500 }));
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('bye'));
    const endedAt = performance.now();
    socket.socket.end();
    expect(await socket.ended).toBe('end');
    expect(socket.endedAtMs! - endedAt).toBeGreaterThan(2_450);
  });

  it('noop: changes nothing', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('noop', 'downstream', {}));
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('same'));
    expect(socket.received().toString()).toBe('same');
  });

  it('toxicity 0 spares every connection', async () => {
    const proxy = await newProxy();
    await proxy.addToxic(toxic('timeout', 'downstream', { timeout: 0 }, { toxicity: 0 }));
    const socket = await connect(proxy);
    await roundTrip(socket, Buffer.from('spared'));
  });

  it('enabled:false refuses new connections and closes open ones; enabled again, it accepts', async () => {
    const proxy = await newProxy();
    const open = await connect(proxy);
    await roundTrip(open, Buffer.from('x'));
    const { listen, upstream } = proxy;
    await proxy.update({ enabled: false, listen, upstream });
    expect(await open.ended).toMatch(/^(end|ECONNRESET)$/);
    const refused = new RecordingSocket(listen);
    sockets.push(refused);
    expect(await refused.ended).toBe('ECONNREFUSED');
    await proxy.update({ enabled: true, listen, upstream });
    await roundTrip(await connect(proxy), Buffer.from('back'));
  });
});

describe('seeded toxicity', () => {
  /** Which of `count` connections a limit_data toxic of toxicity 0.5 hit, on a proxy process with this seed. */
  async function hits(seed: number, count: number): Promise<boolean[]> {
    const seeded = await startTestServer(seed);
    try {
      const proxy = await seeded.client.createProxy({ name: 'seeded', listen: '127.0.0.1:0', upstream: echo.address });
      await proxy.addToxic(toxic('limit_data', 'downstream', { bytes: 1 }, { toxicity: 0.5 }));
      const pattern: boolean[] = [];
      for (let index = 0; index < count; index += 1) {
        const socket = new RecordingSocket(proxy.listen);
        await socket.connected;
        socket.socket.write('four');
        await Promise.race([socket.receive(4, 3_000).catch(() => undefined), socket.ended]);
        pattern.push(socket.received().length < 4);
        socket.close();
      }
      return pattern;
    } finally {
      await seeded.close();
    }
  }

  it('the same seed hits the same connections; another seed, others', async () => {
    const [first, again, other] = [await hits(11, 16), await hits(11, 16), await hits(12, 16)];
    console.log(`measure: seed 11 hit ${first.map((hit) => (hit ? 'x' : '.')).join('')}, seed 12 ${other.map((hit) => (hit ? 'x' : '.')).join('')}`);
    expect(again).toEqual(first);
    expect(first.some(Boolean) && !first.every(Boolean)).toBe(true);
    expect(other).not.toEqual(first);
  });
});

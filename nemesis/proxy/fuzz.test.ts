/**
 * Bad input never breaks the proxy: for a few seconds, random bytes (and random ZooKeeper-looking frames) on its
 * listeners and random requests on its API, while a client keeps echoing through it. Every answer must be a 2xx
 * or a 4xx, never a 500; the process must live; a client must still get through afterwards. The random stream is
 * seeded (printed), so a failure can be replayed. Every address a request can name is on loopback.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRandom, type Random } from '../../ground/random.ts';
import { RecordingSocket, request, startEchoServer, startTestServer, type TestServer } from './test-support.ts';

/** FUZZ_MS and FUZZ_SEED run it longer, or again. */
const FUZZ_MS = Number(process.env['FUZZ_MS'] ?? 8_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);

let server: TestServer;
let echo: Awaited<ReturnType<typeof startEchoServer>>;

beforeAll(async () => {
  [server, echo] = await Promise.all([startTestServer(SEED), startEchoServer()]);
});
afterAll(async () => {
  await server?.close();
  await echo?.close();
});

const NAMES = ['p1', 'p2', 'p3', '', 'x y', '%2F', 'ä', '..'];
const TOXIC_TYPES = ['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data', 'noop', 'zk_lost_reply', 'zk_lost_request', 'zk_hold_reply', 'down', 'nope'];

function randomValue(random: Random, depth = 0): unknown {
  switch (random.int(depth > 2 ? 6 : 9)) {
    case 0: return null;
    case 1: return random.chance(0.5);
    case 2: return random.int(2_000) - 500;
    case 3: return random.float() * 1e6 * (random.chance(0.5) ? -1 : 1);
    case 4: return random.pick(['', 'upstream', 'downstream', 'UpStream', '127.0.0.1:0', 'localhost:0', '0x1a', '/locks/', 'create', 'x'.repeat(random.int(300))]);
    case 5: return random.pick([1e308, -0, 2 ** 53, Number.MAX_SAFE_INTEGER + 2]);
    case 6: return Array.from({ length: random.int(4) }, () => randomValue(random, depth + 1));
    default: return Object.fromEntries(Array.from({ length: random.int(5) }, () => [random.pick(['name', 'type', 'stream', 'toxicity', 'attributes', 'listen', 'upstream', 'enabled', 'latency', 'ops', 'fault_id', '__proto__']), randomValue(random, depth + 1)]));
  }
}

/** A body shaped like a real one, with some fields swapped for random values. */
function randomBody(random: Random): string | undefined {
  const shaped: Record<string, unknown> = random.chance(0.5)
    ? { name: random.pick(NAMES), listen: random.pick(['127.0.0.1:0', 'localhost:0', '127.0.0.1:99999', 'local373', '[::1]:0', '']), upstream: random.pick([echo.address, '127.0.0.1:1', 'nowhere', '']), enabled: random.chance(0.8) }
    : { name: random.pick(['t1', 't2', '']), type: random.pick(TOXIC_TYPES), stream: random.pick(['upstream', 'downstream', 'sideways']), toxicity: random.float(), attributes: { latency: random.int(50), rate: random.int(1_000), bytes: random.int(100), timeout: random.int(300), average_size: random.int(20), ops: ['create'], fault_id: random.int(5) } };
  for (const key of Object.keys(shaped)) if (random.chance(0.2)) shaped[key] = randomValue(random);
  switch (random.int(6)) {
    case 0: return undefined;
    case 1: return JSON.stringify(randomValue(random));
    case 2: return JSON.stringify(shaped).slice(0, random.int(40));
    case 3: return JSON.stringify(random.chance(0.5) ? [shaped, shaped] : [shaped]);
    default: return JSON.stringify(shaped);
  }
}

function randomPath(random: Random): string {
  const proxy = random.pick(NAMES);
  const toxic = random.pick(['t1', 't2', 'latency_downstream', '']);
  return random.pick([
    '/proxies', `/proxies/${proxy}`, `/proxies/${proxy}/toxics`, `/proxies/${proxy}/toxics/${toxic}`, '/populate', '/reset', '/version',
    '/connections', `/sessions/${random.pick(['0x1', 'zz', ''])}`, '/', `/proxies/${proxy}/toxics/${toxic}/more`, '/%zz',
  ]);
}

/** Bytes for a listener: noise, a four-letter word, or a frame with a plausible length and random content. */
function randomBytes(random: Random): Buffer {
  const noise = (length: number) => Buffer.from(Array.from({ length }, () => random.int(256)));
  switch (random.int(4)) {
    case 0: return Buffer.from(random.pick(['ruok', 'envi', 'srvr', 'mntr', 'GET / HTTP/1.1\r\n\r\n']));
    case 1: {
      const body = noise(random.int(80));
      const frame = Buffer.alloc(4 + body.length);
      frame.writeInt32BE(random.chance(0.7) ? body.length : random.int(2 ** 31));
      body.copy(frame, 4);
      return frame;
    }
    default: return noise(1 + random.int(300));
  }
}

it('answers every random request with a 2xx or 4xx, survives random bytes, and still carries a client', async () => {
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
  const random = createRandom(SEED);
  const live = await server.client.createProxy({ name: 'live', listen: '127.0.0.1:0', upstream: echo.address });
  const client = new RecordingSocket(live.listen);
  await client.connected;
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let echoed = 0;
  let bytesSent = 0;
  const deadline = performance.now() + FUZZ_MS;

  const requests = (async () => {
    while (performance.now() < deadline) {
      const method = random.pick(['GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'POST', 'POST']);
      const path = randomPath(random);
      const body = randomBody(random);
      const answer = await request(server.url, method, path, method === 'GET' ? undefined : body);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 500) failures.push(`${method} ${path} ${body ?? ''} → ${answer.status} ${answer.text}`);
    }
  })();
  const bytes = (async () => {
    while (performance.now() < deadline) {
      const proxies = Object.values(await server.client.getAll()).filter((proxy) => proxy.enabled);
      const target = random.pick([live, ...proxies]);
      const socket = new RecordingSocket(target.listen);
      await Promise.race([socket.connected, socket.ended]);
      for (let count = random.int(4); count >= 0 && !socket.socket.destroyed; count -= 1) {
        const payload = randomBytes(random);
        bytesSent += payload.length;
        socket.socket.write(payload);
      }
      if (random.chance(0.5)) socket.socket.end();
      await new Promise((resolve) => setTimeout(resolve, random.int(20)));
      socket.close();
    }
  })();
  const echoes = (async () => {
    while (performance.now() < deadline && client.endedAtMs === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = client.received().length;
      client.socket.write('ping');
      await client.receive(before + 4, 2_000).then(() => (echoed += 1), () => undefined);
    }
  })();
  await Promise.all([requests, bytes, echoes]);

  const summary = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ');
  console.log(`measure: fuzz ${FUZZ_MS} ms: ${[...statuses.values()].reduce((a, b) => a + b, 0)} requests (${summary}), ${bytesSent} random bytes on the listeners, ${echoed} echoes through the live connection`);
  expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
  expect(JSON.parse(await server.client.getVersion())).toEqual({ version: '2.12.0' });

  // Afterwards a fresh client gets its bytes back through a fresh proxy.
  const fresh = await server.client.createProxy({ name: 'after-fuzz', listen: '127.0.0.1:0', upstream: echo.address });
  const after = new RecordingSocket(fresh.listen);
  await after.connected;
  after.socket.write('still here');
  expect((await after.receive(10)).toString()).toBe('still here');
  after.close();
  client.close();
});

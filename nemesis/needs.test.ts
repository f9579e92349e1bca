/**
 * What a nemesis declares it needs is what it does: against a handle on a Toxiproxy server (here the project's proxy,
 * attached as `--toxiproxy` attaches, using none of its extensions), a client-path nemesis that declares the
 * ZooKeeper-aware proxy is refused, and one that does not applies its fault with Toxiproxy's own toxics.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomFor } from '../ground/random.ts';
import { NEMESES, NEMESIS_NAMES } from './index.ts';
import { attachToxiproxy, type ProxyHandle } from './proxy/client.ts';
import { startEchoServer, startTestServer, type TestServer } from './proxy/test-support.ts';
import type { NemesisContext, PlanSettings } from './types.ts';

let server: TestServer;
let echo: Awaited<ReturnType<typeof startEchoServer>>;
let toxiproxy: ProxyHandle;

beforeAll(async () => {
  [server, echo] = await Promise.all([startTestServer(), startEchoServer()]);
  toxiproxy = await attachToxiproxy(server.url, new Map([[1, { host: '127.0.0.1', port: echo.port }]]));
  await toxiproxy.addClientHost('w1');
});

afterAll(async () => {
  await toxiproxy?.close();
  await server?.close();
  await echo?.close();
});

it('refuses on a Toxiproxy server exactly the nemeses that declare the ZooKeeper-aware proxy', async () => {
  expect(toxiproxy.zkAware).toBe(false);
  const settings: PlanSettings = { nodeIds: [1], clientHosts: ['w1'], sessionTimeoutMs: 1_000, intervalMs: 200, target: 'one' };
  const context = {
    proxy: toxiproxy,
    sessionTimeoutMs: 1_000,
    intervalMs: 200,
    lockRoot: '/locks',
    clientHosts: [{ name: 'w1', pause: () => undefined, resume: () => undefined }],
    holders: () => [{ client: 'c1', worker: 'w1', lock: 'L1' }],
  } as unknown as NemesisContext;
  // The client path: nemeses that need nothing of the servers' own capabilities.
  const clientPath = NEMESIS_NAMES.filter((name) => NEMESES[name].needs.every((need) => need === 'zookeeper-aware-proxy'));
  expect(clientPath.sort()).toEqual(['lost-delete', 'lost-reply', 'partition-clients', 'pause-holder']);
  for (const name of clientPath) {
    const nemesis = NEMESES[name];
    const applied = nemesis.apply({ nemesis: name, atMs: 0, ...nemesis.plan(randomFor(1, 'nemesis'), settings) }, context);
    if (nemesis.needs.includes('zookeeper-aware-proxy')) {
      await expect(applied, name).rejects.toThrow(/ZooKeeper-aware/);
    } else {
      const fault = await applied;
      expect(fault, name).toBeDefined();
      await fault!.heal();
    }
  }
});

/**
 * The table of toxics each client-path nemesis needs matches what the nemeses do: against a handle on a
 * Toxiproxy server (here our proxy, attached the way `--toxiproxy` attaches, which uses none of its extensions),
 * exactly the nemeses the table says need a ZooKeeper-aware toxic fail, and the others apply their fault.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRandom } from '../../ground/random.ts';
import { NEMESIS_MODULES } from '../index.ts';
import type { NemesisContext } from '../types.ts';
import { attachToxiproxy, type ProxyHandle } from './client.ts';
import { NEMESIS_TOXICS, toxiproxyRefusal } from './nemesis-toxics.ts';
import { startEchoServer, startTestServer, type TestServer } from './test-support.ts';

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

it('refuses on a Toxiproxy server exactly the nemeses whose toxics it lacks, naming them in one line', async () => {
  expect(toxiproxy.zkAware).toBe(false);
  const context = {
    proxy: toxiproxy,
    random: createRandom(1),
    sessionTimeoutMs: 1_000,
    intervalMs: 200,
    lockRoot: '/locks',
    clientHosts: [{ name: 'w1', pause: () => undefined, resume: () => undefined }],
    holders: () => [],
  } as unknown as NemesisContext;
  for (const name of Object.keys(NEMESIS_TOXICS)) {
    const refusal = toxiproxyRefusal([name]);
    const started = NEMESIS_MODULES[name as keyof typeof NEMESIS_MODULES].start(context);
    if (refusal === undefined) {
      const fault = await started;
      expect(fault, name).toBeDefined();
      await fault!.heal();
    } else {
      expect(refusal).toContain(name);
      expect(refusal.split('\n')).toHaveLength(1);
      await expect(started, name).rejects.toThrow(/ZooKeeper-aware/);
    }
  }
  expect(toxiproxyRefusal(['partition-clients', 'kill', 'pause-holder'])).toBeUndefined();
  expect(toxiproxyRefusal(['lost-reply', 'lost-delete'])).toMatch(/^--nemesis lost-reply \(zk_lost_reply\), lost-delete \(zk_lost_request\) needs/);
});

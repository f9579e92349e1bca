/**
 * The API as Toxiproxy's own API tests assert it (create, list, get, update, delete, duplicates, populate, reset,
 * toxic defaults and merge, bad stream and type), through toxiproxy-node-client as users drive it, and through
 * raw HTTP for the exact codes and bodies. Our proxy process, no ZooKeeper: the upstreams are never dialled.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestServer, type TestServer } from './test-support.ts';

let server: TestServer;
const UPSTREAM = '127.0.0.1:20001';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  for (const proxy of Object.values(await server.client.getAll())) await proxy.remove();
});

const raw = (method: string, path: string, body?: unknown) =>
  request(server.url, method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
const errorBody = (error: string, status: number): string => `${JSON.stringify({ error, status })}\n`;

/** Whether something accepts connections at host:port. */
function accepts(address: string): Promise<boolean> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('proxies', () => {
  it('answers its version, and an empty index', async () => {
    expect(JSON.parse(await server.client.getVersion())).toEqual({ version: '2.12.0' });
    expect(await raw('GET', '/version')).toMatchObject({ status: 200, text: '{"version": "2.12.0"}\n' });
    expect(await server.client.getAll()).toEqual({});
    expect(await raw('GET', '/proxies')).toMatchObject({ status: 200, text: '{}' });
  });

  it('creates a proxy listening where it said, answers 201 with listen resolved to the bound port, and gets it back', async () => {
    const created = await raw('POST', '/proxies', { name: 'mysql_master', listen: '127.0.0.1:0', upstream: UPSTREAM });
    expect(created.status).toBe(201);
    const body = JSON.parse(created.text);
    expect(Object.keys(body)).toEqual(['name', 'listen', 'upstream', 'enabled', 'toxics']);
    expect(body).toMatchObject({ name: 'mysql_master', upstream: UPSTREAM, enabled: true, toxics: [] });
    expect(body.listen).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(await accepts(body.listen)).toBe(true);

    const got = await server.client.get('mysql_master');
    expect(got.toJson()).toEqual({ name: 'mysql_master', listen: body.listen, upstream: UPSTREAM, enabled: true });
    const listed = await server.client.getAll();
    expect(Object.keys(listed)).toEqual(['mysql_master']);
    expect(listed['mysql_master']!.listen).toBe(body.listen);
  });

  it('lists proxies by name, with their toxics', async () => {
    await server.client.createProxy({ name: 'b', listen: '127.0.0.1:0', upstream: UPSTREAM });
    const a = await server.client.createProxy({ name: 'a', listen: '127.0.0.1:0', upstream: UPSTREAM });
    await a.addToxic({ name: 'slow', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 10, jitter: 0 } });
    const index = JSON.parse((await raw('GET', '/proxies')).text);
    expect(Object.keys(index)).toEqual(['a', 'b']);
    expect(index.a.toxics).toEqual([{ attributes: { latency: 10, jitter: 0 }, name: 'slow', type: 'latency', stream: 'upstream', toxicity: 1 }]);
  });

  it('refuses a blank name or upstream, and a body that is not a proxy, with 400', async () => {
    expect(await raw('POST', '/proxies', { listen: '127.0.0.1:0', upstream: UPSTREAM })).toMatchObject({ status: 400, text: errorBody('missing required field: name', 400) });
    expect(await raw('POST', '/proxies', { name: 'x', listen: '127.0.0.1:0' })).toMatchObject({ status: 400, text: errorBody('missing required field: upstream', 400) });
    expect(await raw('POST', '/proxies')).toMatchObject({ status: 400, text: errorBody('bad request body: EOF', 400) });
    for (const body of ['{"name":', '[1,2]', '{"name": 5, "upstream": "x:1"}', '"text"']) {
      const answer = await raw('POST', '/proxies', body);
      expect(answer.status, body).toBe(400);
      expect(JSON.parse(answer.text).error).toMatch(/^bad request body: /);
    }
    await expect(server.client.createProxy({ name: '', listen: '127.0.0.1:0', upstream: UPSTREAM })).rejects.toThrow('status code 400');
    expect(await server.client.getAll()).toEqual({});
  });

  it('answers 409 to a second proxy of the same name, and to a listen address in use', async () => {
    const first = await server.client.createProxy({ name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM });
    await expect(server.client.createProxy({ name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM })).rejects.toThrow('status code 409');
    expect(await raw('POST', '/proxies', { name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM })).toMatchObject({ status: 409, text: errorBody('proxy already exists', 409) });
    const taken = await raw('POST', '/proxies', { name: 'two', listen: first.listen, upstream: UPSTREAM });
    expect(taken.status).toBe(409);
    expect(JSON.parse(taken.text).error).toBe(`listen tcp ${first.listen}: bind: address already in use`);
    await first.remove();
    expect((await raw('POST', '/proxies', { name: 'two', listen: first.listen, upstream: UPSTREAM })).status).toBe(201);
  });

  it('creates a disabled proxy that refuses connections, and enables it by an update that keeps the other fields', async () => {
    const created = await raw('POST', '/proxies', { name: 'off', listen: '127.0.0.1:0', upstream: UPSTREAM, enabled: false });
    expect(JSON.parse(created.text)).toEqual({ name: 'off', listen: '127.0.0.1:0', upstream: UPSTREAM, enabled: false, toxics: [] });
    const proxy = await server.client.get('off');
    const enabled = await proxy.update({ enabled: true } as Parameters<typeof proxy.update>[0]);
    expect(enabled.enabled).toBe(true);
    expect(enabled.upstream).toBe(UPSTREAM);
    expect(enabled.listen).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(await accepts(enabled.listen)).toBe(true);

    const disabled = JSON.parse((await raw('PATCH', '/proxies/off', { enabled: false })).text);
    expect(disabled).toMatchObject({ listen: enabled.listen, upstream: UPSTREAM, enabled: false });
    expect(await accepts(enabled.listen)).toBe(false);
    const moved = JSON.parse((await raw('POST', '/proxies/off', { upstream: '127.0.0.1:20002', enabled: true })).text);
    expect(moved).toMatchObject({ listen: enabled.listen, upstream: '127.0.0.1:20002', enabled: true });
  });

  it('deletes a proxy with 204, then answers 404 for it', async () => {
    const proxy = await server.client.createProxy({ name: 'gone', listen: '127.0.0.1:0', upstream: UPSTREAM });
    expect(await raw('DELETE', '/proxies/gone')).toMatchObject({ status: 204, text: '' });
    expect(await accepts(proxy.listen)).toBe(false);
    expect(await raw('GET', '/proxies/gone')).toMatchObject({ status: 404, text: errorBody('proxy not found', 404) });
    expect(await raw('DELETE', '/proxies/gone')).toMatchObject({ status: 404, text: errorBody('proxy not found', 404) });
    await expect(server.client.get('gone')).rejects.toThrow('status code 404');
  });
});

describe('populate', () => {
  it('creates every proxy, enabled by default, answering 201 with the list', async () => {
    const answer = await raw('POST', '/populate', [{ name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM }, { name: 'two', listen: '127.0.0.1:0', upstream: UPSTREAM, enabled: false }]);
    expect(answer.status).toBe(201);
    const { proxies } = JSON.parse(answer.text);
    expect(proxies.map((proxy: { name: string; enabled: boolean }) => [proxy.name, proxy.enabled])).toEqual([['one', true], ['two', false]]);
    const viaClient = await server.client.populate([{ name: 'three', listen: '127.0.0.1:0', upstream: UPSTREAM }]);
    expect(viaClient['three']!.enabled).toBe(true);
  });

  it('keeps an identical proxy with its toxics and replaces a changed one', async () => {
    const kept = await server.client.createProxy({ name: 'kept', listen: '127.0.0.1:0', upstream: UPSTREAM });
    const changed = await server.client.createProxy({ name: 'changed', listen: '127.0.0.1:0', upstream: UPSTREAM });
    for (const proxy of [kept, changed]) await proxy.addToxic({ name: 't', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 5, jitter: 0 } });
    const populated = await server.client.populate([
      { name: 'kept', listen: kept.listen, upstream: UPSTREAM },
      { name: 'changed', listen: changed.listen, upstream: '127.0.0.1:20009' },
    ]);
    expect(populated['kept']!.listen).toBe(kept.listen);
    const toxicsOf = async (name: string) => JSON.parse((await raw('GET', `/proxies/${name}/toxics`)).text);
    expect(await toxicsOf('kept')).toHaveLength(1);
    expect(await toxicsOf('changed')).toEqual([]);
    expect((await server.client.get('changed')).upstream).toBe('127.0.0.1:20009');
  });

  it('refuses a list with a nameless proxy before creating any, naming its place', async () => {
    const answer = await raw('POST', '/populate', [{ name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM }, { name: '', listen: '' }]);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({ error: 'missing required field: name at proxy 2', status: 400, proxies: null });
    expect(await server.client.getAll()).toEqual({});
    expect((await raw('POST', '/populate', { name: 'x' })).status).toBe(400);
  });

  it('stops at a proxy that cannot start, keeping the ones before it', async () => {
    const answer = await raw('POST', '/populate', [
      { name: 'one', listen: '127.0.0.1:0', upstream: UPSTREAM },
      { name: 'two', listen: 'local373', upstream: UPSTREAM },
      { name: 'three', listen: '127.0.0.1:0', upstream: UPSTREAM },
    ]);
    expect(answer.status).toBe(400);
    const body = JSON.parse(answer.text);
    expect(body).toMatchObject({ error: 'listen tcp: address local373: missing port in address', status: 400 });
    expect(body.proxies.map((proxy: { name: string }) => proxy.name)).toEqual(['one']);
    expect(Object.keys(await server.client.getAll())).toEqual(['one']);
  });
});

describe('toxics', () => {
  it('adds a toxic with the defaults filled in: downstream, toxicity 1, named type_stream, attributes zero', async () => {
    const proxy = await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    const added = await raw('POST', '/proxies/p/toxics', { type: 'latency' });
    expect(added.status).toBe(200);
    expect(added.text).toBe('{"attributes":{"latency":0,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}');
    const defaults: Record<string, Record<string, number>> = {
      bandwidth: { rate: 0 }, slow_close: { delay: 0 }, timeout: { timeout: 0 }, reset_peer: { timeout: 0 },
      slicer: { average_size: 0, size_variation: 0, delay: 0 }, limit_data: { bytes: 0 }, noop: {},
    };
    for (const [type, attributes] of Object.entries(defaults)) {
      expect(JSON.parse((await raw('POST', '/proxies/p/toxics', { type, stream: 'upstream' })).text)).toEqual({ attributes, name: `${type}_upstream`, type, stream: 'upstream', toxicity: 1 });
    }
    const viaClient = await proxy.getToxic('latency_downstream');
    expect(viaClient.toJson()).toEqual({ attributes: { latency: 0, jitter: 0 }, name: 'latency_downstream', type: 'latency', stream: 'downstream', toxicity: 1 });
    const listed = JSON.parse((await raw('GET', '/proxies/p/toxics')).text);
    expect(listed.map((toxic: { name: string }) => toxic.name)).toEqual([
      'bandwidth_upstream', 'slow_close_upstream', 'timeout_upstream', 'reset_peer_upstream', 'slicer_upstream', 'limit_data_upstream', 'noop_upstream', 'latency_downstream',
    ]);
    expect(JSON.parse((await raw('GET', '/proxies/p')).text).toxics).toEqual(listed);
  });

  it('merges the attributes of an update over the ones the toxic has, and keeps its toxicity when none is given', async () => {
    const proxy = await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    const toxic = await proxy.addToxic({ name: 'lag', type: 'latency', stream: 'upstream', toxicity: 0.5, attributes: { latency: 100, jitter: 10 } });
    const updated = await raw('PATCH', '/proxies/p/toxics/lag', { attributes: { jitter: 3 } });
    expect(JSON.parse(updated.text)).toEqual({ attributes: { latency: 100, jitter: 3 }, name: 'lag', type: 'latency', stream: 'upstream', toxicity: 0.5 });
    const viaClient = await toxic.update({ ...toxic.toJson(), toxicity: 1, attributes: { latency: 7 } as never });
    expect(viaClient.toJson()).toMatchObject({ attributes: { latency: 7, jitter: 3 }, toxicity: 1 });
    expect((await raw('POST', '/proxies/p/toxics/lag', { attributes: { latency: 'soon' } })).status).toBe(400);
    expect((await raw('POST', '/proxies/p/toxics/lag', { attributes: { latency: 1.5 } })).status).toBe(400);
    expect((await raw('POST', '/proxies/p/toxics/lag')).status).toBe(400);
  });

  it('answers 409 to a toxic name already used on either stream, also for default names', async () => {
    await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    expect((await raw('POST', '/proxies/p/toxics', { name: 'foo', type: 'latency', stream: 'upstream' })).status).toBe(200);
    expect(await raw('POST', '/proxies/p/toxics', { name: 'foo', type: 'latency', stream: 'downstream' })).toMatchObject({ status: 409, text: errorBody('toxic already exists', 409) });
    expect((await raw('POST', '/proxies/p/toxics', { type: 'latency', stream: 'upstream' })).status).toBe(200);
    expect((await raw('POST', '/proxies/p/toxics', { type: 'latency', stream: 'downstream' })).status).toBe(200);
    expect((await raw('POST', '/proxies/p/toxics', { type: 'latency', stream: 'upstream' })).status).toBe(409);
  });

  it('answers 400 to a bad stream or type, and 404 to a missing toxic or proxy', async () => {
    await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    expect(await raw('POST', '/proxies/p/toxics', { type: 'latency', stream: 'sidestream' })).toMatchObject({ status: 400, text: errorBody('stream was invalid, can be either upstream or downstream', 400) });
    for (const type of ['nonexistent', 'down', '', undefined]) {
      expect(await raw('POST', '/proxies/p/toxics', { type, stream: 'upstream' })).toMatchObject({ status: 400, text: errorBody('invalid toxic type', 400) });
    }
    expect(await raw('GET', '/proxies/p/toxics/nothing')).toMatchObject({ status: 404, text: errorBody('toxic not found', 404) });
    expect(await raw('POST', '/proxies/p/toxics/nothing', { attributes: {} })).toMatchObject({ status: 404, text: errorBody('toxic not found', 404) });
    expect(await raw('DELETE', '/proxies/p/toxics/nothing')).toMatchObject({ status: 404, text: errorBody('toxic not found', 404) });
    expect(await raw('POST', '/proxies/nothing/toxics', { type: 'latency' })).toMatchObject({ status: 404, text: errorBody('proxy not found', 404) });
    expect(await raw('GET', '/proxies/p/toxics')).toMatchObject({ status: 200, text: '[]' });
  });

  it('removes a toxic with 204', async () => {
    const proxy = await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    const toxic = await proxy.addToxic({ name: 'x', type: 'noop' as 'latency', stream: 'upstream', toxicity: 1, attributes: {} as never });
    expect(await raw('DELETE', '/proxies/p/toxics/x')).toMatchObject({ status: 204, text: '' });
    await expect(toxic.remove()).rejects.toThrow('status code 404');
  });

  it('resets: every proxy enabled again and every toxic gone, 204', async () => {
    const proxy = await server.client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: UPSTREAM });
    await proxy.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 1000, jitter: 0 } });
    await raw('POST', '/proxies/p', { enabled: false });
    expect(await raw('POST', '/reset')).toMatchObject({ status: 204, text: '' });
    const after = JSON.parse((await raw('GET', '/proxies/p')).text);
    expect(after).toMatchObject({ enabled: true, listen: proxy.listen, toxics: [] });
    expect(await accepts(proxy.listen)).toBe(true);
    await server.client.reset();
  });
});

describe('extensions', () => {
  it('gives a ZooKeeper-aware toxic a fault id that further toxics share; another type may not take it', async () => {
    await server.client.populate([{ name: 'a', listen: '127.0.0.1:0', upstream: UPSTREAM }, { name: 'b', listen: '127.0.0.1:0', upstream: UPSTREAM }]);
    const first = JSON.parse((await raw('POST', '/proxies/a/toxics', { type: 'zk_lost_reply', stream: 'upstream', attributes: { ops: ['create'], path_prefix: '/locks/' } })).text);
    expect(first).toMatchObject({ name: 'zk_lost_reply_upstream', type: 'zk_lost_reply', attributes: { ops: ['create'], path_prefix: '/locks/', session: '' } });
    const id = first.attributes.fault_id;
    expect(id).toBeGreaterThan(0);
    const second = JSON.parse((await raw('POST', '/proxies/b/toxics', { name: 'f', type: 'zk_lost_reply', attributes: { fault_id: id } })).text);
    expect(second.attributes.fault_id).toBe(id);
    const clash = await raw('POST', '/proxies/b/toxics', { name: 'g', type: 'zk_hold_reply', attributes: { fault_id: id } });
    expect(clash.status).toBe(400);
    expect(JSON.parse(clash.text).error).toMatch(/fault_id/);
    expect((await raw('POST', '/proxies/b/toxics/f', { attributes: { fault_id: id + 1 } })).status).toBe(400);
    expect((await raw('POST', '/proxies/b/toxics', { type: 'zk_lost_request', attributes: { ops: 'delete' } })).status).toBe(400);
    const third = JSON.parse((await raw('POST', '/proxies/b/toxics', { type: 'zk_hold_reply' })).text);
    expect(third.attributes.fault_id).toBeGreaterThan(id);
  });

  it('lists connections and sessions; answers 404 for a session nobody carries, 400 for one that is not an id', async () => {
    expect(await raw('GET', '/connections')).toMatchObject({ status: 200, text: '[]' });
    expect((await raw('GET', '/sessions/0x1234')).status).toBe(404);
    expect((await raw('GET', '/sessions/nothex')).status).toBe(400);
  });

  it('answers unknown routes 404 and known routes with another method 405; browsers get 403', async () => {
    expect((await raw('GET', '/nothing')).status).toBe(404);
    expect((await raw('GET', '/proxies/a/b/c/d')).status).toBe(404);
    expect((await raw('PUT', '/proxies')).status).toBe(405);
    expect((await raw('DELETE', '/reset')).status).toBe(405);
    expect((await request(server.url, 'GET', '/proxies', undefined, { 'user-agent': 'Mozilla/5.0' })).status).toBe(403);
  });
});

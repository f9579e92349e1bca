import { afterEach, describe, expect, it } from 'vitest';
import { startFencedResource, type FencedResource, type ResourceWrite } from './fenced-resource.ts';

const post = async (url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('fenced resource', () => {
  let resource: FencedResource | undefined;
  afterEach(async () => {
    await resource?.close();
    resource = undefined;
  });

  it('with fencing rejects a token lower than the highest seen, accepts equal and null tokens, and reports every write in order', async () => {
    const writes: ResourceWrite[] = [];
    resource = await startFencedResource({ fencing: true, onWrite: (write) => writes.push(write) });
    const url = resource.url('lock-a');
    const accepted = [];
    for (const [client, token, value] of [['c1', 5, 1], ['c2', 3, 2], ['c1', 5, 3], ['c3', null, 4], ['c2', 7, 5], ['c1', 5, 6]] as const) {
      const answer = await post(url, { client, token, value });
      expect(answer.status).toBe(200);
      accepted.push(answer.body.accepted);
    }
    expect(accepted).toEqual([true, false, true, true, true, false]);
    expect(writes.map((write) => [write.client, write.token, write.accepted])).toEqual([
      ['c1', 5, true], ['c2', 3, false], ['c1', 5, true], ['c3', null, true], ['c2', 7, true], ['c1', 5, false],
    ]);
    expect(writes.every((write) => write.resource === 'lock-a')).toBe(true);
    expect(resource.state('lock-a')).toEqual({ value: 5, highestToken: 7 });
    expect(await (await fetch(url)).json()).toEqual({ value: 5, highestToken: 7 });
    // Resources are independent: another lock starts fresh.
    expect(resource.state('lock-b')).toEqual({ value: 0, highestToken: null });
  });

  it('with fencing a read raises the highest token seen, so an older holder\'s later write is rejected; reads are never rejected', async () => {
    const writes: ResourceWrite[] = [];
    resource = await startFencedResource({ fencing: true, onWrite: (write) => writes.push(write) });
    const url = resource.url('l0');
    const read = async (query: string): Promise<{ status: number; body: unknown }> => {
      const response = await fetch(`${url}${query}`);
      return { status: response.status, body: await response.json() };
    };
    // The old holder (token 5) read first and wrote; the new holder (token 9) read; the old holder's late write follows.
    expect((await post(url, { client: 'c1', token: 5, value: 1 })).body.accepted).toBe(true);
    expect(await read('?client=c2&token=9')).toEqual({ status: 200, body: { value: 1, highestToken: 9 } });
    expect((await post(url, { client: 'c1', token: 5, value: 2 })).body).toEqual({ accepted: false, value: 1, highestToken: 9 });
    // A read with a lower token, with none, or with null changes nothing and is answered all the same.
    for (const query of ['?client=c1&token=5', '', '?client=c3', '?client=c3&token=null']) {
      expect(await read(query)).toEqual({ status: 200, body: { value: 1, highestToken: 9 } });
    }
    expect((await post(url, { client: 'c2', token: 9, value: 2 })).body.accepted).toBe(true);
    expect(writes.map((write) => [write.client, write.token, write.accepted])).toEqual([['c1', 5, true], ['c1', 5, false], ['c2', 9, true]]);
    expect(resource.state('l0')).toEqual({ value: 2, highestToken: 9 });
    expect((await read('?client=c2&token=nine')).status).toBe(400);
  });

  it('without fencing accepts every write, stale or not', async () => {
    resource = await startFencedResource({ fencing: false });
    const url = resource.url('x/y');
    expect((await post(url, { client: 'c1', token: 9, value: 1 })).body.accepted).toBe(true);
    expect((await post(url, { client: 'c2', token: 2, value: 2 })).body.accepted).toBe(true);
    expect(resource.state('x/y')).toEqual({ value: 2, highestToken: 9 });
  });

  it('answers 400 to a malformed write and records nothing', async () => {
    const writes: ResourceWrite[] = [];
    resource = await startFencedResource({ fencing: true, onWrite: (write) => writes.push(write) });
    expect((await post(resource.url('a'), { client: 'c1', value: 'one' })).status).toBe(400);
    expect(writes).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { ArmedFault, ProxyEvent, ProxyHandle } from '../nemesis/proxy/client.ts';
import { ProxyGroup } from './proxy-group.ts';

/** A proxy handle that records what it was asked and applies each armed fault with an event at once. */
function recordingProxy(name: string, calls: string[]): ProxyHandle {
  const listeners: ((event: ProxyEvent) => void)[] = [];
  let faults = 0;
  const arm = async (kind: string): Promise<ArmedFault> => {
    const id = ++faults;
    calls.push(`${name} arm ${kind}`);
    const event = { event: 'request-dropped', monotonicNs: '5000', clientHost: name } as ProxyEvent;
    return { id, applied: Promise.resolve(event), disarm: async () => (calls.push(`${name} disarm ${id}`), 'finished') };
  };
  return {
    url: `http://127.0.0.1/${name}`,
    zkAware: true,
    pid: undefined,
    addClientHost: async (host) => (calls.push(`${name} add ${host}`), `127.0.0.1:${host}`),
    partition: async (request) => void calls.push(`${name} partition ${request?.clientHosts?.join('+') ?? 'all'}`),
    heal: async (selector) => void calls.push(`${name} heal ${selector?.clientHosts?.join('+') ?? 'all'}`),
    setLatency: async () => undefined,
    reset: async () => 2,
    armLostReply: () => arm('lost-reply'),
    armLostRequest: () => arm('lost-request'),
    armHoldReply: () => arm('hold-reply'),
    disarm: async () => 'finished',
    healAll: async () => void calls.push(`${name} heal-all`),
    sessionServer: async (session) => (name === 'B' ? { session, server: 2, clientHost: 'w2' } : undefined),
    connections: async () => [],
    onEvent: (listener) => (listeners.push(listener), () => undefined),
    close: async () => undefined,
  };
}

describe('ProxyGroup', () => {
  const hostOf = (name: string): number | undefined => ({ w1: 0, w3: 0, w2: 1, w4: 1 })[name];

  it('sends link faults to the proxies of the client hosts they name, or to all', async () => {
    const calls: string[] = [];
    const group = new ProxyGroup([{ proxy: recordingProxy('A', calls), clockOffsetNs: 0n }, { proxy: recordingProxy('B', calls), clockOffsetNs: 0n }], hostOf);
    expect(await group.addClientHost('w2')).toBe('127.0.0.1:w2');
    await group.partition({ clientHosts: ['w1', 'w3'] });
    await group.heal({ clientHosts: ['w1', 'w4'] });
    await group.healAll();
    expect(await group.reset()).toBe(4);
    expect((await group.sessionServer('0x1'))?.server).toBe(2);
    expect(calls).toEqual(['B add w2', 'A partition w1+w3', 'A heal w1', 'B heal w4', 'A heal-all', 'B heal-all']);
    await expect(group.addClientHost('w9')).rejects.toThrow('no proxy for client host w9');
  });

  it('arms each one-shot fault on one proxy, the next in turn, and puts its event on this machine\'s clock', async () => {
    const calls: string[] = [];
    const group = new ProxyGroup([{ proxy: recordingProxy('A', calls), clockOffsetNs: 1000n }, { proxy: recordingProxy('B', calls), clockOffsetNs: -2000n }], hostOf);
    const first = await group.armLostRequest({ ops: ['delete'] });
    const second = await group.armLostReply({});
    const third = await group.armLostRequest({});
    const aimed = await group.armHoldReply({ clientHost: 'w4' });
    expect(calls).toEqual(['A arm lost-request', 'B arm lost-reply', 'A arm lost-request', 'B arm hold-reply']);
    expect((await first.applied)?.monotonicNs).toBe('4000');
    expect((await second.applied)?.monotonicNs).toBe('7000');
    expect(new Set([first.id, second.id, third.id, aimed.id]).size).toBe(4);
    expect(await group.disarm(second.id)).toBe('finished');
    expect(calls.at(-1)).toBe('B disarm 1');
  });
});

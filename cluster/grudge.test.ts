import { describe, expect, it } from 'vitest';
import { bridge, complete, describeGrudge, isolate, randomHalves } from './grudge.ts';
import type { Grudge } from './types.ts';

/** A deterministic stand-in for Math.random: cycles through the given values. */
function sequence(...values: number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length]!;
}

/** Whether a and b can talk: neither drops the other. */
function connected(grudge: Grudge, a: number, b: number): boolean {
  return !(grudge.get(a) ?? []).includes(b) && !(grudge.get(b) ?? []).includes(a);
}

describe('grudges', () => {
  it('isolate cuts one node off from every other, both ways', () => {
    expect(isolate([1, 2, 3], 2)).toEqual(
      new Map([
        [2, [1, 3]],
        [1, [2]],
        [3, [2]],
      ]),
    );
    expect(() => isolate([1, 2, 3], 4)).toThrow(/not among/);
  });

  it('complete leaves nodes of one component connected', () => {
    const grudge = complete([[1, 2], [3, 4, 5]]);
    expect(connected(grudge, 1, 2)).toBe(true);
    expect(connected(grudge, 3, 5)).toBe(true);
    expect(connected(grudge, 2, 4)).toBe(false);
  });

  it('randomHalves splits into a smaller and a larger side that cannot talk', () => {
    for (const random of [sequence(0), sequence(0.99), sequence(0.3, 0.7, 0.1)]) {
      const nodes = [1, 2, 3, 4, 5];
      const grudge = randomHalves(nodes, random);
      const minority = nodes.filter((node) => grudge.get(node)!.length === 3);
      const majority = nodes.filter((node) => grudge.get(node)!.length === 2);
      expect(minority).toHaveLength(2);
      expect(majority).toHaveLength(3);
      for (const a of minority) for (const b of majority) expect(connected(grudge, a, b)).toBe(false);
    }
  });

  it('randomHalves depends on the random source', () => {
    const splits = new Set([sequence(0), sequence(0.99), sequence(0.5)].map((random) => describeGrudge(randomHalves([1, 2, 3], random))));
    expect(splits.size).toBeGreaterThan(1);
  });

  it('bridge keeps one node talking to both halves that cannot talk to each other', () => {
    const nodes = [1, 2, 3, 4, 5];
    const grudge = bridge(nodes, sequence(0.42, 0.17, 0.9));
    const bridgeNodes = nodes.filter((node) => nodes.every((other) => other === node || connected(grudge, node, other)));
    expect(bridgeNodes).toHaveLength(1);
    const others = nodes.filter((node) => node !== bridgeNodes[0]);
    const cutPairs = others.flatMap((a) => others.filter((b) => a < b && !connected(grudge, a, b)));
    expect(cutPairs).toHaveLength(4); // two halves of two: every cross pair is cut
    expect(() => bridge([1, 2], Math.random)).toThrow(/at least 3/);
  });

  it('describeGrudge reads in node order', () => {
    expect(describeGrudge(isolate([3, 1, 2], 1))).toBe('1 drops 2,3; 2 drops 1; 3 drops 1');
    expect(describeGrudge(new Map())).toBe('no partition');
  });
});

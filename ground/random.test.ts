import { describe, expect, it } from 'vitest';
import { createRandom, randomFor } from './random.ts';

const draws = (random: { float(): number }, n: number): number[] => Array.from({ length: n }, () => random.float());

describe('seeded streams', () => {
  it('repeat for the same seed and purpose, and differ between purposes and seeds', () => {
    expect(draws(randomFor(7, 'nemesis'), 5)).toEqual(draws(randomFor(7, 'nemesis'), 5));
    expect(draws(randomFor(7, 'nemesis'), 5)).not.toEqual(draws(randomFor(7, 'workload'), 5));
    expect(draws(randomFor(7, 'nemesis'), 5)).not.toEqual(draws(randomFor(8, 'nemesis'), 5));
  });

  it('do not move when another purpose draws more or less', () => {
    const alone = randomFor(3, 'nemesis');
    const expected = draws(alone, 10);
    const busy = randomFor(3, 'workload');
    draws(busy, 1000);
    expect(draws(randomFor(3, 'nemesis'), 10)).toEqual(expected);
  });

  it('shuffles into a permutation, the same one for the same seed', () => {
    const items = [1, 2, 3, 4, 5, 6, 7];
    const once = createRandom(11).shuffle(items);
    expect([...once].sort()).toEqual(items);
    expect(createRandom(11).shuffle(items)).toEqual(once);
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

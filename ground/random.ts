/**
 * The run's seeded randomness: one seed in config.json reproduces every choice the runner makes. Each purpose (the
 * nemesis schedule, the workload, each client) draws from a stream of its own derived from the seed, so that how
 * often one purpose draws (which follows the timing of answers) never shifts what another draws.
 */
import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
  /** A new list with the items in random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

export function createRandom(seed: number): Random {
  const generator = xoroshiro128plus(seed);
  const float = (): number => uniformFloat64(generator);
  const int = (n: number): number => Math.floor(float() * n);
  return {
    float,
    int,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(items.length)]!;
    },
    chance: (probability) => float() < probability,
    shuffle: (items) => {
      const order = [...items];
      for (let i = order.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      return order;
    },
  };
}

/** The stream of one purpose ("nemesis", "workload", "client c3", ...): the same seed and purpose, the same draws. */
export function randomFor(seed: number, purpose: string): Random {
  const digest = createHash('sha256').update(`${seed}\u0000${purpose}`).digest();
  return createRandom(digest.readInt32LE(0));
}

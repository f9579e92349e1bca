/** The run's seeded randomness: one seed in config.json reproduces every choice the runner makes. */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
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
  };
}

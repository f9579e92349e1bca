/**
 * `npm run bench -- <name>`: benchmarks print numbers; nothing here asserts on time.
 * Each benchmark module lives beside what it measures and exports `run(args)`.
 */
const BENCHMARKS = {
  proxy: '../nemesis/proxy/bench.ts',
  checker: '../checker/bench.ts',
  throughput: './throughput-bench.ts',
} as const satisfies Record<string, string>;

type BenchmarkName = keyof typeof BENCHMARKS;

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !(name in BENCHMARKS)) {
  console.error(`bench: name one of ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(254);
}
const module = (await import(BENCHMARKS[name as BenchmarkName])) as { run(args: string[]): Promise<void> };
await module.run(args);

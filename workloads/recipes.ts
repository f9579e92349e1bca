/**
 * The lock recipes the suite ships, each a worker command that speaks docs/worker-protocol.md.
 * A user's own library joins through `--worker "<command>"` with the same protocol.
 */
import { fileURLToPath } from 'node:url';

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/**
 * Jars Curator's worker needs, from Debian's packages (design-notes §2): Curator, the ZooKeeper client, guava
 * (Debian's jar carries failureaccess), Jackson for the protocol's JSON (a dependency of libcurator-framework-java)
 * and slf4j-simple, which logs to stderr.
 */
export const CURATOR_CLASSPATH = [
  'curator-recipes', 'curator-framework', 'curator-client', 'zookeeper', 'zookeeper-jute', 'guava',
  'jackson-databind', 'jackson-core', 'jackson-annotations', 'slf4j-api', 'slf4j-simple',
].map((jar) => `/usr/share/java/${jar}.jar`).join(':');

export const RECIPES = {
  'node-naive': ['node', '--import', 'tsx', here('./workers/node/main.ts'), '--recipe', 'naive'],
  'node-safe': ['node', '--import', 'tsx', here('./workers/node/main.ts'), '--recipe', 'safe'],
  // Debian's Python: the python3 first on PATH may be another interpreter without kazoo (design-notes §2).
  kazoo: ['/usr/bin/python3', '-u', here('./workers/kazoo/worker.py')],
  // C1 only and the serial collector: half the CPU to compile and start the worker, which matters on 2 shared cores.
  curator: ['java', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', CURATOR_CLASSPATH, here('./workers/curator/Worker.java')],
} as const satisfies Record<string, readonly string[]>;

export type RecipeName = keyof typeof RECIPES;
export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];

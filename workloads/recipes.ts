/**
 * The lock recipes the suite ships, each a worker command that speaks docs/worker-protocol.md.
 * A user's own library joins through `--worker "<command>"` with the same protocol.
 */
import { fileURLToPath } from 'node:url';

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/** Jars Curator and its ZooKeeper client need, from Debian's packages (design-notes §2). */
export const CURATOR_CLASSPATH = [
  'curator-recipes', 'curator-framework', 'curator-client', 'zookeeper', 'zookeeper-jute', 'guava', 'failureaccess',
  'slf4j-api', 'slf4j-nop', 'netty-handler', 'netty-transport', 'netty-common', 'netty-buffer', 'netty-resolver',
  'netty-codec', 'netty-transport-native-epoll', 'netty-transport-native-unix-common',
].map((jar) => `/usr/share/java/${jar}.jar`).join(':');

export const RECIPES = {
  'node-naive': ['node', '--import', 'tsx', here('./workers/node/main.ts'), '--recipe', 'naive'],
  'node-safe': ['node', '--import', 'tsx', here('./workers/node/main.ts'), '--recipe', 'safe'],
  // Debian's Python: the python3 first on PATH may be another interpreter without kazoo (design-notes §2).
  kazoo: ['/usr/bin/python3', '-u', here('./workers/kazoo/worker.py')],
  curator: ['java', '-cp', CURATOR_CLASSPATH, here('./workers/curator/Worker.java')],
} as const satisfies Record<string, readonly string[]>;

export type RecipeName = keyof typeof RECIPES;
export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];

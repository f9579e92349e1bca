/**
 * The lock recipes the suite ships, each a worker that speaks docs/worker-protocol.md, in released versions:
 * Debian bookworm's (installed system-wide) and newer Debian releases' (fetched into the project's cache by
 * ground/debs.ts, never installed). A user's own library joins through `--worker "<command>"` with the same protocol.
 *
 * A recipe is the Debian packages it needs in the cache plus `launch(env)`: the worker's argv and the environment
 * it runs in (PYTHONPATH for kazoo, the classpath is in Curator's argv), and what to build once before it starts
 * (`prepare`: the Java worker, compiled). Start a worker with `prepareRecipe(name)`, which fetches what is missing
 * and builds first.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { zookeeperJarDir, zookeeperPackages, type ZooKeeperVersion } from '../cluster/zookeeper.ts';
import { fetchDebs, unpackedDir, type DebianPackage } from '../ground/debs.ts';

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

export interface WorkerLaunch {
  command: string[];
  /** The worker's whole environment (WorkerProcess.spawn's `env`). */
  env: NodeJS.ProcessEnv;
}

export interface Recipe {
  /** Packages fetched into the project's cache before the worker can start; none when the system's serve. */
  readonly packages: readonly DebianPackage[];
  /** The worker's command and environment, the given one (default: this process's) plus what the version needs. */
  launch(env?: NodeJS.ProcessEnv): WorkerLaunch;
  /** Builds what the worker starts from, once (kept in the project's cache); absent when there is nothing to build. */
  prepare?(): Promise<void>;
}

const SYSTEM_JARS = '/usr/share/java';

function nodeRecipe(policy: 'naive' | 'safe'): Recipe {
  return {
    packages: [],
    launch: (env = process.env) => ({ command: ['node', '--import', 'tsx', here('./workers/node/main.ts'), '--recipe', policy], env }),
  };
}

/** kazoo is pure Python: a newer one unpacked in the cache goes ahead of the system's on PYTHONPATH. */
function kazooRecipe(kazoo?: DebianPackage): Recipe {
  return {
    packages: kazoo === undefined ? [] : [kazoo],
    launch: (env = process.env) => ({
      // Debian's Python: the python3 first on PATH may be another interpreter without kazoo (docs/environment.md).
      command: ['/usr/bin/python3', '-u', here('./workers/kazoo/worker.py')],
      env: kazoo === undefined ? env : {
        ...env,
        PYTHONPATH: [join(unpackedDir(kazoo), 'usr/lib/python3/dist-packages'), env.PYTHONPATH].filter((path) => path).join(':'),
      },
    }),
  };
}

/** Curator's jars, each a Debian package (libcurator-<part>-java), in the order they depend on each other. */
const CURATOR_PARTS = ['client', 'framework', 'recipes'] as const;
type CuratorPart = (typeof CURATOR_PARTS)[number];
const curatorPackage = (part: CuratorPart, version: string): DebianPackage => ({ name: `libcurator-${part}-java`, version });

/**
 * The Java worker's classpath: the ZooKeeper client with its own recipes (zookeeper-recipes-lock and -election, in
 * libzookeeper-java), Curator, guava (Debian's jar carries failureaccess), Jackson for the protocol's JSON (a
 * dependency of libcurator-framework-java) and slf4j-simple, which logs to stderr. The worker is one source file
 * compiled at start, so it needs both libraries' classes whichever it drives.
 * Dependencies come before what depends on them: Debian's jars name their dependencies in their manifests by
 * absolute path (/usr/share/java/curator-client.jar, zookeeper.jar, ...), and the JVM searches a jar's manifest
 * entries right after the jar, so a cached curator-framework.jar listed before the cached curator-client.jar
 * would load the system's older one.
 */
export function curatorClasspath(curatorJar: (part: CuratorPart) => string, zookeeperJars: string): string {
  return [
    `${zookeeperJars}/zookeeper-jute.jar`, `${zookeeperJars}/zookeeper.jar`, ...CURATOR_PARTS.map(curatorJar),
    `${zookeeperJars}/zookeeper-recipes-lock.jar`, `${zookeeperJars}/zookeeper-recipes-election.jar`,
    ...['guava', 'jackson-databind', 'jackson-core', 'jackson-annotations', 'slf4j-api', 'slf4j-simple'].map((jar) => `${SYSTEM_JARS}/${jar}.jar`),
  ].join(':');
}

/** Debian bookworm's Curator 5.4.0 with its ZooKeeper 3.8.0 client, all system-wide. */
export const CURATOR_CLASSPATH = curatorClasspath((part) => `${SYSTEM_JARS}/curator-${part}.jar`, SYSTEM_JARS);

const JAVA_WORKER = here('./workers/curator/Worker.java');
const JAVA_CACHE = here('../.cache/java');

/**
 * The Java worker compiled for a classpath, in `.cache/java/<hash of source and classpath>/`: a JVM that runs the
 * class starts about a second sooner than one that compiles the source first (java Worker.java), and the
 * conformance suite and every run start many. Until it is compiled, the worker runs from its source.
 */
function compiledJavaWorker(classpath: string): { classDir: string; compile(): Promise<void> } {
  const digest = createHash('sha256').update(readFileSync(JAVA_WORKER)).update('\0').update(classpath).digest('hex').slice(0, 16);
  const classDir = join(JAVA_CACHE, digest);
  return {
    classDir,
    compile: async () => {
      if (existsSync(classDir)) return;
      await mkdir(JAVA_CACHE, { recursive: true });
      // Compiled aside, then moved into place in one step: another process compiling at once finds it whole or not at all.
      const scratch = await mkdtemp(join(JAVA_CACHE, '.compiling-'));
      try {
        await promisify(execFile)('javac', ['-nowarn', '-d', scratch, '-cp', classpath, JAVA_WORKER]);
        await rename(scratch, classDir).catch((error: NodeJS.ErrnoException) => {
          if (!existsSync(classDir)) throw error;
        });
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A newer Curator from the cache, with the ZooKeeper client it was built for (Curator 5.7 is built on ZooKeeper 3.9).
 * `drives`: Curator's recipes, or ZooKeeper's own (the same worker, which then uses Curator only for its sessions).
 */
function curatorRecipe(cached?: { version: string; zookeeper: ZooKeeperVersion }, drives: 'curator' | 'zookeeper' = 'curator'): Recipe {
  const classpath = cached === undefined
    ? CURATOR_CLASSPATH
    : curatorClasspath((part) => join(unpackedDir(curatorPackage(part, cached.version)), 'usr/share/java', `curator-${part}.jar`), zookeeperJarDir(cached.zookeeper));
  const compiled = compiledJavaWorker(classpath);
  return {
    packages: cached === undefined ? [] : [...CURATOR_PARTS.map((part) => curatorPackage(part, cached.version)), ...zookeeperPackages(cached.zookeeper)],
    prepare: compiled.compile,
    // C1 only and the serial collector: half the CPU to start the worker, which matters on 2 shared cores.
    launch: (env = process.env) => ({
      command: [
        'java', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC',
        ...(existsSync(compiled.classDir) ? ['-cp', `${compiled.classDir}:${classpath}`, 'Worker'] : ['-cp', classpath, JAVA_WORKER]),
        ...(drives === 'zookeeper' ? ['zookeeper'] : []),
      ],
      env,
    }),
  };
}

export const RECIPES = {
  'node-naive': nodeRecipe('naive'),
  'node-safe': nodeRecipe('safe'),
  // Debian bookworm's python3-kazoo: exactly the version of kazoo issue #732.
  'kazoo@2.8.0': kazooRecipe(),
  // Debian forky's python3-kazoo (trixie has 2.9.0).
  'kazoo@2.11.0': kazooRecipe({ name: 'python3-kazoo', version: '2.11.0' }),
  // Debian bookworm's libcurator-recipes-java.
  'curator@5.4.0': curatorRecipe(),
  // Debian trixie's libcurator-*-java ("+ds": Debian's repacked source of 5.7.1). Trixie pairs it with ZooKeeper
  // 3.9.3's client; we take the 3.9.6 one the cache holds for the server anyway.
  'curator@5.7.1': curatorRecipe({ version: '5.7.1+ds', zookeeper: '3.9.6' }),
  // ZooKeeper's own lock and election recipes, Debian bookworm's libzookeeper-java (zookeeper-recipes-lock and
  // -election 3.8.0), on the ZooKeeper 3.8.0 client; bookworm's Curator only keeps the sessions.
  'zk-recipes@3.8.0': curatorRecipe(undefined, 'zookeeper'),
} as const satisfies Record<string, Recipe>;

/** The names from before versions were selectable; they keep meaning Debian bookworm's versions. */
export const RECIPE_ALIASES = { kazoo: 'kazoo@2.8.0', curator: 'curator@5.4.0' } as const satisfies Record<string, keyof typeof RECIPES>;

export type RecipeName = keyof typeof RECIPES | keyof typeof RECIPE_ALIASES;
/** Every name `--recipe` takes, each alias just before the recipe it names. */
export const RECIPE_NAMES: RecipeName[] = (Object.keys(RECIPES) as (keyof typeof RECIPES)[]).flatMap((name) => [
  ...(Object.keys(RECIPE_ALIASES) as (keyof typeof RECIPE_ALIASES)[]).filter((alias) => RECIPE_ALIASES[alias] === name),
  name,
]);

/** An alias's recipe is the very recipe it names. */
export function recipe(name: RecipeName): Recipe {
  return name in RECIPE_ALIASES ? RECIPES[RECIPE_ALIASES[name as keyof typeof RECIPE_ALIASES]] : RECIPES[name as keyof typeof RECIPES];
}

/** Fetches the recipe's packages when missing (a no-op for the system's versions) and builds it, then gives its launch. */
export async function prepareRecipe(name: RecipeName, env: NodeJS.ProcessEnv = process.env): Promise<WorkerLaunch> {
  const chosen = recipe(name);
  await fetchDebs(chosen.packages);
  await chosen.prepare?.();
  return chosen.launch(env);
}

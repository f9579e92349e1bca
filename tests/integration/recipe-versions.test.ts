/**
 * Each versioned recipe runs the library version its name says, loaded from where it should be (the system's
 * packages or the project's cache), and the old names keep meaning Debian bookworm's versions. Whether the workers
 * conform on each version is conformance.test.ts's job (it runs every recipe of RECIPES).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBS_CACHE } from '../../ground/debs.ts';
import { prepareRecipe, recipe, RECIPE_NAMES, RECIPES, type RecipeName } from '../../workloads/recipes.ts';

const execFileAsync = promisify(execFile);
let probeDir: string;

/** Prints where Curator's and ZooKeeper's classes were loaded from, and ZooKeeper's own idea of its version. */
const JAVA_PROBE = `public class Probe {
  static String from(Class<?> type) { return type.getProtectionDomain().getCodeSource().getLocation().getPath(); }
  public static void main(String[] args) {
    System.out.println(from(org.apache.curator.CuratorZookeeperClient.class));
    System.out.println(from(org.apache.curator.framework.CuratorFramework.class));
    System.out.println(from(org.apache.curator.framework.recipes.locks.InterProcessMutex.class));
    System.out.println(from(org.apache.zookeeper.data.Stat.class));
    System.out.println(org.apache.zookeeper.Version.getFullVersion().replaceAll("-.*", ""));
    System.out.println(from(org.apache.zookeeper.recipes.lock.WriteLock.class));
    System.out.println(from(org.apache.zookeeper.recipes.leader.LeaderElectionSupport.class));
  }
}
`;

beforeAll(async () => {
  probeDir = await mkdtemp(join(tmpdir(), 'zkj-recipes-test-'));
  await writeFile(join(probeDir, 'Probe.java'), JAVA_PROBE);
});

afterAll(async () => {
  await rm(probeDir, { recursive: true, force: true });
});

async function kazooVersion(name: RecipeName): Promise<string> {
  const { command, env } = await prepareRecipe(name);
  const { stdout } = await execFileAsync(command[0]!, ['-c', 'import kazoo.version, kazoo.recipe.lock; print(kazoo.version.__version__, kazoo.recipe.lock.__file__)'], { env });
  return stdout.trim();
}

/** The recipe's own classpath, with the probe instead of the worker. */
async function curatorLoads(name: RecipeName): Promise<string[]> {
  const { command, env } = await prepareRecipe(name);
  const classpath = command[command.indexOf('-cp') + 1]!;
  const { stdout } = await execFileAsync('java', ['-cp', classpath, join(probeDir, 'Probe.java')], { env });
  return stdout.trim().split('\n');
}

describe('recipe versions', () => {
  it('kazoo@2.8.0 is the system\'s kazoo; kazoo@2.11.0 the cache\'s, ahead of the system\'s on PYTHONPATH', async () => {
    expect(await kazooVersion('kazoo@2.8.0')).toBe('2.8.0 /usr/lib/python3/dist-packages/kazoo/recipe/lock.py');
    expect(await kazooVersion('kazoo@2.11.0')).toBe(`2.11.0 ${DEBS_CACHE}unpacked/python3-kazoo_2.11.0/usr/lib/python3/dist-packages/kazoo/recipe/lock.py`);
    // A PYTHONPATH the user had stays, behind the cache's.
    expect(RECIPES['kazoo@2.11.0'].launch({ PYTHONPATH: '/opt/mine' }).env.PYTHONPATH).toMatch(/python3-kazoo_2\.11\.0\/usr\/lib\/python3\/dist-packages:\/opt\/mine$/);
  });

  it('curator@5.4.0 loads the system\'s Curator and ZooKeeper 3.8.0 client; curator@5.7.1 every class from the cache, with the 3.9.6 client', async () => {
    const system = await curatorLoads('curator@5.4.0');
    expect(system.slice(0, 4).every((path) => path.startsWith('/usr/share/java/'))).toBe(true);
    expect(system[4]).toBe('3.8.0');

    const cached = await curatorLoads('curator@5.7.1');
    expect(cached.slice(0, 3)).toEqual(['client', 'framework', 'recipes'].map((part) =>
      `${DEBS_CACHE}unpacked/libcurator-${part}-java_5.7.1+ds/usr/share/java/curator-${part}-5.7.1.jar`));
    expect(cached[3]).toBe(`${DEBS_CACHE}unpacked/libzookeeper-java_3.9.6/usr/share/java/zookeeper-jute-3.9.6.jar`);
    expect(cached[4]).toBe('3.9.6');
  });

  it('zk-recipes@3.8.0 is ZooKeeper\'s own lock and election recipes of bookworm\'s libzookeeper-java, on its 3.8.0 client, driven by the Java worker\'s zookeeper mode', async () => {
    const loads = await curatorLoads('zk-recipes@3.8.0');
    expect(loads[4]).toBe('3.8.0');
    expect(loads.slice(5)).toEqual(['/usr/share/java/zookeeper-recipes-lock.jar', '/usr/share/java/zookeeper-recipes-election.jar']);
    expect(RECIPES['zk-recipes@3.8.0'].launch().command.at(-1)).toBe('zookeeper');
    expect(RECIPES['zk-recipes@3.8.0'].packages).toEqual([]);
  });

  it('the old names are the bookworm versions, and every name is a recipe', () => {
    expect(recipe('kazoo')).toBe(RECIPES['kazoo@2.8.0']);
    expect(recipe('curator')).toBe(RECIPES['curator@5.4.0']);
    for (const name of RECIPE_NAMES) expect(recipe(name).launch().command.length).toBeGreaterThan(0);
    expect(RECIPES['kazoo@2.8.0'].packages).toEqual([]);
    expect(RECIPES['node-safe'].packages).toEqual([]);
  });
});

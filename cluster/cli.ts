/**
 * `npm run cluster -- up | status | down`: a local ensemble for people and scripts. `up` leaves the cluster
 * running after it exits (detached); `status` and `down` find it through its state file.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { runCleanups } from '../ground/cleanup.ts';
import { DEFAULT_NODES, DEFAULT_TICK_TIME_MS, DEFAULT_ZOOKEEPER_VERSION, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from './index.ts';
import { checkPrerequisites, checkRoot, LocalCluster } from './local.ts';
import { readAllStates, sweep } from './resources.ts';
import { describeStatus, leadersIn } from './wait.ts';

function integerAtLeast(minimum: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < minimum) throw new InvalidArgumentError(`expected an integer of at least ${minimum}`);
    return value;
  };
}

function seconds(sinceMs: number): string {
  return `${((performance.now() - sinceMs) / 1000).toFixed(1)} s`;
}

async function detachedClusters(): Promise<LocalCluster[]> {
  const states = (await readAllStates()).filter((state) => state.detached);
  return Promise.all(states.map((state) => LocalCluster.attach(state)));
}

const program = new Command('cluster')
  .description('a local ZooKeeper ensemble, one network namespace per server')
  .showSuggestionAfterError(false);

program
  .command('up')
  .description('start an ensemble (replacing the previous one) and print its client connect string')
  .option('--nodes <count>', 'number of servers', integerAtLeast(1), DEFAULT_NODES)
  .option('--tick-time <ms>', 'ZooKeeper tickTime in milliseconds', integerAtLeast(10), DEFAULT_TICK_TIME_MS)
  .option('--dir <runDir>', 'run directory for node data and logs (default results/cluster-<time>)')
  .option('--subnet <cidr>', 'private subnet for the servers (default: a free /24 of 10.213.0.0/16)')
  .addOption(new Option('--zk-version <version>', 'ZooKeeper server version (3.9.6 is fetched into .cache/debs)').choices([...ZOOKEEPER_VERSIONS]).default(DEFAULT_ZOOKEEPER_VERSION))
  .action(async (options: { nodes: number; tickTime: number; dir?: string; subnet?: string; zkVersion: ZooKeeperVersion }) => {
    const started = performance.now();
    await checkPrerequisites();
    await sweep({ includeDetached: true });
    const runDir = options.dir ?? join('results', `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const cluster = new LocalCluster({
      nodes: options.nodes,
      tickTimeMs: options.tickTime,
      runDir,
      ...(options.subnet === undefined ? {} : { subnet: options.subnet }),
      zkVersion: options.zkVersion,
    });
    await cluster.start();
    await cluster.detach();
    const leader = leadersIn(await cluster.status())[0]?.id;
    console.error(
      `cluster ${cluster.id}: ${options.nodes} nodes of ZooKeeper ${options.zkVersion}, leader zk${leader}, up in ${seconds(started)}; ` +
        `logs in ${runDir}/nodes; remove with: npm run cluster -- down`,
    );
    console.log(cluster.connectString());
  });

program
  .command('status')
  .description('print one line per server: address, mode, zxid')
  .action(async () => {
    checkRoot();
    const clusters = await detachedClusters();
    if (clusters.length === 0) throw new Error('no cluster is up (start one with: npm run cluster -- up)');
    for (const cluster of clusters) {
      const statuses = await cluster.status();
      console.error(`cluster ${cluster.id}: ${describeStatus(statuses)}`);
      for (const node of statuses) {
        const { host, port } = cluster.clientAddress(node.id);
        console.log(`zk${node.id} ${host}:${port} ${node.mode} ${node.state} zxid=${node.zxid ?? '-'}`);
      }
    }
  });

program
  .command('down')
  .description('remove the cluster started by up, and the leftovers of any crashed run')
  .action(async () => {
    const started = performance.now();
    checkRoot();
    const removed = await sweep({ includeDetached: true });
    console.error(removed.length === 0 ? 'nothing to remove' : `removed ${removed.join(', ')} in ${seconds(started)}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  // Expected failures (bad input, missing prerequisites, a stuck start) are one line, never a stack trace.
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  await runCleanups();
  process.exitCode = 1;
}

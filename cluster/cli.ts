/**
 * `npm run cluster -- up | status | down [--backend local|docker|auto]`: an ensemble for people and scripts. `up`
 * leaves the cluster running after it exits (detached: no reaper follows this process); `status` and `down` find
 * detached clusters through their state files (local) or labels (docker).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { UserError } from '../ground/errors.ts';
import { DEFAULT_NODES, DEFAULT_TICK_TIME_MS, DEFAULT_ZOOKEEPER_VERSION, resolveBackend, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from './index.ts';
import { checkPrerequisites, checkRoot, LocalCluster } from './local.ts';
import { readAllStates, sweep } from './resources.ts';
import type { NodeStatus, ServerAddress } from './types.ts';
import { describeStatus, leadersIn } from './wait.ts';
import { CLIENT_PORT, fourLetterWord, parseSrvr } from './zookeeper.ts';

type OwnedBackend = 'local' | 'docker';
const BACKEND_CHOICES = ['local', 'docker', 'auto'] as const;

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

const backendOption = (fallback: string, description: string): Option =>
  new Option('--backend <name>', description).choices([...BACKEND_CHOICES]).default(fallback);

/** The backends a status or down looks at: the one named, or both (docker only where a daemon answers). */
async function backendsToVisit(backend: (typeof BACKEND_CHOICES)[number] | 'both'): Promise<OwnedBackend[]> {
  if (backend !== 'both') return [await resolveBackend(backend) as OwnedBackend];
  const { dockerDaemonAnswers } = await import('./docker-client.ts');
  return (await dockerDaemonAnswers()) ? ['local', 'docker'] : ['local'];
}

interface ListedCluster {
  id: string;
  backend: OwnedBackend;
  statuses: NodeStatus[];
  addresses: Map<number, ServerAddress>;
}

async function detachedClusters(backends: OwnedBackend[]): Promise<ListedCluster[]> {
  const listed: ListedCluster[] = [];
  if (backends.includes('local')) {
    checkRoot();
    for (const state of (await readAllStates()).filter((candidate) => candidate.detached)) {
      const cluster = await LocalCluster.attach(state);
      listed.push({ id: cluster.id, backend: 'local', statuses: await cluster.status(), addresses: new Map(cluster.nodeIds.map((id) => [id, cluster.clientAddress(id)])) });
    }
  }
  if (backends.includes('docker')) {
    const { detachedDockerClusters } = await import('./docker-resources.ts');
    for (const cluster of await detachedDockerClusters()) {
      const addresses = new Map(cluster.nodes.map((node) => [node.id, { host: node.address, port: CLIENT_PORT }]));
      const statuses = await Promise.all(cluster.nodes.map(async (node): Promise<NodeStatus> => {
        if (node.state !== 'running') return { id: node.id, state: node.state, mode: 'not-serving' };
        const answer = await fourLetterWord(addresses.get(node.id)!, 'srvr').catch(() => '');
        return { id: node.id, state: 'running', ...parseSrvr(answer) };
      }));
      listed.push({ id: cluster.id, backend: 'docker', statuses, addresses });
    }
  }
  return listed;
}

const program = new Command('cluster')
  .description('a ZooKeeper ensemble that outlives the command: one network namespace (local) or container (docker) per server')
  .showSuggestionAfterError(false);

program
  .command('up')
  .description('start an ensemble (replacing the previous one of that backend) and print its client connect string')
  .option('--nodes <count>', 'number of servers', integerAtLeast(1), DEFAULT_NODES)
  .option('--tick-time <ms>', 'ZooKeeper tickTime in milliseconds', integerAtLeast(10), DEFAULT_TICK_TIME_MS)
  .option('--dir <runDir>', 'run directory for node data and logs (default results/cluster-<time>)')
  .option('--subnet <cidr>', 'private subnet for the servers (default: a free /24 of 10.213.0.0/16)')
  .addOption(new Option('--zk-version <version>', 'ZooKeeper server version (3.9.6 is fetched into .cache/debs)').choices([...ZOOKEEPER_VERSIONS]).default(DEFAULT_ZOOKEEPER_VERSION))
  .addOption(backendOption('local', 'where the servers run: local namespaces, docker containers, or auto (docker when a daemon answers)'))
  .action(async (options: { nodes: number; tickTime: number; dir?: string; subnet?: string; zkVersion: ZooKeeperVersion; backend: (typeof BACKEND_CHOICES)[number] }) => {
    const started = performance.now();
    const backend = (await resolveBackend(options.backend)) as OwnedBackend;
    const runDir = options.dir ?? join('results', `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const clusterOptions = {
      nodes: options.nodes,
      tickTimeMs: options.tickTime,
      runDir,
      ...(options.subnet === undefined ? {} : { subnet: options.subnet }),
      zkVersion: options.zkVersion,
      detached: true,
    };
    if (backend === 'local') {
      await checkPrerequisites();
      await sweep({ includeDetached: true });
    } else {
      await (await import('./docker-resources.ts')).sweepDockerClusters({ includeDetached: true });
    }
    const cluster = backend === 'local' ? new LocalCluster(clusterOptions) : new (await import('./docker.ts')).DockerCluster(clusterOptions);
    await cluster.start();
    const leader = leadersIn(await cluster.status())[0]?.id;
    console.error(
      `cluster ${cluster.id} (${backend}): ${options.nodes} nodes of ZooKeeper ${options.zkVersion}, leader zk${leader}, up in ${seconds(started)}; ` +
        `logs in ${runDir}/nodes; remove with: npm run cluster -- down`,
    );
    console.log(cluster.connectString());
  });

program
  .command('status')
  .description('print one line per server of every cluster up: address, mode, state, zxid')
  .addOption(new Option('--backend <name>', 'only the clusters of this backend (default: both)').choices([...BACKEND_CHOICES]).default('both'))
  .action(async (options: { backend: (typeof BACKEND_CHOICES)[number] | 'both' }) => {
    const clusters = await detachedClusters(await backendsToVisit(options.backend));
    if (clusters.length === 0) throw new UserError('no cluster is up (start one with: npm run cluster -- up)');
    for (const cluster of clusters) {
      console.error(`cluster ${cluster.id} (${cluster.backend}): ${describeStatus(cluster.statuses)}`);
      for (const node of cluster.statuses) {
        const { host, port } = cluster.addresses.get(node.id)!;
        console.log(`zk${node.id} ${host}:${port} ${node.mode} ${node.state} zxid=${node.zxid ?? '-'}`);
      }
    }
  });

program
  .command('down')
  .description('remove the clusters started by up, and the leftovers of any crashed run')
  .addOption(new Option('--backend <name>', 'only the clusters of this backend (default: both)').choices([...BACKEND_CHOICES]).default('both'))
  .action(async (options: { backend: (typeof BACKEND_CHOICES)[number] | 'both' }) => {
    const started = performance.now();
    const removed: string[] = [];
    for (const backend of await backendsToVisit(options.backend)) {
      if (backend === 'local') {
        checkRoot();
        removed.push(...(await sweep({ includeDetached: true })));
      } else {
        removed.push(...(await (await import('./docker-resources.ts')).sweepDockerClusters({ includeDetached: true })));
      }
    }
    console.error(removed.length === 0 ? 'nothing to remove' : `removed ${removed.join(', ')} in ${seconds(started)}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  // Expected failures (bad input, missing prerequisites, a stuck start) are one line, never a stack trace.
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof UserError ? error.exitCode : 1;
}

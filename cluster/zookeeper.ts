/**
 * ZooKeeper server specifics shared by backends: versions, zoo.cfg, the java command line, four-letter words,
 * `srvr` parsing.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { fetchDebs, unpackedDir, type DebianPackage } from '../ground/debs.ts';
import type { NodeId, NodeMode, ServerAddress } from './types.ts';

/** Server versions a cluster can run: Debian bookworm's, installed system-wide, and forky's, from the project's cache. */
export const ZOOKEEPER_VERSIONS = ['3.8.0', '3.9.6'] as const;
export type ZooKeeperVersion = (typeof ZOOKEEPER_VERSIONS)[number];
export const DEFAULT_ZOOKEEPER_VERSION: ZooKeeperVersion = '3.8.0';

/** Versions newer than the system's: their jars (server and client) are Debian forky's libzookeeper-java, unpacked by src/debs.ts. */
const CACHED_PACKAGE: Record<ZooKeeperVersion, DebianPackage | undefined> = {
  '3.8.0': undefined,
  '3.9.6': { name: 'libzookeeper-java', version: '3.9.6' },
};

/** What src/debs.ts must fetch for a version: nothing for the system's. */
export function zookeeperPackages(version: ZooKeeperVersion): DebianPackage[] {
  const cached = CACHED_PACKAGE[version];
  return cached === undefined ? [] : [cached];
}

const SYSTEM_JARS = '/usr/share/java';

/** The directory holding a version's zookeeper.jar and zookeeper-jute.jar. */
export function zookeeperJarDir(version: ZooKeeperVersion): string {
  const cached = CACHED_PACKAGE[version];
  return cached === undefined ? SYSTEM_JARS : join(unpackedDir(cached), 'usr/share/java');
}

/** Fetches the version's jars into the project's cache when it is not the system's; a no-op for 3.8.0. */
export async function prepareZooKeeper(version: ZooKeeperVersion): Promise<void> {
  await fetchDebs(zookeeperPackages(version));
}

/**
 * The server classpath. Debian's jars name their dependencies in their manifests with absolute paths
 * (/usr/share/java/zookeeper-jute.jar among them), and the JVM searches a jar's manifest entries right after the
 * jar itself: so jute comes first, or a cached zookeeper.jar would load the system's older jute. The rest
 * (netty, jackson, ...) comes from the system's packages through the manifest; slf4j-log4j12 and log4j route the
 * log to log4j. Not /usr/share/java/*: it binds slf4j-nop and every log line vanishes.
 */
export function serverClasspath(version: ZooKeeperVersion): string {
  const jars = zookeeperJarDir(version);
  return [`${jars}/zookeeper-jute.jar`, `${jars}/zookeeper.jar`, `${SYSTEM_JARS}/slf4j-log4j12.jar`, `${SYSTEM_JARS}/log4j-1.2.jar`].join(':');
}

/** The system's server jars (Debian's zookeeper package): every version needs them, for the log and the manifests. */
export const ZOOKEEPER_CLASSPATH = serverClasspath(DEFAULT_ZOOKEEPER_VERSION);

/**
 * For a server in a container of the bookworm image: the version's own jars bind-mounted over the image's
 * (the same paths, so the image's classpath and manifests stay as they are); none for the system's version.
 */
export function serverJarMounts(version: ZooKeeperVersion): { source: string; target: string }[] {
  if (CACHED_PACKAGE[version] === undefined) return [];
  return ['zookeeper', 'zookeeper-jute'].map((jar) => ({
    source: join(zookeeperJarDir(version), `${jar}-${version}.jar`),
    target: `${SYSTEM_JARS}/${jar}.jar`,
  }));
}

export const LOG4J_CONFIG = '/etc/zookeeper/conf/log4j.properties';
export const CLIENT_PORT = 2181;
const QUORUM_PORT = 2888;
const ELECTION_PORT = 3888;

export interface ZooConfigInput {
  tickTimeMs: number;
  dataDir: string;
  /** Every server of the ensemble, by id, with the address the others reach it on. */
  servers: Map<NodeId, string>;
}

export function zooConfig({ tickTimeMs, dataDir, servers }: ZooConfigInput): string {
  return [
    `tickTime=${tickTimeMs}`,
    // In ticks: with 200 ms ticks a follower gets 2 s to sync at start, and 1 s of silence marks a peer gone.
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${dataDir}`,
    `clientPort=${CLIENT_PORT}`,
    '4lw.commands.whitelist=*',
    'admin.enableServer=false',
    // Every client reaches the servers through the proxy, from one address: the default cap of 60 connections
    // per address would refuse the try-lock storm's hundreds of sessions.
    'maxClientCnxns=0',
    // Snapshot and log purging would only add noise to short runs.
    'autopurge.purgeInterval=0',
    ...[...servers].map(([id, host]) => `server.${id}=${host}:${QUORUM_PORT}:${ELECTION_PORT}`),
    '',
  ].join('\n');
}

/**
 * The java arguments that run one server; `markers` (system properties) let a sweep find the process. A server on
 * another host (the ssh backend) gives the classpath and log4j configuration it copied there.
 */
export function javaArguments(options: {
  markers: string[]; nodeDir: string; configFile: string; version: ZooKeeperVersion; classpath?: string; log4jConfig?: string; jvmOptions?: string[];
}): string[] {
  return [
    ...options.markers,
    // Several ensembles share two cores: a small heap, the serial collector and C1 alone keep each server light.
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    ...(options.jvmOptions ?? []),
    `-Dzookeeper.log.dir=${options.nodeDir}`,
    '-Dzookeeper.root.logger=INFO,ROLLINGFILE',
    `-Dlog4j.configuration=file:${options.log4jConfig ?? LOG4J_CONFIG}`,
    '-cp',
    options.classpath ?? serverClasspath(options.version),
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    options.configFile,
  ];
}

/** Sends a four-letter word and returns the whole answer; rejects when the server does not answer in time. */
export function fourLetterWord(address: ServerAddress, word: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to '${word}' within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => reject(new Error(`${address.host}:${address.port} ${word}: ${error.message}`)));
    socket.on('close', (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The version a `srvr` answer reports: "Zookeeper version: 3.9.6-<commit>, built on ..." → "3.9.6". */
export function versionInSrvr(answer: string): string | undefined {
  return /^Zookeeper version: ([\d.]+)/m.exec(answer)?.[1];
}

/** Mode and zxid from a `srvr` answer; a server without quorum answers "not currently serving requests". */
export function parseSrvr(answer: string): { mode: NodeMode; zxid?: string } {
  const mode = /^Mode: (\w+)/m.exec(answer)?.[1];
  const zxid = /^Zxid: (0x[0-9a-f]+)/m.exec(answer)?.[1];
  const known: NodeMode[] = ['leader', 'follower', 'observer', 'standalone'];
  return {
    mode: known.includes(mode as NodeMode) ? (mode as NodeMode) : 'not-serving',
    ...(zxid === undefined ? {} : { zxid }),
  };
}

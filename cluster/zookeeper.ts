/**
 * ZooKeeper server specifics shared by backends: zoo.cfg, the java command line, four-letter words, `srvr` parsing.
 */
import { connect } from 'node:net';
import type { NodeId, NodeMode, ServerAddress } from './types.ts';

/** Debian's server classpath; the jar's manifest brings the rest. Not /usr/share/java/*: it binds slf4j-nop. */
export const ZOOKEEPER_CLASSPATH =
  '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar';
const LOG4J_CONFIG = '/etc/zookeeper/conf/log4j.properties';
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

/** The java arguments that run one server; `markers` (system properties) let a sweep find the process. */
export function javaArguments(options: { markers: string[]; nodeDir: string; configFile: string }): string[] {
  return [
    ...options.markers,
    // Several ensembles share two cores: a small heap and the serial collector keep each server light.
    '-Xmx256m',
    '-XX:+UseSerialGC',
    `-Dzookeeper.log.dir=${options.nodeDir}`,
    '-Dzookeeper.root.logger=INFO,ROLLINGFILE',
    `-Dlog4j.configuration=file:${LOG4J_CONFIG}`,
    '-cp',
    ZOOKEEPER_CLASSPATH,
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

/**
 * An ensemble the suite did not start (docker-compose, a staging ensemble): given as a connect string, observed
 * with four-letter words, never touched. It has lifecycle and status only, none of the server capabilities
 * (kill, pause, partition): client-side faults (the proxy, paused workers) still apply.
 */
import { ClusterError } from './errors.ts';
import type { Cluster, NodeId, NodeStatus, ServerAddress } from './types.ts';
import { Ensemble } from './ensemble.ts';

/** "host:port,host:port" → addresses; node ids follow the order given, from 1. */
export function parseConnectString(connect: string): ServerAddress[] {
  const addresses = connect.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (addresses.length === 0) throw new ClusterError('--connect needs host:port[,host:port...]');
  return addresses.map((entry) => {
    const match = /^([^:\s]+):(\d{1,5})$/.exec(entry);
    if (match === null || Number(match[2]) > 65_535) throw new ClusterError(`--connect: '${entry}' is not host:port`);
    return { host: match[1]!, port: Number(match[2]) };
  });
}

export class ExternalCluster extends Ensemble implements Cluster {
  readonly backend = 'external';
  readonly nodeIds: readonly NodeId[];
  private readonly addresses: ServerAddress[];

  constructor(connect: string) {
    super();
    this.addresses = parseConnectString(connect);
    this.nodeIds = this.addresses.map((_, index) => index + 1);
  }

  async start(): Promise<void> {
    if ((await this.leader()) === undefined) {
      throw new ClusterError(`no server of ${this.connectString()} answers srvr as a leader (is 4lw.commands.whitelist=* set?)`);
    }
  }

  /** Servers it does not own are neither stopped nor removed: a run leaves them as it found them. */
  async stop(): Promise<void> {}
  async teardown(): Promise<void> {}

  /** Servers it does not own always count as running; whether they serve, srvr says. */
  status(): Promise<NodeStatus[]> {
    return Promise.all(this.nodeIds.map((id) => this.runningStatus(id)));
  }

  clientAddress(id: NodeId): ServerAddress {
    const address = this.addresses[id - 1];
    if (address === undefined) throw new ClusterError(`no server zk${id} in ${this.connectString()}`);
    return address;
  }

  logFiles(): Map<NodeId, string> {
    return new Map();
  }
}

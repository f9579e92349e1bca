/**
 * What every backend does the same way once it knows its servers' addresses: ask them with four-letter words,
 * and derive each node's mode, the leader and the connect string from that.
 */
import { join } from 'node:path';
import { ClusterError } from './errors.ts';
import { nodeAddress, type Subnet } from './subnet.ts';
import type { NodeId, NodeStatus, ServerAddress } from './types.ts';
import { newestLeader } from './wait.ts';
import { CLIENT_PORT, fourLetterWord, parseSrvr } from './zookeeper.ts';

export abstract class Ensemble {
  abstract readonly nodeIds: readonly NodeId[];
  abstract clientAddress(id: NodeId): ServerAddress;
  abstract status(): Promise<NodeStatus[]>;

  /** The leader; while an isolated old leader has not yet noticed, the one of the newest epoch (highest zxid). */
  async leader(): Promise<NodeId | undefined> {
    return newestLeader(await this.status());
  }

  fourLetterWord(id: NodeId, word: string): Promise<string> {
    return fourLetterWord(this.clientAddress(id), word);
  }

  connectString(): string {
    return this.nodeIds.map((id) => {
      const { host, port } = this.clientAddress(id);
      return `${host}:${port}`;
    }).join(',');
  }

  /** A node whose process runs: its mode from `srvr`, or not serving when it does not answer. */
  protected async runningStatus(id: NodeId): Promise<NodeStatus> {
    try {
      return { id, state: 'running', ...parseSrvr(await this.fourLetterWord(id, 'srvr')) };
    } catch {
      return { id, state: 'running', mode: 'not-serving' };
    }
  }
}

/** A backend that owns its servers: node N has its directory under the run and address .10+N on the cluster's subnet. */
export abstract class OwnedEnsemble<Node extends { id: NodeId; dir: string }> extends Ensemble {
  abstract readonly id: string;
  protected abstract readonly nodes: ReadonlyMap<NodeId, Node>;
  /** Known once the network exists (start), or from the state of a cluster attached to. */
  protected abstract subnet: Subnet | undefined;

  clientAddress(id: NodeId): ServerAddress {
    this.node(id);
    return { host: nodeAddress(this.requireSubnet(), id), port: CLIENT_PORT };
  }

  logFiles(): Map<NodeId, string> {
    return new Map([...this.nodes.values()].map((node) => [node.id, join(node.dir, 'zookeeper.log')]));
  }

  protected node(id: NodeId): Node {
    const node = this.nodes.get(id);
    if (node === undefined) throw new ClusterError(`no node ${id} in cluster ${this.id} (nodes ${this.nodeIds.join(', ')})`);
    return node;
  }

  protected requireSubnet(): Subnet {
    if (this.subnet === undefined) throw new ClusterError(`cluster ${this.id} is not started`);
    return this.subnet;
  }
}

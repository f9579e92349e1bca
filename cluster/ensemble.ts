/**
 * What every backend does the same way once it knows its servers' addresses: ask them with four-letter words,
 * and derive each node's mode, the leader and the connect string from that.
 */
import type { NodeId, NodeStatus, ServerAddress } from './types.ts';
import { newestLeader } from './wait.ts';
import { fourLetterWord, parseSrvr } from './zookeeper.ts';

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

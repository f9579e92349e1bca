/**
 * leaks: a lock child owned by a live session that no client accounts for is a leaked node: nobody will delete
 * it until the session ends, and it sits in the lock's queue. Judged at every snapshot against what the clients
 * were doing at that moment; one anomaly per node, however many snapshots show it.
 */
import type { LockChild, SnapshotLine } from '../ground/history.ts';
import { doubtsWithFinal, judge, type Check, type CheckEnd, type RunningCheck } from './check.ts';
import { at, owner as describeOwner } from './describe.ts';
import { guidOf } from './nodes.ts';
import { summarize, type Tracker } from './tracker.ts';
import type { LeakedNodeAnomaly, LeaksResult, Nanos, NodeOwner } from './types.ts';

const SECOND_NS = 1e9;

export const leaksCheck: Check<'leaks', LeaksResult> = {
  name: 'leaks',
  create: ({ tracker, options }) => new LeaksCheck(tracker, options.snapshotGraceNs ?? SECOND_NS),
};

class LeaksCheck implements RunningCheck<LeaksResult> {
  private snapshots = 0;
  private readonly leaks = new Map<string, LeakedNodeAnomaly>();

  constructor(
    private readonly tracker: Tracker,
    private readonly snapshotGraceNs: Nanos,
  ) {}

  snapshot(line: SnapshotLine): void {
    this.snapshots++;
    const live = new Set(line.sessions);
    // The final snapshot is taken once every client has stopped: no answer can be racing it.
    const graceNs = line.final ? 0 : this.snapshotGraceNs;
    for (const [lock, children] of Object.entries(line.locks)) {
      for (const child of children) {
        if (!live.has(child.ephemeralOwner)) continue; // persistent, or its session is going away with it
        const owner = this.tracker.ownerOf(child.ephemeralOwner);
        if (owner.client !== null && this.tracker.claimsNode(owner.client, lock, child.path, line.time, graceNs)) continue;
        const key = `${child.path}@${child.czxid}`;
        const known = this.leaks.get(key);
        if (known !== undefined) {
          known.seen.last = line.time;
          known.seen.final ||= line.final;
          known.span.end = line.time;
          continue;
        }
        this.leaks.set(key, this.newLeak(lock, child, owner, line));
      }
    }
  }

  /**
   * Only nodes still orphaned in the final snapshot count: one seen in mid-run snapshots and gone by the final
   * one was cleaned up late (e.g. Curator's guaranteed delete), and is listed as tolerated.
   */
  result(end: CheckEnd): LeaksResult {
    const anomalies = [...this.leaks.values()];
    const lasting = anomalies.filter((leak) => leak.seen.final).length;
    const transient = anomalies.length - lasting;
    const tolerated = transient > 0 && end.finalSnapshot ? `${transient} node(s) orphaned in mid-run snapshots were gone by the final one` : undefined;
    return { ...judge(anomalies, lasting, doubtsWithFinal(end), tolerated), snapshots: this.snapshots };
  }

  private newLeak(lock: string, node: LockChild, owner: NodeOwner, line: SnapshotLine): LeakedNodeAnomaly {
    const createdBy = this.creatorOf(lock, node.path, owner.client);
    const dropped = this.tracker.droppedDeleteOf(node.path);
    const guid = guidOf(node.name);
    const parts = [
      owner.client === null
        ? `${node.path} is owned by live session ${owner.session}, which no client of the history had (snapshot at ${at(line.time)})`
        : `${node.path} is owned by live ${describeOwner(owner)}, but ${owner.client} neither holds nor waits for ${lock} (snapshot at ${at(line.time)})`,
    ];
    if (createdBy !== null) {
      const acquire = createdBy.mode === null ? 'acquire' : `${createdBy.mode} acquire`;
      parts.push(`it was created by ${createdBy.client}'s ${acquire} #${createdBy.id}, invoked at ${at(createdBy.invokeTime)} and answered ${createdBy.outcome}`);
    }
    if (dropped !== null) parts.push(`the proxy's "${dropped.line.event}" event concerned a delete of it at ${at(dropped.line.time)}`);
    if (guid !== null) parts.push(`its name carries GUID ${guid}, so a recipe could have found it again`);
    return {
      type: 'leaked-node',
      lock,
      node: { ...node },
      owner,
      guid,
      createdBy,
      droppedDelete: dropped?.line ?? null,
      seen: { first: line.time, last: line.time, final: line.final },
      span: { start: createdBy?.invokeTime ?? line.time, end: line.time },
      ops: createdBy === null ? [] : [createdBy.id],
      events: [],
      explanation: `${parts.join('; ')}.`,
    };
  }

  /**
   * The acquire that made the node: the owner's latest acquire of the lock if its ok named exactly this node,
   * else the acquire in progress when the proxy touched a delete of it, else the owner's latest acquire.
   */
  private creatorOf(lock: string, path: string, client: string | null): LeakedNodeAnomaly['createdBy'] {
    const latest = client === null ? null : this.tracker.lastAcquireOf(client, lock);
    if (latest !== null && latest.node === path) return { ...summarize(latest), attribution: 'node-path' };
    const atDrop = this.tracker.droppedDeleteOf(path)?.acquire ?? null;
    if (atDrop !== null) return { ...summarize(atDrop), attribution: 'dropped-delete' };
    return latest === null ? null : { ...summarize(latest), attribution: 'latest-acquire' };
  }
}

/**
 * leader: elections (workload leader). Two clients must never both believe they lead one election
 * (`double-leader`), and an election must not go without a leader for longer than the bound while some candidate
 * could lead it (`no-leader`).
 *
 * A leadership window is what the client believed: from its `leadership` event with `leading: true` (the runner's
 * time of receipt, as a lock's window starts at the acquire's answer) until it invokes resign, a `leadership` event
 * says it no longer leads, or its worker dies. Only a candidacy whose campaign was answered ok and not resigned can
 * lead. Windows of one client never conflict (owner-aware, as for locks); each window that opens is compared with
 * the other clients' open windows of its election, so the cost is O(1) per line plus O(1) per overlap.
 *
 * A candidate *could lead* while its campaign is answered ok and not resigned, its client's session is connected
 * and is the one it campaigned with, its worker is neither frozen (pause-holder), cut off (partition-clients) nor
 * dead, and the ensemble has a quorum: no server fault in force, or the servers up and connected to each other
 * still form a majority of the header's `nodes` (unknown: any server fault counts as no quorum). A stretch with no
 * window open and such a candidate is a leaderless stretch; one longer than the bound is a `no-leader`.
 */
import type { HeaderLine, HistoryLine, LockChild, NemesisLine, OpLine, SnapshotLine, WorkerLine } from '../ground/history.ts';
import { judge, progressBound, type Check, type CheckEnd, type RunningCheck } from './check.ts';
import { at, duration } from './describe.ts';
import { lowestChild } from './nodes.ts';
import { isServerFault } from './server-faults.ts';
import type { DoubleLeaderAnomaly, Interval, LeaderResult, LeaderWindow, Nanos, NodeOwner, NoLeaderAnomaly } from './types.ts';

interface Candidacy {
  client: ClientState;
  election: ElectionState;
  campaignOp: number;
  /** The campaign was answered ok; pending or info, the client cannot count on being a candidate. */
  confirmed: boolean;
  /** The session the campaign answered with. */
  session: string | null;
}

interface ClientState {
  name: string;
  worker: string;
  /** The session of the latest connected event, or of any answer, when no event named one. */
  session: string | null;
  connected: boolean;
  /** By election. */
  candidacies: Map<string, Candidacy>;
  windows: Map<string, LeaderWindow>;
}

interface ElectionState {
  name: string;
  /** Open windows, in the order they opened; at most one per client. */
  open: LeaderWindow[];
  candidacies: Set<Candidacy>;
  /** Start of the leaderless stretch in course; null while someone leads or nobody could. */
  leaderlessSince: Nanos | null;
  /** Clients that could have led at some moment of the stretch in course. */
  stretchCandidates: Set<string>;
}

/** Nemeses acting on client hosts (`value.workers`): their clients can do nothing meanwhile. */
const HOST_FAULTS = new Set(['pause-holder', 'partition-clients']);

/**
 * With fencing on, leaders write the fenced resource as fenced-counter's holders do: double leaders are expected when
 * a leader outlives its session, and the fencing check decides whether the resource stayed safe.
 */
const TOLERATED_UNDER_FENCING = 'leader with fencing on: double leaders are expected when a leader outlives its session; the fencing check decides whether the resource stayed safe';

export const leaderCheck: Check<'leader', LeaderResult> = {
  name: 'leader',
  create: (context) => new LeaderCheck(progressBound(context).boundNs, typeof context.run.config['nodes'] === 'number' ? context.run.config['nodes'] : null,
    context.run.workload === 'leader' && context.run.fencing === true),
};

/** The nodes a server fault's line names: `value.nodes`. */
const nodesOf = (line: NemesisLine): number[] => (Array.isArray(line.value['nodes']) ? (line.value['nodes'] as unknown[]).filter((node): node is number => typeof node === 'number') : []);
/** The client hosts a host fault's line names: `value.workers`. */
const workersOf = (line: NemesisLine): string[] => (Array.isArray(line.value['workers']) ? (line.value['workers'] as unknown[]).filter((worker): worker is string => typeof worker === 'string') : []);

class LeaderCheck implements RunningCheck<LeaderResult> {
  private windows = 0;
  private readonly elections = new Map<string, ElectionState>();
  private readonly clients = new Map<string, ClientState>();
  private readonly campaigns = new Map<number, Candidacy>();
  private readonly overlapping: Array<[earlier: LeaderWindow, later: LeaderWindow]> = [];
  private readonly leaderless: Array<{ election: string; span: Interval; candidates: string[] }> = [];
  private readonly serverFaults = new Map<number, NemesisLine>();
  /** worker → faults in force on it. */
  private readonly blockedWorkers = new Map<string, number>();
  private readonly deadWorkers = new Set<string>();
  private latestElections: Record<string, LockChild[]> = {};
  private latestSessions = new Set<string>();

  /** Host fault id → the workers it blocks. */
  private readonly hostFaultWorkers = new Map<number, string[]>();

  constructor(
    private readonly boundNs: Nanos,
    /** The ensemble's size (header config `nodes`); null when unknown. */
    private readonly nodes: number | null,
    private readonly fenced: boolean,
  ) {}

  line(line: Exclude<HistoryLine, HeaderLine>): void {
    if (line.kind === 'op') this.op(line);
    else if (line.kind === 'worker') this.worker(line);
    else if (line.kind === 'nemesis') this.nemesis(line);
  }

  result(end: CheckEnd): LeaderResult {
    const anomalies = this.anomalies(end.endTime);
    const counted = this.fenced ? anomalies.filter((anomaly) => anomaly.type === 'no-leader').length : anomalies.length;
    const tolerated = this.fenced && counted < anomalies.length ? TOLERATED_UNDER_FENCING : undefined;
    return { ...judge(anomalies, counted, end.historyDoubts, tolerated), windows: this.windows, elections: this.elections.size, boundNs: this.boundNs };
  }

  private op(line: OpLine): void {
    const client = this.clientNamed(line.client, line.worker);
    if (line.session !== undefined && client.session === null) client.session = line.session;
    if (line.election === undefined) return;
    if (line.f === 'campaign') {
      if (line.type === 'invoke') {
        const election = this.electionNamed(line.election);
        const candidacy: Candidacy = { client, election, campaignOp: line.id, confirmed: false, session: line.session ?? null };
        client.candidacies.set(election.name, candidacy);
        election.candidacies.add(candidacy);
        this.campaigns.set(line.id, candidacy);
        return;
      }
      const candidacy = this.campaigns.get(line.id);
      this.campaigns.delete(line.id);
      if (candidacy === undefined || line.type !== 'ok') return;
      candidacy.confirmed = true;
      candidacy.session = line.session ?? client.session;
      this.reconsider(candidacy.election, line.time);
    } else if (line.f === 'resign' && line.type === 'invoke') {
      // Invoking resign ends the belief of leading and of campaigning, whatever the answer.
      const election = this.electionNamed(line.election);
      this.closeWindow(client, election, line.time, 'resign', line.id);
      const candidacy = client.candidacies.get(election.name);
      if (candidacy !== undefined) {
        client.candidacies.delete(election.name);
        election.candidacies.delete(candidacy);
      }
      this.reconsider(election, line.time);
    }
  }

  private worker(line: WorkerLine): void {
    if (line.event === 'crashed' || line.event === 'exited') {
      this.deadWorkers.add(line.worker);
      for (const client of this.clients.values()) {
        if (client.worker !== line.worker) continue;
        for (const election of [...client.windows.keys()]) this.closeWindow(client, this.electionNamed(election), line.time, 'worker-died', null);
      }
      this.reconsiderAll(line.time);
      return;
    }
    if (line.client === undefined) return;
    const client = this.clientNamed(line.client, line.worker);
    if (line.event === 'leadership' && line.election !== undefined) {
      const election = this.electionNamed(line.election);
      const candidacy = client.candidacies.get(election.name);
      if (line.leading === true) {
        if (candidacy?.confirmed === true && !client.windows.has(election.name)) this.openWindow(client, election, candidacy, line);
      } else {
        this.closeWindow(client, election, line.time, 'deposed', null);
      }
      this.reconsider(election, line.time);
      return;
    }
    if (line.event !== 'connected' && line.event !== 'disconnected' && line.event !== 'expired') return;
    client.connected = line.event === 'connected';
    if (line.event === 'connected' && line.session !== undefined) client.session = line.session;
    for (const candidacy of client.candidacies.values()) this.reconsider(candidacy.election, line.time);
  }

  private nemesis(line: NemesisLine): void {
    if (HOST_FAULTS.has(line.f)) {
      const workers = line.type === 'start' ? workersOf(line) : (this.hostFaultWorkers.get(line.id) ?? []);
      if (line.type === 'start') this.hostFaultWorkers.set(line.id, workers);
      else this.hostFaultWorkers.delete(line.id);
      for (const worker of workers) {
        const count = (this.blockedWorkers.get(worker) ?? 0) + (line.type === 'start' ? 1 : -1);
        if (count > 0) this.blockedWorkers.set(worker, count);
        else this.blockedWorkers.delete(worker);
      }
    } else if (isServerFault(line)) {
      if (line.type === 'start') this.serverFaults.set(line.id, line);
      else this.serverFaults.delete(line.id);
    } else {
      return;
    }
    this.reconsiderAll(line.time);
  }

  snapshot(line: SnapshotLine): void {
    if (line.elections !== undefined) this.latestElections = line.elections;
    this.latestSessions = new Set(line.sessions);
  }

  /** Windows still open at the end stay open to `endTime`; a leaderless stretch in course ends there. */
  private anomalies(endTime: Nanos): Array<DoubleLeaderAnomaly | NoLeaderAnomaly> {
    for (const election of this.elections.values()) {
      if (election.leaderlessSince !== null) this.judge(election, endTime);
    }
    return [
      ...this.overlapping.map(([earlier, later]) => doubleLeader(earlier, later, endTime)),
      ...this.leaderless.map(({ election, span, candidates }) => this.noLeader(election, span, candidates)),
    ];
  }

  private openWindow(client: ClientState, election: ElectionState, candidacy: Candidacy, line: WorkerLine): void {
    const window: LeaderWindow = {
      election: election.name,
      client: client.name,
      worker: client.worker,
      session: line.session ?? candidacy.session,
      node: line.node ?? null,
      token: line.token ?? null,
      start: line.time,
      end: null,
      endedBy: null,
      campaignOp: candidacy.campaignOp,
      resignOp: null,
    };
    this.windows++;
    for (const other of election.open) this.overlapping.push([other, window]);
    election.open.push(window);
    client.windows.set(election.name, window);
  }

  private closeWindow(client: ClientState, election: ElectionState, time: Nanos, endedBy: NonNullable<LeaderWindow['endedBy']>, resignOp: number | null): void {
    const window = client.windows.get(election.name);
    if (window === undefined) return;
    client.windows.delete(election.name);
    election.open.splice(election.open.indexOf(window), 1);
    window.end = time;
    window.endedBy = endedBy;
    window.resignOp = resignOp;
  }

  private reconsiderAll(time: Nanos): void {
    for (const election of this.elections.values()) this.reconsider(election, time);
  }

  /** Starts or ends the election's leaderless stretch as the facts at `time` say. */
  private reconsider(election: ElectionState, time: Nanos): void {
    const able = election.open.length === 0 && this.quorum() ? [...election.candidacies].filter((candidacy) => this.couldLead(candidacy)) : [];
    if (able.length > 0) {
      election.leaderlessSince ??= time;
      for (const candidacy of able) election.stretchCandidates.add(candidacy.client.name);
    } else if (election.leaderlessSince !== null) {
      this.judge(election, time);
    }
  }

  private judge(election: ElectionState, until: Nanos): void {
    const since = election.leaderlessSince!;
    if (until - since > this.boundNs) this.leaderless.push({ election: election.name, span: { start: since, end: until }, candidates: [...election.stretchCandidates].sort() });
    election.leaderlessSince = null;
    election.stretchCandidates = new Set();
  }

  private couldLead(candidacy: Candidacy): boolean {
    const { client } = candidacy;
    return candidacy.confirmed && client.connected && (candidacy.session === null || candidacy.session === client.session) &&
      !this.blockedWorkers.has(client.worker) && !this.deadWorkers.has(client.worker);
  }

  /** Whether the servers up and linked to each other form a majority; with no server fault in force, always. */
  private quorum(): boolean {
    if (this.serverFaults.size === 0) return true;
    if (this.nodes === null) return false;
    const down = new Set<number>();
    const cut = new Set<string>();
    for (const fault of this.serverFaults.values()) {
      for (const node of nodesOf(fault)) down.add(node);
      const grudge = fault.value.grudge;
      if (typeof grudge !== 'object' || grudge === null) continue;
      for (const [name, dropped] of Object.entries(grudge as Record<string, unknown>)) {
        const node = Number(name.replace(/^zk/, ''));
        for (const other of Array.isArray(dropped) ? dropped : []) cut.add(linkKey(node, Number(other)));
      }
    }
    const up = Array.from({ length: this.nodes }, (_, index) => index + 1).filter((node) => !down.has(node));
    const seen = new Set<number>();
    for (const start of up) {
      if (seen.has(start)) continue;
      const component = [start];
      seen.add(start);
      for (let index = 0; index < component.length; index++) {
        for (const next of up) {
          if (seen.has(next) || cut.has(linkKey(component[index]!, next))) continue;
          seen.add(next);
          component.push(next);
        }
      }
      if (component.length > this.nodes / 2) return true;
    }
    return false;
  }

  private noLeader(election: string, span: Interval, candidates: string[]): NoLeaderAnomaly {
    const head = lowestChild(this.latestElections[election] ?? []);
    const owner: NodeOwner | null = head === null ? null : this.ownerOf(head.ephemeralOwner);
    const blocking = head === null ? '' : `; the lowest candidate node of ${election} in the latest snapshot is ${head.path}, owned by session ${head.ephemeralOwner}` +
      `${owner?.client === null || owner === null ? '' : ` (client ${owner.client})`}${this.latestSessions.has(head.ephemeralOwner) ? '' : ', no longer live'}`;
    return {
      type: 'no-leader',
      election,
      leaderless: span,
      boundNs: this.boundNs,
      candidates,
      blockingNode: head === null ? null : { ...head },
      blockingOwner: owner,
      span,
      ops: [],
      events: [],
      explanation:
        `Nobody led ${election} for ${duration(span.end - span.start)} (${at(span.start)} to ${at(span.end)}), longer than the ${duration(this.boundNs)} bound, ` +
        `while ${candidates.join(', ')} ${candidates.length === 1 ? 'was a candidate' : 'were candidates'} with a connected session and the ensemble had a quorum${blocking}.`,
    };
  }

  private ownerOf(session: string): NodeOwner {
    for (const client of this.clients.values()) {
      if (client.session === session) return { session, client: client.name, worker: client.worker };
    }
    return { session, client: null, worker: null };
  }

  private clientNamed(name: string, worker: string): ClientState {
    let client = this.clients.get(name);
    if (client === undefined) {
      client = { name, worker, session: null, connected: true, candidacies: new Map(), windows: new Map() };
      this.clients.set(name, client);
    }
    return client;
  }

  private electionNamed(name: string): ElectionState {
    let election = this.elections.get(name);
    if (election === undefined) {
      election = { name, open: [], candidacies: new Set(), leaderlessSince: null, stretchCandidates: new Set() };
      this.elections.set(name, election);
    }
    return election;
  }
}

const linkKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

function leader(window: LeaderWindow): string {
  return `${window.client} (session ${window.session ?? 'unknown'}, node ${window.node ?? 'unknown'}, token ${window.token ?? 'none'})`;
}

function doubleLeader(earlier: LeaderWindow, later: LeaderWindow, endTime: Nanos): DoubleLeaderAnomaly {
  const overlap = { start: later.start, end: Math.min(earlier.end ?? endTime, later.end ?? endTime) };
  const stillOpen = earlier.end === null && later.end === null ? ' (neither ever stopped)' : '';
  return {
    type: 'double-leader',
    election: earlier.election,
    windows: [{ ...earlier }, { ...later }],
    overlap,
    span: overlap,
    ops: [earlier.campaignOp, later.campaignOp, earlier.resignOp, later.resignOp].filter((id): id is number => id !== null),
    events: [],
    explanation:
      `${leader(earlier)} and ${leader(later)} both believed they led ${earlier.election} for ${duration(overlap.end - overlap.start)}, ` +
      `from ${at(overlap.start)} to ${at(overlap.end)}${stillOpen}; ${earlier.client} had been elected at ${at(earlier.start)}.`,
  };
}

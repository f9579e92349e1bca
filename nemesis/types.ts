/**
 * A nemesis applies one fault at a time and knows how to heal it (Jepsen's nemesis protocol, reduced to the
 * two verbs a scheduler needs). Faults become `nemesis` lines in the history, so every anomaly can be set
 * beside the faults around it.
 */
import type { Cluster } from '../cluster/types.ts';
import type { NemesisName } from '../src/config.ts';
import type { Random } from '../ground/random.ts';
import type { ProxyHandle } from './proxy/client.ts';

export interface Fault {
  /** One line for a person: "SIGKILL zk2 (the leader)". */
  description: string;
  /** Targets and parameters, for the history and the report. */
  value: Record<string, unknown>;
  /** How long the scheduler keeps the fault before healing it. */
  durationMs: number;
  heal(): Promise<void>;
}

/** A worker process: one client host, paused or cut off as a unit. */
export interface ClientHost {
  name: string;
  pause(): void;
  resume(): void;
}

export interface Holder {
  client: string;
  worker: string;
  lock: string;
}

export interface NemesisContext {
  cluster: Cluster;
  proxy: ProxyHandle;
  random: Random;
  sessionTimeoutMs: number;
  intervalMs: number;
  /** Parent of every lock node: faults aimed at lock operations match paths under it. */
  lockRoot: string;
  clientHosts: readonly ClientHost[];
  /** Clients that believe they hold a lock right now. */
  holders(): readonly Holder[];
}

export interface Nemesis {
  name: NemesisName;
  /** Applies one fault now; undefined when there is nothing to hit (no holder, no matching request in time). */
  start(context: NemesisContext): Promise<Fault | undefined>;
}

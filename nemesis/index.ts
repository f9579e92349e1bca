/** Every nemesis by the name `--nemesis` gives it: the one list the CLI, compare and the docs read. */
import { partitionClients, pauseHolder } from './client-faults.ts';
import { killMidCreate, lostDelete, lostReply } from './proxy-faults.ts';
import { kill, partition, pause } from './server-faults.ts';
import type { Nemesis } from './types.ts';

export const NEMESES = {
  kill,
  pause,
  partition,
  'partition-clients': partitionClients,
  'pause-holder': pauseHolder,
  'kill-mid-create': killMidCreate,
  'lost-reply': lostReply,
  'lost-delete': lostDelete,
} as const satisfies Record<string, Nemesis>;

export type NemesisName = keyof typeof NEMESES;
export const NEMESIS_NAMES = Object.keys(NEMESES) as NemesisName[];

export function isNemesisName(name: string): name is NemesisName {
  return Object.hasOwn(NEMESES, name);
}

/** Every nemesis by the name `--nemesis` gives it. */
import type { NemesisName } from '../src/config.ts';
import { partitionClients, pauseHolder } from './client-faults.ts';
import { killMidCreate, lostDelete, lostReply } from './proxy-faults.ts';
import { kill, partition, pause } from './server-faults.ts';
import type { Nemesis } from './types.ts';

export const NEMESIS_MODULES: Record<NemesisName, Nemesis> = {
  kill,
  pause,
  partition,
  'partition-clients': partitionClients,
  'pause-holder': pauseHolder,
  'kill-mid-create': killMidCreate,
  'lost-reply': lostReply,
  'lost-delete': lostDelete,
};

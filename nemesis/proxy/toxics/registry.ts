/** Every toxic type by the name the API gives it: Toxiproxy's own, then this project's extensions. */
import { bandwidth } from './bandwidth.ts';
import { latency } from './latency.ts';
import { limitData } from './limit-data.ts';
import { noop } from './noop.ts';
import { resetPeer } from './reset-peer.ts';
import { slicer } from './slicer.ts';
import { slowClose } from './slow-close.ts';
import { timeout } from './timeout.ts';
import type { StreamToxic } from './toxic.ts';
import { zkHoldReply, zkLostReply, zkLostRequest, type FrameToxic } from './zk.ts';

export type ToxicType = StreamToxic<object> | FrameToxic;

const TOXIPROXY_TOXICS: readonly ToxicType[] = [latency, bandwidth, slowClose, timeout, resetPeer, slicer, limitData, noop];
const EXTENSION_TOXICS: readonly ToxicType[] = [zkLostRequest, zkLostReply, zkHoldReply];

export const TOXICS: ReadonlyMap<string, ToxicType> = new Map([...TOXIPROXY_TOXICS, ...EXTENSION_TOXICS].map((toxic) => [toxic.type, toxic]));

/** The types a Toxiproxy server knows too. */
export const TOXIPROXY_TYPES: readonly string[] = TOXIPROXY_TOXICS.map((toxic) => toxic.type);
/** This project's ZooKeeper-aware types, which a Toxiproxy server answers 400 to. */
export const EXTENSION_TYPES: readonly string[] = EXTENSION_TOXICS.map((toxic) => toxic.type);

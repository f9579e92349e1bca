/**
 * V8 CPU profiles (what `node --cpu-prof` writes, and what the inspector's Profiler.stop answers) read as the
 * proxy bench prints them: where one process spent its time, by function and by kind of code, optionally only
 * within given windows of CLOCK_MONOTONIC (the profile's timestamps are microseconds of that clock, as are
 * `process.hrtime.bigint()`'s nanoseconds / 1000 in every process of the machine).
 */
import { fileURLToPath } from 'node:url';

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  name: string;
  ms: number;
  /** Of the time the process was not idle. */
  share: number;
}

export interface ProfileSummary {
  /** Sampled time within the windows, idle included. */
  sampledMs: number;
  idleMs: number;
  functions: Cost[];
  /** This project's code, node's own JavaScript (net, streams), packages, the garbage collector, native code. */
  kinds: Cost[];
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** [start, end] in microseconds of CLOCK_MONOTONIC. */
export type Window = readonly [number, number];

export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function summarizeProfile(profile: CpuProfile, top: number, windows?: readonly Window[]): ProfileSummary {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  const byKind = new Map<string, number>();
  let sampledUs = 0;
  let idleUs = 0;
  let at = profile.startTime;
  for (let index = 0; index < profile.samples.length; index += 1) {
    at += profile.timeDeltas[index] ?? 0;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[index + 1] ?? 0;
    if (windows !== undefined && !windows.some(([start, end]) => at >= start && at <= end)) continue;
    const frame = frames.get(profile.samples[index]!)!;
    sampledUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    // This project's TypeScript runs transpiled (tsx), whose line numbers are not the source's: the file alone.
    const location = frame.url === '' ? '' : ` ${shortUrl(frame.url)}${frame.url.endsWith('.ts') ? '' : `:${frame.lineNumber + 1}`}`;
    const name = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${location}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const kind = kindOf(frame);
    byKind.set(kind, (byKind.get(kind) ?? 0) + us);
  }
  const busyUs = sampledUs - idleUs;
  const costs = (map: Map<string, number>, count: number): Cost[] => [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs === 0 ? 0 : us / busyUs }));
  return { sampledMs: sampledUs / 1000, idleMs: idleUs / 1000, functions: costs(byFunction, top), kinds: costs(byKind, byKind.size) };
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const packaged = path.lastIndexOf('/node_modules/');
  if (packaged >= 0) return path.slice(packaged + 1);
  return path.startsWith(PROJECT_ROOT) ? path.slice(PROJECT_ROOT.length) : path;
}

function kindOf(frame: { functionName: string; url: string }): string {
  if (frame.functionName === '(garbage collector)') return 'garbage collector';
  if (frame.url === '') return 'native (system calls, libuv, C++; "(program)")';
  if (frame.url.startsWith('node:')) return "node's JavaScript (net, streams, timers)";
  if (frame.url.includes('/node_modules/')) return 'packages (node_modules)';
  return "this project's code";
}

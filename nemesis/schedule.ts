/**
 * The nemesis schedule. `planSchedule` draws the whole run's faults up front from the nemesis stream: every
 * interval one nemesis (chosen at random) plans one fault, which stays its duration, then the next interval
 * begins. Nothing it draws depends on what happens in the run, so a seed reproduces kinds, targets and offsets, and
 * a recorded schedule (schedule.json) can be run again as it is. `NemesisSchedule` carries a plan out in time:
 * each fault starts at its offset (or as soon as the one before is healed, when that ran late), stays its duration
 * and is healed; stopping heals the fault in force, so a run always ends healed.
 */
import type { Random } from '../ground/random.ts';
import type { Fault, FaultPlan, Nemesis, NemesisContext, PlanSettings } from './types.ts';

export function planSchedule(nemeses: readonly Nemesis[], random: Random, settings: PlanSettings, timeLimitMs: number): FaultPlan[] {
  const plans: FaultPlan[] = [];
  if (nemeses.length === 0) return plans;
  for (let atMs = settings.intervalMs; atMs < timeLimitMs;) {
    const nemesis = random.pick(nemeses);
    const draw = nemesis.plan(random, settings);
    plans.push({ nemesis: nemesis.name, atMs, ...draw });
    atMs += draw.durationMs + settings.intervalMs;
  }
  return plans;
}

/** What the schedule tells the runner (the history, the progress line) as it goes. */
export interface ScheduleListener {
  /** The fault is being applied: arming, or waiting for the request it aims at. */
  applying(index: number, plan: FaultPlan): void;
  /** It took effect; the nemesis began to apply it `offsetMs` after the schedule started. */
  started(index: number, plan: FaultPlan, fault: Fault, offsetMs: number): void;
  /** There was nothing to hit (no holder, no leader, no matching request in time). */
  skipped(index: number, plan: FaultPlan): void;
  healed(index: number, plan: FaultPlan, fault: Fault): void;
  /** Applying or healing threw; the schedule goes on. */
  failed(index: number, plan: FaultPlan, error: unknown): void;
}

export class NemesisSchedule {
  private running = false;
  private loop: Promise<void> | undefined;
  private startedAt = 0;
  /** Wakes the loop out of its current wait when the schedule stops. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly plans: readonly FaultPlan[],
    private readonly nemeses: Readonly<Record<string, Nemesis>>,
    private readonly context: NemesisContext,
    private readonly listener: ScheduleListener,
  ) {
    for (const plan of plans) {
      if (nemeses[plan.nemesis] === undefined) throw new Error(`the schedule names an unknown nemesis '${plan.nemesis}'`);
    }
  }

  start(): void {
    this.running = true;
    this.startedAt = performance.now();
    this.loop = this.run();
  }

  async stopAndHeal(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    for (const [index, plan] of this.plans.entries()) {
      await this.waitUntil(plan.atMs);
      if (!this.running) return;
      this.listener.applying(index, plan);
      // When the nemesis acts is the schedule's to keep; how long the action takes (a leader to find, rules to
      // write, a request to wait for) is the ensemble's, and the start line's own time records when it took effect.
      const offsetMs = performance.now() - this.startedAt;
      let fault: Fault | undefined;
      try {
        fault = await this.nemeses[plan.nemesis]!.apply(plan, this.context);
      } catch (error) {
        this.listener.failed(index, plan, error);
        continue;
      }
      if (fault === undefined) {
        this.listener.skipped(index, plan);
        continue;
      }
      this.listener.started(index, plan, fault, offsetMs);
      await this.waitUntil(performance.now() - this.startedAt + plan.durationMs);
      try {
        await fault.heal();
      } catch (error) {
        this.listener.failed(index, plan, error);
      }
      this.listener.healed(index, plan, fault);
    }
  }

  /** Waits until `offsetMs` after the start, or until the schedule stops. */
  private waitUntil(offsetMs: number): Promise<void> {
    const ms = this.startedAt + offsetMs - performance.now();
    if (ms <= 0 || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/**
 * Runs the nemeses: every interval one of them (chosen at random) applies a fault, keeps it for as long as the
 * fault asks, and heals it. Each fault is a `start` and a `stop` line in the history. Stopping the schedule
 * heals the fault in force, so a run always ends healed.
 */
import type { Fault, Nemesis, NemesisContext } from '../nemesis/types.ts';
import type { HistoryWriter } from '../ground/history-writer.ts';
import type { Progress } from './progress.ts';

interface ActiveFault {
  id: number;
  nemesis: Nemesis;
  fault: Fault;
}

export class NemesisSchedule {
  private running = false;
  private loop: Promise<void> | undefined;
  private active: ActiveFault | undefined;
  private nextId = 0;
  /** Wakes the loop out of its current wait when the schedule stops. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly nemeses: readonly Nemesis[],
    private readonly context: NemesisContext,
    private readonly history: HistoryWriter,
    private readonly progress: Progress,
  ) {}

  start(): void {
    if (this.nemeses.length === 0) return;
    this.running = true;
    this.loop = this.run();
  }

  async stopAndHeal(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.wait(this.context.intervalMs);
      if (!this.running) break;
      const nemesis = this.context.random.pick(this.nemeses);
      const fault = await nemesis.start(this.context).catch((error: unknown) => {
        console.error(`nemesis ${nemesis.name}: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
      if (fault === undefined) continue;
      this.active = { id: this.nextId++, nemesis, fault };
      this.record('start', this.active);
      await this.wait(fault.durationMs);
      await this.heal();
    }
  }

  private async heal(): Promise<void> {
    const active = this.active;
    if (active === undefined) return;
    this.active = undefined;
    try {
      await active.fault.heal();
    } catch (error) {
      console.error(`nemesis ${active.nemesis.name}: healing failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.record('stop', active);
  }

  private record(type: 'start' | 'stop', { id, nemesis, fault }: ActiveFault): void {
    this.history.write({ kind: 'nemesis', id, type, time: this.history.now(), f: nemesis.name, description: fault.description, value: fault.value });
    if (type === 'start') this.progress.faultStarted(id, fault.description);
    else this.progress.faultHealed(id);
  }

  private wait(ms: number): Promise<void> {
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

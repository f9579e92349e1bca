import { describe, expect, it } from 'vitest';
import { Progress } from './progress.ts';

describe('the progress line', () => {
  it('names every fault in force, one being armed, and the one-shot faults that already hit', () => {
    let now = 1_000_000;
    const progress = new Progress(30, () => now);
    progress.start();
    progress.stop();
    expect(progress.line()).toMatch(/no faults$/);

    progress.faultApplying(0, 'lost-delete');
    expect(progress.line()).toMatch(/faults: lost-delete armed$/);
    progress.faultStarted(0, 'lost-delete', 'swallowed delete /locks/L1/x from w2 to zk1', 0);
    progress.faultEnded(0);
    now += 3_000;
    expect(progress.line()).toMatch(/faults: lost-delete hit 1× \(last 3 s ago\)$/);

    progress.faultApplying(1, 'partition-clients');
    progress.faultStarted(1, 'partition-clients', 'cut w1 off from every server for 4500 ms', 4_500);
    expect(progress.line()).toContain('faults: cut w1 off from every server for 4500 ms; lost-delete hit 1×');
    progress.faultEnded(1);
    expect(progress.line()).not.toContain('cut w1');
  });

  it('counts operations by outcome and stops the clock at the time limit', () => {
    let now = 0;
    const progress = new Progress(10, () => now);
    progress.start();
    progress.stop();
    for (const outcome of ['ok', 'ok', 'fail', 'info'] as const) progress.completed(outcome);
    now = 60_000;
    expect(progress.line()).toMatch(/^10\/10s .* 4 ops: 2 ok, 1 fail, 1 info/);
  });
});

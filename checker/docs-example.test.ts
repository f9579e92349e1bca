import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../ground/history.ts';
import { parseHistoryLine } from '../ground/history-reader.ts';
import { check } from './index.ts';

/** The worked example of docs/history-format.md, so that the document and the checker cannot drift apart. */
function documentedExample(): HistoryLine[] {
  const document = readFileSync(join(import.meta.dirname, '..', 'docs', 'history-format.md'), 'utf8');
  const block = /```jsonl\n([\s\S]*?)```/.exec(document)?.[1];
  if (block === undefined) throw new Error('docs/history-format.md has no jsonl example');
  return block.trim().split('\n').map((text) => {
    const line = parseHistoryLine(text);
    if (typeof line === 'string') throw new Error(`example line ${text.slice(0, 60)}: ${line}`);
    return line;
  });
}

describe('the worked example of docs/history-format.md', () => {
  it('reads as the document says: a leaked node from a dropped delete, blocking the lock, nothing else', () => {
    const results = check(documentedExample());
    expect(results.valid).toBe(false);
    expect(results.checkers.mutex).toMatchObject({ valid: true, windows: 1 });
    expect(results.checkers.leaks.anomalies).toMatchObject([
      { type: 'leaked-node', owner: { client: 'c2' }, createdBy: { id: 1, attribution: 'dropped-delete' }, guid: '9a0e5d4c3b2a41f0a1b2c3d4e5f60718' },
    ]);
    expect(results.checkers.liveness.anomalies).toMatchObject([{ cause: 'lowest-node-unclaimed', blockingOwner: { client: 'c2' } }]);
    expect(results.checkers.fencing.valid).toBe(true);
    expect(results.run).toMatchObject({ recipe: 'kazoo', workload: 'try-lock', nemesis: 'lost-delete', seed: 7, fencing: false });
  });
});

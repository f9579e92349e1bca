/**
 * Issue 5: bad flags exit 254 with one line that says what is wrong, no stack trace, and start nothing.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitWithin, scratchDirectory, spawnScript } from './harness.ts';

const BOUND_MS = 60_000;

const CASES: [what: string, flags: string[], says: RegExp][] = [
  ['an unknown flag', ['--frobnicate'], /unknown option '--frobnicate'/],
  ['a bad number', ['--clients', 'many'], /--clients.*'many'/],
  ['a number out of range', ['--time-limit', '0'], /--time-limit.*'0'/],
  ['an unknown nemesis', ['--nemesis', 'kill,meteor'], /unknown nemesis 'meteor'/],
  ['an unknown recipe', ['--recipe', 'zookeeper-magic'], /'zookeeper-magic'/],
  ['a session timeout below 2 ticks', ['--tick-time', '200', '--session-timeout', '300'], /--session-timeout 300 is outside/],
  ['a session timeout above 20 ticks', ['--tick-time', '200', '--session-timeout', '4001'], /--session-timeout 4001 is outside/],
];

describe('bad flags', () => {
  let scratch: string;
  const answers = new Map<string, Awaited<ReturnType<typeof exitWithin>>>();

  // Every case is a separate CLI process of about a second; running them at once keeps the file short.
  beforeAll(async () => {
    scratch = await scratchDirectory();
    await Promise.all(CASES.map(async ([what, flags]) => {
      answers.set(what, await exitWithin(spawnScript('src/cli.ts', [...flags, '--backend', 'local', '--results', join(scratch, 'results')]), BOUND_MS));
    }));
  }, BOUND_MS + 10_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it.each(CASES)('%s: exit 254 and one line, no stack trace', (what, _flags, says) => {
    const answer = answers.get(what)!;
    const lines = answer.stderr.split('\n').filter((line) => line.trim() !== '');
    expect(lines, answer.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(says);
    expect(answer.stderr).not.toMatch(/^\s+at /m);
    expect(answer.stdout).toBe('');
    expect(answer.code).toBe(254);
  });

  it('starts no run for any of them', () => {
    expect(existsSync(join(scratch, 'results'))).toBe(false);
  });
});

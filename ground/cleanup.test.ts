import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerCleanup, runCleanups } from './cleanup.ts';

const REPO = join(import.meta.dirname, '..');

/** Runs a module snippet that uses the registry in a fresh node process; resolves with its exit code and output. */
function runSnippet(code: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { registerCleanup } from './ground/cleanup.ts';\n${code}`],
      { cwd: REPO },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe('cleanup registry', () => {
  it('runs cleanups newest first, once, skipping unregistered ones and surviving a failing one', async () => {
    const ran: string[] = [];
    registerCleanup('first', () => void ran.push('first'));
    const unregister = registerCleanup('gone', () => void ran.push('gone'));
    registerCleanup('failing', () => {
      throw new Error('expected failure');
    });
    registerCleanup('last', async () => void ran.push('last'));
    unregister();
    await runCleanups();
    await runCleanups();
    expect(ran).toEqual(['last', 'first']);
  });

  it('bounds the time spent on cleanups, and a hanging one does not starve the others', async () => {
    const ran: string[] = [];
    registerCleanup('after the hanging one', () => void ran.push('after'));
    registerCleanup('hanging', () => new Promise<void>(() => {}));
    const startedAt = Date.now();
    await runCleanups(300);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(ran).toEqual(['after']);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ])('on %s runs the cleanups and exits %i', async (signal, exitCode) => {
    const result = await runSnippet(`
      registerCleanup('a', () => console.log('cleaned a'));
      registerCleanup('b', async () => { await new Promise((r) => setTimeout(r, 50)); console.log('cleaned b'); });
      setInterval(() => {}, 1000);
      process.kill(process.pid, '${signal}');
    `);
    expect(result.code).toBe(exitCode);
    expect(result.stdout).toBe('cleaned b\ncleaned a\n');
  });

  it('on a crash prints the error, runs the cleanups and exits 255', async () => {
    const result = await runSnippet(`
      registerCleanup('a', () => console.log('cleaned a'));
      setTimeout(() => { throw new Error('boom'); }, 10);
    `);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('cleaned a\n');
    expect(result.stderr).toContain('boom');
  });
});

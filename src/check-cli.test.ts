import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestHistory } from '../checker/test-history.ts';
import type { Results } from '../checker/types.ts';

const directory = mkdtempSync(join(tmpdir(), 'check-cli-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function runDir(name: string, history: string): string {
  const dir = join(directory, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'history.jsonl'), history);
  return dir;
}

function checkCli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'check-cli.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function jsonl(history: TestHistory): string {
  return history.lines().map((line) => `${JSON.stringify(line)}\n`).join('');
}

const cleanRun = new TestHistory();
cleanRun.acquire('c1', 'L1', 0, 100);
cleanRun.release('c1', 'L1', 200);
cleanRun.snapshot(1000, true, { L1: [] }, ['0x11']).end(1001);

const overlapping = new TestHistory();
overlapping.acquire('c1', 'L1', 0, 100);
overlapping.acquire('c2', 'L1', 50, 150);
overlapping.snapshot(1000, true, { L1: [] }, []).end(1001);

describe('npm run check', () => {
  it('exits 0 on a valid run, writes results.json and prints the verdict', () => {
    const dir = runDir('valid', jsonl(cleanRun));
    const { status, stdout } = checkCli(dir);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^VALID {2}node-safe \/ mutex \/ pause/);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
    expect(results).toMatchObject({ version: 1, valid: true, run: { recipe: 'node-safe', seed: 1 } });
  });

  it('exits 1 on an invalid run and names the anomaly', () => {
    const { status, stdout } = checkCli(runDir('invalid', jsonl(overlapping)));
    expect(status).toBe(1);
    expect(stdout).toMatch(/mutex +INVALID +1 double-holder/);
  });

  it('exits 2 with a clear reason on a truncated history', () => {
    const text = jsonl(cleanRun);
    const { status, stdout, stderr } = checkCli(runDir('truncated', text.slice(0, text.length - 20)));
    expect(status).toBe(2);
    expect(stdout).toMatch(/^UNKNOWN/);
    expect(stdout).toMatch(/truncated last line/);
    expect(stderr).toBe('');
  });

  it('exits 254 with one line for a missing directory or a directory without a history', () => {
    for (const args of [[join(directory, 'nowhere')], [directory], []]) {
      const { status, stderr } = checkCli(...args);
      expect(status).toBe(254);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('exits 255 with one line, no stack trace, when the check itself fails', () => {
    const dir = runDir('unwritable', jsonl(cleanRun));
    mkdirSync(join(dir, 'results.json'));
    const { status, stderr } = checkCli(dir);
    expect(status).toBe(255);
    expect(stderr.trim()).toMatch(/^check: crashed: EISDIR/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});

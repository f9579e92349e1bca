/**
 * Bad input to `npm run jepsen` (and its compare): one line on stderr that says what is wrong, exit 254, no stack
 * trace, nothing on stdout, and nothing started (no results directory), before any ensemble or worker exists.
 * The command runs in this process (main), so forty cases take milliseconds; one case runs it as a process, to
 * show the exit code reaches the shell.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from './cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'zkj-cli-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const results = join(scratch, 'results');
const aFile = join(scratch, 'a-file');
writeFileSync(aFile, 'not a directory');

/** Runs the command in this process; what it printed, and its exit code. */
async function jepsen(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const errors = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const outputs = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const logs = vi.spyOn(console, 'error').mockImplementation((...parts) => void (stderr += `${parts.join(' ')}\n`));
  try {
    return { code: await main(args), stderr, stdout };
  } finally {
    errors.mockRestore();
    outputs.mockRestore();
    logs.mockRestore();
  }
}

const RUN_CASES: [what: string, flags: string[], says: RegExp][] = [
  ['an unknown flag', ['--frobnicate'], /unknown option '--frobnicate'/],
  ['an argument where none belongs', ['kill'], /too many arguments|unknown command/],
  ['a bad number', ['--clients', 'many'], /--clients.*'many'/],
  ['a number out of range', ['--time-limit', '0'], /--time-limit.*'0'/],
  ['a fractional number', ['--hold', '1.5'], /--hold.*'1.5'/],
  ['an unknown nemesis', ['--nemesis', 'kill,meteor'], /unknown nemesis 'meteor'/],
  ['an unknown recipe', ['--recipe', 'zookeeper-magic'], /'zookeeper-magic'/],
  ['an unknown workload', ['--workload', 'juggling'], /'juggling'/],
  ['an unknown ZooKeeper version', ['--zk-version', '9.9.9'], /'9.9.9'/],
  ['an unknown backend', ['--backend', 'cloud'], /'cloud'/],
  ['fencing neither on nor off', ['--fencing', 'maybe'], /--fencing.*'on' or 'off'/],
  ['a session timeout below 2 ticks', ['--tick-time', '200', '--session-timeout', '300'], /--session-timeout 300 is outside/],
  ['a session timeout above 20 ticks', ['--tick-time', '200', '--session-timeout', '4001'], /--session-timeout 4001 is outside/],
  ['an unknown nemesis target', ['--nemesis', 'kill', '--nemesis-target', 'majorityy'], /--nemesis-target.*'majorityy'/],
  ['a minority of one server', ['--nemesis', 'kill', '--nemesis-target', 'minority', '--nodes', '1'], /minority of 1 server is no server/],
  ['a fault duration below the tick time', ['--nemesis', 'kill', '--fault-duration', '50'], /--fault-duration 50 is shorter than one tick/],
  ['external without --connect', ['--backend', 'external'], /--backend external and --connect go together/],
  ['--connect without external', ['--connect', '127.0.0.1:2181'], /--backend external and --connect go together/],
  ['a connect string that is not host:port', ['--backend', 'external', '--connect', '127.0.0.1:twenty'], /'127.0.0.1:twenty' is not host:port/],
  ['a server fault on an external ensemble', ['--backend', 'external', '--connect', '127.0.0.1:2181', '--nemesis', 'kill,lost-delete'], /--nemesis kill acts on servers, which --backend external does not own/],
  ['an empty worker command', ['--worker', ''], /--worker is empty/],
  ['a blank worker command', ['--worker', '   '], /--worker is empty/],
  ['a worker program that does not exist', ['--worker', 'zkj-no-such-program --flag'], /'zkj-no-such-program' is not a program on PATH/],
  ['a worker file that does not exist', ['--worker', './no/such/worker.py'], /\.\/no\/such\/worker\.py is not an executable file/],
  ['a worker that is a directory', ['--worker', `${scratch} --flag`], /is not an executable file/],
  ['a worker command with only assignments', ['--worker', 'A=1 B=2'], /names no program/],
  ['a Toxiproxy URL that is not http', ['--toxiproxy', 'ftp://127.0.0.1:8474'], /--toxiproxy/],
  ['a ZooKeeper-aware nemesis on a Toxiproxy server', ['--toxiproxy', 'http://127.0.0.1:8474', '--nemesis', 'partition-clients,lost-reply,kill-mid-create'], /--nemesis lost-reply,kill-mid-create needs this project's ZooKeeper-aware toxics/],
  ['ssh without --hosts', ['--backend', 'ssh'], /--backend ssh and --hosts go together/],
  ['--hosts without ssh', ['--backend', 'local', '--hosts', 'a,b,c'], /--backend ssh and --hosts go together/],
  ['a host that is not [user@]host[:port]', ['--backend', 'ssh', '--hosts', 'root@a,b:99999'], /'b:99999' is not a host/],
  ['the same host twice', ['--backend', 'ssh', '--hosts', 'a,b,root@a'], /--hosts names a twice/],
  ['--nodes other than the hosts', ['--backend', 'ssh', '--hosts', 'a,b,c', '--nodes', '5'], /--nodes 5 but --hosts names 3 hosts/],
  ['client hosts beside a local ensemble', ['--backend', 'local', '--client-hosts', 'c1'], /--client-hosts needs servers those hosts reach/],
  ['an ssh key that is not there', ['--backend', 'ssh', '--hosts', 'a,b,c', '--ssh-key', join(scratch, 'no-key')], /--ssh-key .*no-key: not a readable file \(ENOENT\)/],
  ['an ssh key without hosts', ['--ssh-accept-new'], /--ssh-key and --ssh-accept-new go with --hosts or --client-hosts/],
];

/** Paths: each case its own, since the check creates what is missing. */
const PATH_CASES: [what: string, path: string, says: RegExp][] = [
  ['results on procfs', '/proc/zkj-nope', /--results \/proc\/zkj-nope: cannot create \/proc\/zkj-nope \(ENOENT\)/],
  ['results under a file', join(aFile, 'runs'), /--results .*a-file\/runs: .*a-file is not a directory/],
  ['results that are a file', aFile, /--results .*a-file: .*a-file is not a directory/],
  ['results where nobody may write', '/sys/zkj-unwritable', /--results \/sys\/zkj-unwritable: cannot create \/sys\/zkj-unwritable \((EPERM|EACCES)\)/],
  ['an empty results path', '', /--results is empty/],
];

const COMPARE_CASES: [what: string, flags: string[], says: RegExp][] = [
  ['compare without recipes', ['compare'], /required option '--recipes <list>'/],
  ['compare with an unknown recipe', ['compare', '--recipes', 'kazoo,nope'], /unknown recipe 'nope'/],
  ['compare with an unknown nemesis in a scenario', ['compare', '--recipes', 'kazoo', '--nemesis', 'kill+meteor'], /unknown nemesis 'meteor' in scenario 'kill\+meteor'/],
  ['compare with zero runs', ['compare', '--recipes', 'kazoo', '--runs', '0'], /--runs.*'0'/],
  ['compare with seeds past the last', ['compare', '--recipes', 'kazoo', '--seed', '2147483647', '--runs', '2'], /goes past the largest seed/],
  ['compare with a run flag no run accepts', ['compare', '--recipes', 'kazoo', '--tick-time', '200', '--session-timeout', '100'], /--session-timeout 100 is outside/],
  ['compare into results on procfs', ['compare', '--recipes', 'kazoo', '--results', '/proc/zkj-nope'], /cannot create \/proc\/zkj-nope/],
  ['compare against a baseline that does not exist', ['compare', '--recipes', 'kazoo', '--baseline', join(scratch, 'missing.json')], /^jepsen: --baseline .*missing\.json: no such file$/],
  ['compare against a baseline that is not compare.json', ['compare', '--recipes', 'kazoo', '--baseline', aFile], /^jepsen: --baseline .*a-file: not JSON/],
];

/** A recorded run directory as replay and shrink read it, with the verdict given. */
function recordedRun(name: string, valid: boolean | 'unknown', files: { history?: boolean; schedule?: boolean } = {}): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  if (files.history !== false) writeFileSync(join(dir, 'history.jsonl'), '{"kind":"header","version":1,"runId":"r","startedAt":"now","config":{}}\n');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ runId: name, recipe: 'node-naive', workload: 'mutex', nemesis: ['lost-reply'], seed: 1, timeLimitS: 10, clients: 4, workers: 2, locks: 2, results: scratch }));
  if (files.schedule !== false) writeFileSync(join(dir, 'schedule.json'), JSON.stringify({ version: 1, faults: [{ nemesis: 'lost-reply', atMs: 5000, durationMs: 0, target: { next: 'request' } }] }));
  const anomalies = valid === false ? [{ type: 'stuck-acquire' }] : [];
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ version: 1, valid, checkers: { liveness: { valid, anomalies, ...(valid === 'unknown' ? { reason: 'the history has no final snapshot' } : {}) } } }));
  return dir;
}

const REPLAY_CASES: [what: string, args: () => string[], says: RegExp, code: number][] = [
  ['replay of a directory that does not exist', () => ['replay', join(scratch, 'nowhere')], /replay: no run directory at/, 254],
  ['replay of a directory with no history', () => ['replay', recordedRun('no-history', false, { history: false })], /replay: .* has no history.jsonl/, 254],
  ['replay of a run without a recorded schedule', () => ['replay', recordedRun('no-schedule', false, { schedule: false })], /replay: .* has no schedule.json/, 254],
  ['replay without a run', () => ['replay'], /missing required argument 'run-dir'/, 254],
  ['shrink of a valid run', () => ['shrink', recordedRun('valid', true)], /shrink: .* is valid: there is no anomaly to keep/, 254],
  ['shrink of a run that was unknown', () => ['shrink', recordedRun('unknown', 'unknown')], /shrink: .* is unknown \(the history has no final snapshot\)/, 2],
  ['shrink keeping an anomaly the run does not show', () => ['shrink', recordedRun('invalid', false), '--anomaly', 'double-holder'], /shows stuck-acquire, not double-holder/, 254],
  ['shrink with a budget of zero', () => ['shrink', recordedRun('invalid-2', false), '--budget', '0'], /--budget.*'0'/, 254],
];

function expectOneLineRefusal(answer: { code: number; stderr: string; stdout: string }, says: RegExp, code = 254): void {
  const lines = answer.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, answer.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(says);
  expect(answer.stderr).not.toMatch(/^\s+at /m);
  expect(answer.stdout).toBe('');
  expect(answer.code).toBe(code);
}

describe('bad input to npm run jepsen', () => {
  it.each(RUN_CASES)('%s: exit 254, one line, nothing started', async (_what, flags, says) => {
    expectOneLineRefusal(await jepsen([...flags, '--results', results]), says);
    expect(existsSync(results)).toBe(false);
  });

  it.each(PATH_CASES)('%s: exit 254, one line', async (_what, path, says) => {
    expectOneLineRefusal(await jepsen(['--results', path]), says);
  });

  it.each(COMPARE_CASES)('%s: exit 254, one line, nothing started', async (_what, flags, says) => {
    const hasResults = flags.includes('--results');
    expectOneLineRefusal(await jepsen(hasResults ? flags : [...flags, '--results', results]), says);
    expect(existsSync(results)).toBe(false);
  });

  it.each(REPLAY_CASES)('%s: one line, nothing started', async (_what, args, says, code) => {
    const before = readdirSync(scratch).length;
    expectOneLineRefusal(await jepsen(args()), says, code);
    // Nothing but the fixture the case made: no replay or shrink directory.
    expect(readdirSync(scratch).length).toBeLessThanOrEqual(before + 1);
  });

  it('reaches the shell as exit 254 when run as a program', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cli.ts'), '--worker', '', '--results', results], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr.trim()).toBe('jepsen: --worker is empty; give the command that starts your worker.');
    expect(result.status).toBe(254);
  });
});

/**
 * WorkerProcess against a scripted worker (plain Node, no ZooKeeper): what the runner relies on when a worker
 * misbehaves — answers out of order, malformed answers, crashes, stops, a missing program.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_PROTOCOL_VERSION } from './protocol.ts';
import { WorkerProcess } from './worker-process.ts';

/** Behaviour by lock name, so each test picks what the worker does. */
const SCRIPTED_WORKER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
const say = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
if (process.env.IGNORE_EOF) setInterval(() => {}, 1000);
rl.on('line', (line) => {
  const r = JSON.parse(line);
  if (r.type === 'init') { say({ type: 'event', client: r.clients[0], event: 'connected', session: '0x1' }); return say({ in_reply_to: r.id, type: 'init_ok' }); }
  const ok = { in_reply_to: r.id, type: 'ok', token: r.id, node: '/l/n', session: '0x1' };
  switch (r.lock) {
    case 'slow': return setTimeout(() => say(ok), 300);
    case 'no-token': return say({ in_reply_to: r.id, type: 'ok', node: '/l/n', session: '0x1' });
    case 'chatty': process.stdout.write('a log line on stdout\\n'); return say(ok);
    case 'hang': return;
    case 'crash': process.stderr.write('dying now\\n'); return process.exit(3);
    default: return say(ok);
  }
});`;

const acquire = (lock: string) => ({ type: 'acquire' as const, client: 'c1', lock, mode: 'try' as const });

describe('WorkerProcess', () => {
  let logDir: string;
  const started: WorkerProcess[] = [];
  beforeAll(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'zkj-worker-process-'));
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((worker) => worker.stop(500)));
  });
  afterAll(() => rm(logDir, { recursive: true, force: true }));

  async function start(env: NodeJS.ProcessEnv = {}, command: readonly string[] = ['node', '-e', SCRIPTED_WORKER]): Promise<WorkerProcess> {
    const worker = WorkerProcess.spawn({ name: `w${started.length + 1}`, command, logFile: join(logDir, `w${started.length + 1}.log`), env: { ...process.env, ...env } });
    started.push(worker);
    return worker;
  }

  const init = (worker: WorkerProcess) =>
    worker.init({ type: 'init', protocolVersion: WORKER_PROTOCOL_VERSION, connect: 'unused:1', sessionTimeoutMs: 1000, clients: ['c1'], lockRoot: '/l', options: {} });

  it('pairs answers with requests, even out of order, and delivers events', async () => {
    const worker = await start();
    const events: unknown[] = [];
    worker.onEvent((event) => events.push(event));
    expect((await init(worker)).type).toBe('init_ok');
    expect(worker.clients).toEqual(['c1']);
    expect(events).toEqual([{ type: 'event', client: 'c1', event: 'connected', session: '0x1' }]);
    const slow = worker.request(acquire('slow'));
    const fast = await worker.request(acquire('fast'));
    expect(fast.type).toBe('ok');
    expect((await slow).token).toBeLessThan(fast.token!);
  });

  it('turns a malformed answer or a stray stdout line into info and a reported violation, never a definite answer', async () => {
    const worker = await start();
    const violations: string[] = [];
    worker.onProtocolViolation((detail) => violations.push(detail));
    await init(worker);
    const answer = await worker.request(acquire('no-token'));
    expect(answer.type).toBe('info');
    expect(answer.error).toMatch(/malformed answer to acquire: token/);
    expect((await worker.request(acquire('chatty'))).type).toBe('ok');
    expect(violations).toHaveLength(2);
    expect(violations[1]).toMatch(/not JSON.*a log line on stdout/);
  });

  it('reports a crash: pending requests resolve as info "worker crashed", onExit says how, stderr is in the log', async () => {
    const worker = await start();
    const exits: string[] = [];
    worker.onExit((detail) => exits.push(detail));
    await init(worker);
    const hanging = worker.request(acquire('hang'));
    const crashing = worker.request(acquire('crash'));
    expect(await hanging).toMatchObject({ type: 'info', error: 'worker crashed' });
    expect(await crashing).toMatchObject({ type: 'info', error: 'worker crashed' });
    expect(exits).toEqual(['exit code 3: dying now']);
    expect(worker.alive).toBe(false);
    expect(await worker.request(acquire('fast'))).toMatchObject({ type: 'info', error: 'worker crashed' });
    expect(await readFile(join(logDir, 'w1.log'), 'utf8')).toContain('dying now');
  });

  it('pauses and resumes the worker as a unit with SIGSTOP and SIGCONT', async () => {
    const worker = await start();
    await init(worker);
    worker.signal('SIGSTOP');
    let answeredAt: number | undefined;
    const pending = worker.request(acquire('fast')).then((answer) => ((answeredAt = performance.now()), answer));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(answeredAt).toBeUndefined();
    const resumedAt = performance.now();
    worker.signal('SIGCONT');
    expect((await pending).type).toBe('ok');
    expect(answeredAt!).toBeGreaterThanOrEqual(resumedAt);
  });

  it('stop() kills a worker that ignores the end of its stdin, and a paused one', async () => {
    const stubborn = await start({ IGNORE_EOF: '1' });
    await init(stubborn);
    const stoppedAt = performance.now();
    await stubborn.stop(500);
    expect(stubborn.alive).toBe(false);
    expect(performance.now() - stoppedAt).toBeLessThan(5_000);

    const paused = await start({ IGNORE_EOF: '1' });
    await init(paused);
    paused.signal('SIGSTOP');
    await paused.stop(500);
    expect(paused.alive).toBe(false);
  });

  it('reports a program that cannot start', async () => {
    const worker = await start({}, ['/nonexistent/worker-program']);
    const exits: string[] = [];
    worker.onExit((detail) => exits.push(detail));
    expect(await init(worker)).toMatchObject({ type: 'info', error: 'worker crashed' });
    expect(exits[0]).toMatch(/could not start \/nonexistent\/worker-program: .*ENOENT/);
  });
});

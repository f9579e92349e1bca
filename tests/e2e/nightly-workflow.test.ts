/**
 * The nightly workflow as far as it runs off GitHub: its shell steps, read from .github/workflows/nightly.yml and
 * run in order as GitHub runs them (bash -eo pipefail, the workspace as working directory, a step summary file per
 * step), in a privileged container of the project's own Debian bookworm image (zk-lock-jepsen/base:bookworm, made
 * by `npm run images` without a registry), from a clean `git clone` of this checkout's HEAD, with a tiny matrix
 * (node-safe × lost-delete × try-lock, 5 s). Two nights: the second is compared with the first, as the cache
 * restore step gives it the nights kept so far; it runs from the nightly step on, in a workspace cleaned of all
 * but the nights and node_modules (the steps before it were the first night's, and would install the same). The `uses:` steps: checkout is the clone, mounted where GitHub
 * puts the workspace; setup-node is the host's Node 20 mounted at /opt/node, what that action puts on PATH (the
 * image has no Node, and Debian's is 18); the rest exist only on GitHub and are checked against GitHub's workflow
 * schema by src/nightly-workflow.test.ts. Needs a Docker daemon, root, and Debian's archive and the npm registry
 * reachable from containers; skipped, saying why, without a daemon.
 * Privileged means every capability: a machine whose own bounding set lacks one (these lack CAP_SYS_RESOURCE)
 * cannot start a --privileged container ("unable to apply caps"), so there the container gets every capability
 * the machine has, with no seccomp, AppArmor or masked system paths, which is what the local backend needs of it.
 * The machine's extra TLS trust (NODE_EXTRA_CA_CERTS: here the registry is reached through a proxy with a local
 * CA) goes into the container too; on GitHub there is none.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient, dockerDaemonAnswers } from '../../cluster/docker-client.ts';
import { buildImages, DEBOOTSTRAP_BASE_IMAGE, imageExists } from '../../cluster/docker-images.ts';
import type { CompareDocument } from '../../src/compare-summary.ts';
import type { NightsIndex } from '../../src/nights.ts';
import { actionName, readWorkflow, type WorkflowStep } from '../../src/nightly-workflow.ts';
import { REPO } from './harness.ts';

const LABEL = 'zk-lock-jepsen.test';
const LABEL_VALUE = 'nightly-workflow';
/** Where GitHub mounts the workspace and its temp directory in a container job. */
const WORKSPACE = '/__w/zk-lock-jepsen/zk-lock-jepsen';
const RUNNER_TEMP = '/__w/_temp';
const NODE_HOME = '/opt/node';
const HOST_EXTRA_CA = process.env['NODE_EXTRA_CA_CERTS'];
const EXTRA_CA = '/opt/host-ca/extra-ca.crt';
const TINY_MATRIX = { NIGHTLY_RECIPES: 'node-safe', NIGHTLY_SCENARIOS: 'lost-delete', NIGHTLY_WORKLOADS: 'try-lock', NIGHTLY_TIME_LIMIT: '5' };
/** What the steps may take here: apt-get and npm ci fetch from the archive and the registry. */
const STEP_BOUND_MS = 900_000;
const LOGS = join(REPO, 'test-output', 'nightly-workflow');

/** The actions this test stands in for, and those only GitHub can run (their inputs are checked by the schema test). */
const STOOD_IN_FOR = ['actions/checkout', 'actions/setup-node'];
const GITHUB_ONLY = ['actions/cache/restore', 'actions/cache/save', 'mikepenz/action-junit-report', 'actions/upload-pages-artifact'];

/** Linux's capabilities by number (linux/capability.h), as Docker names them. */
const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
];

/** --privileged where this machine has every capability; else all it has, unconfined (see above). */
function privileged(): Docker.HostConfig {
  const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const missing = CAPABILITIES.filter((_, bit) => (bounding & (1n << BigInt(bit))) === 0n);
  if (missing.length === 0) return { Privileged: true };
  return { CapAdd: ['ALL'], CapDrop: missing, SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'], MaskedPaths: [], ReadonlyPaths: [] };
}

const daemonAnswers = await dockerDaemonAnswers();
const { workflow } = readWorkflow();
const steps = workflow.jobs['compare']!.steps;

interface StepOutcome {
  label: string;
  code: number;
  seconds: number;
  log: string;
  output: string;
}

/** Runs a script as a `run:` step of a GitHub container job runs it; its output goes to test-output/ and back. */
async function runStep(container: Docker.Container, label: string, script: string, env: Record<string, string>): Promise<StepOutcome> {
  const started = Date.now();
  const log = join(LOGS, `${label.replace(/[^\w.-]+/g, '-')}.log`);
  const file = createWriteStream(log);
  const exec = await container.exec({
    Cmd: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', script],
    Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    WorkingDir: WORKSPACE,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  let output = '';
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    file.write(chunk);
  });
  dockerClient().modem.demuxStream(stream, sink, sink);
  await once(stream, 'end');
  file.end();
  const { ExitCode } = await exec.inspect();
  return { label, code: ExitCode ?? -1, seconds: (Date.now() - started) / 1000, log, output };
}

const tail = (text: string): string => text.split('\n').slice(-40).join('\n');

describe.skipIf(!daemonAnswers)(`the nightly workflow's shell steps in a Debian container${daemonAnswers ? '' : ' (skipped: no Docker daemon answers; npm run setup -- docker starts one)'}`, () => {
  let scratch: string;
  let container: Docker.Container;
  const outcomes: StepOutcome[] = [];
  /** GitHub's environment of a container job, plus the setup-node step's PATH once it has run. */
  const env: Record<string, string> = {
    CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: WORKSPACE, RUNNER_TEMP, HOME: '/github/home',
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...TINY_MATRIX,
    ...(HOST_EXTRA_CA === undefined ? {} : { NODE_EXTRA_CA_CERTS: EXTRA_CA }),
  };
  const results = (): string => join(scratch, 'workspace', 'results', 'nightly');
  const nights = (): string[] => readdirSync(results()).filter((name) => name.startsWith('compare-')).sort();

  /** Every step in order from `first`: `run:` steps run, the two stood-in actions are stood in for, GitHub-only ones skipped. */
  async function runJob(night: number, first = 0): Promise<void> {
    for (const [index, step] of steps.entries()) {
      if (index < first) continue;
      const label = `night${night}-${index + 1}-${step.name ?? step.uses ?? step.run!.split('\n')[0]}`;
      if (step.run !== undefined) {
        // Nothing here evaluates expressions: a conditional or custom-shell step would be run wrongly.
        expect(step.if ?? step.shell ?? step['working-directory'], `${label}: only plain run steps are run here`).toBeUndefined();
        const summary = `${RUNNER_TEMP}/_runner_file_commands/step_summary_night${night}_${index + 1}`;
        const outcome = await runStep(container, label, step.run, { ...env, ...step.env, GITHUB_STEP_SUMMARY: summary });
        outcomes.push(outcome);
        expect(outcome.code, `${label} exited ${outcome.code}; ${outcome.log}:\n${tail(outcome.output)}`).toBe(0);
        continue;
      }
      const action = actionName(step.uses!);
      if (action === 'actions/setup-node') await standInForSetupNode(step);
      else expect([...STOOD_IN_FOR, ...GITHUB_ONLY], `${step.uses}: a step this test does not know`).toContain(action);
    }
  }

  /** The host's Node 20 and npm, mounted at /opt/node, on PATH; node-gyp compiles against its headers there. */
  async function standInForSetupNode(step: WorkflowStep): Promise<void> {
    const outcome = await runStep(container, 'setup-node', `ln -sf ../lib/node_modules/npm/bin/npm-cli.js ${NODE_HOME}/bin/npm && ln -sf ../lib/node_modules/npm/bin/npx-cli.js ${NODE_HOME}/bin/npx && ${NODE_HOME}/bin/node --version`, env);
    expect(outcome.code, outcome.output).toBe(0);
    expect(outcome.output.trim()).toMatch(new RegExp(`^v${step.with!['node-version']}\\.`));
    env['PATH'] = `${NODE_HOME}/bin:${env['PATH']}`;
    // The host's npm is configured with its own headers; in the container they are the mounted ones.
    env['npm_config_nodedir'] = NODE_HOME;
  }

  beforeAll(async () => {
    const docker = dockerClient();
    // A container an interrupted run of this test left behind.
    for (const info of await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${LABEL_VALUE}`] } })) {
      await docker.getContainer(info.Id).remove({ force: true });
    }
    if (!(await imageExists(DEBOOTSTRAP_BASE_IMAGE))) await buildImages({ log: (line) => console.log(`images: ${line}`) });
    mkdirSync(LOGS, { recursive: true });
    scratch = await mkdtemp(join(tmpdir(), 'nightly-workflow-'));
    // A clean checkout of what is committed, as actions/checkout makes one: nothing of this working tree comes along.
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO, join(scratch, 'workspace')]);
    execFileSync('git', ['-C', join(scratch, 'workspace'), 'checkout', '--quiet', '--detach', head]);
    mkdirSync(join(scratch, 'temp', '_runner_file_commands'), { recursive: true });
    container = await docker.createContainer({
      Image: DEBOOTSTRAP_BASE_IMAGE,
      Cmd: ['sleep', 'infinity'],
      Labels: { [LABEL]: LABEL_VALUE },
      HostConfig: {
        ...privileged(),
        Binds: [
          `${join(scratch, 'workspace')}:${WORKSPACE}`,
          `${join(scratch, 'temp')}:${RUNNER_TEMP}`,
          `${process.execPath}:${NODE_HOME}/bin/node:ro`,
          `${join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm')}:${NODE_HOME}/lib/node_modules/npm:ro`,
          `${join(process.execPath, '..', '..', 'include', 'node')}:${NODE_HOME}/include/node:ro`,
          ...(HOST_EXTRA_CA === undefined ? [] : [`${HOST_EXTRA_CA}:${EXTRA_CA}:ro`]),
          // This machine's package caches, as GitHub's runners keep theirs warm: what apt and npm fetch, not what
          // they install (every job still installs from nothing).
          '/var/cache/apt/archives:/var/cache/apt/archives',
          `${join(homedir(), '.npm', '_cacache')}:/root/.npm/_cacache`,
        ],
      },
    });
    await container.start();
  }, 600_000);

  afterAll(async () => {
    await container?.remove({ force: true });
    if (scratch !== undefined) {
      // The nights as they ended (runs, logs, reports) stay for a look: test-output/ is not committed.
      await rm(join(LOGS, 'nightly'), { recursive: true, force: true });
      if (existsSync(results())) await cp(results(), join(LOGS, 'nightly'), { recursive: true });
      await rm(scratch, { recursive: true, force: true });
    }
    if (outcomes.length > 0) {
      console.log(`nightly workflow steps (s):\n${outcomes.map((outcome) => `  ${outcome.seconds.toFixed(1).padStart(7)}  ${outcome.label}`).join('\n')}\n  ${outcomes.reduce((sum, outcome) => sum + outcome.seconds, 0).toFixed(1).padStart(7)}  in all`);
    }
  }, 120_000);

  it('night 1: from a clean checkout, every shell step succeeds and the night is compared, reported and indexed', async () => {
    expect(existsSync(join(scratch, 'workspace', 'node_modules'))).toBe(false);
    await runJob(1);
    expect(nights()).toHaveLength(1);
    const [night] = nights();
    const document = JSON.parse(readFileSync(join(results(), night!, 'compare.json'), 'utf8')) as CompareDocument;
    expect(document).toMatchObject({ version: 2, complete: true, baseline: null, recipes: ['node-safe'], workloads: ['try-lock'] });
    expect(document.cells).toMatchObject([{ recipe: 'node-safe', scenario: 'lost-delete', tally: { crashed: 0 } }]);

    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) })
      .parse(readFileSync(join(results(), 'junit.xml'), 'utf8')) as { testsuites: { tests: string; testsuite: { name: string; testcase: { name: string }[] }[] } };
    expect(junit.testsuites.testsuite.map((suite) => suite.name)).toEqual(['node-safe · try-lock · lost-delete']);
    expect(junit.testsuites.testsuite[0]!.testcase.map((testcase) => testcase.name)).toEqual(['mutex', 'leaks', 'liveness', 'fencing', 'leader', 'semaphore']);

    const index = JSON.parse(readFileSync(join(results(), 'nights.json'), 'utf8')) as NightsIndex;
    expect(index.nights.map((entry) => entry.id)).toEqual([night]);
    // The published directory holds no link and no ZooKeeper data directory.
    expect(execFileSync('find', [results(), '-type', 'l'], { encoding: 'utf8' })).toBe('');
    expect(execFileSync('find', [results(), '-path', '*/nodes/*/data'], { encoding: 'utf8' })).toBe('');

    const nightlyStep = steps.findIndex((step) => step.run === 'scripts/nightly.sh') + 1;
    const summary = readFileSync(join(scratch, 'temp', '_runner_file_commands', `step_summary_night1_${nightlyStep}`), 'utf8');
    expect(summary).toMatch(/^### zk-lock-jepsen compare: 1 recipe × 1 scenario × 1 workload × 1 run: /);
  }, 3 * STEP_BOUND_MS);

  it('night 2: compared with the night before, both nights on the trend page', async () => {
    const [first] = nights();
    // A new job: a clean checkout again but for node_modules, which the first night's steps installed, and what the
    // cache restore step brings back, results/nightly; then the steps from the nightly one on.
    execFileSync('git', ['-C', join(scratch, 'workspace'), 'clean', '-ffdxq', '-e', '/results/nightly/', '-e', '/node_modules/']);
    await runJob(2, steps.findIndex((step) => step.run === 'scripts/nightly.sh'));
    const second = nights().find((name) => name !== first)!;
    expect(nights()).toEqual([first, second]);
    const nightly = outcomes.find((outcome) => outcome.label.startsWith('night2-') && outcome.output.includes('nightly: comparing with'))!;
    expect(nightly.output).toContain(`nightly: comparing with results/nightly/${first}/compare.json`);
    expect(nightly.output).toMatch(new RegExp(`compare: since ${first}: (no cell changed|1 cell changed)`));
    const document = JSON.parse(readFileSync(join(results(), second, 'compare.json'), 'utf8')) as CompareDocument;
    expect(document.baseline).toMatchObject({ id: first, document: `../${first}/compare.json`, version: 2 });
    const index = JSON.parse(readFileSync(join(results(), 'nights.json'), 'utf8')) as NightsIndex;
    expect(index.nights.map((entry) => [entry.id, entry.kept, entry.baseline])).toEqual([[second, true, first], [first, true, null]]);
    const page = readFileSync(join(results(), 'index.html'), 'utf8');
    expect([...page.matchAll(/<tr data-night="([^"]+)">/g)].map((row) => row[1])).toEqual([second, first]);
    for (const night of [first, second]) expect(page).toMatch(new RegExp(`<a href="${night}/runs/[^"]+/report\\.html">`));
  }, 2 * STEP_BOUND_MS);
});

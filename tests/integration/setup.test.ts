/**
 * scripts/setup.sh decides by what answers, not by what is on PATH. Here: a daemon already running (this machine
 * after its own set-up) costs nothing and says nothing; in a container of the project's own Debian image, a machine
 * with a `docker` client, no daemon and no dockerd, where no daemon can start (no privileges for its network),
 * setup installs docker.io with the rest, says in one line that dockerd could not start, and goes on (exit 0).
 * The docker tests' skip line then says why.
 * The containers share this machine's apt archive, so packages are unpacked, not downloaded again.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEBOOTSTRAP_BASE_IMAGE, dockerUnavailableReason } from '../../cluster/docker-images.ts';

const REPO = join(import.meta.dirname, '..', '..');
const exec = promisify(execFile);
const dockerSkipReason = await dockerUnavailableReason();
const CONTAINER_BOUND_MS = 600_000;

interface SetupOutcome {
  code: number;
  /** stderr, where setup says what it did, a line each. */
  lines: string[];
}

async function command(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(args[0]!, args.slice(1), { cwd: REPO, env, maxBuffer: 16 << 20 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: Number(error.code ?? 1), stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

async function setup(args: string[]): Promise<SetupOutcome> {
  const { code, stderr } = await command(args);
  return { code, lines: stderr.split('\n').filter((line) => line.trim() !== '') };
}

/** setup.sh in a fresh container of the base image: the repository read-only, this machine's apt archive shared. */
function inContainer(purpose: string): Promise<SetupOutcome> {
  return setup([
    'docker', 'run', '--rm', '-v', `${REPO}:/repo:ro`, '-v', '/var/cache/apt/archives:/var/cache/apt/archives',
    // The client only, as the machines of this project's CI ship it.
    '-v', '/usr/local/bin/docker:/usr/local/bin/docker:ro',
    DEBOOTSTRAP_BASE_IMAGE, 'bash', '/repo/scripts/setup.sh', purpose,
  ]);
}

describe('scripts/setup.sh', () => {
  it.skipIf(dockerSkipReason !== undefined)('with everything installed and a daemon running: exit 0, not a line, in well under a second', async () => {
    const started = performance.now();
    expect(await setup(['bash', 'scripts/setup.sh', 'test'])).toEqual({ code: 0, lines: [] });
    console.log(`measure: setup with everything there: ${Math.round(performance.now() - started)} ms`);
  });

  it('refuses an unknown purpose with one line and exit 2', async () => {
    const outcome = await setup(['bash', 'scripts/setup.sh', 'everything']);
    expect(outcome).toEqual({ code: 2, lines: ["setup: unknown purpose 'everything' (expected run, test, docker or hosts)"] });
  });

  describe.skipIf(dockerSkipReason !== undefined)(`on other machines${dockerSkipReason === undefined ? '' : ` (${dockerSkipReason})`}`, () => {
    beforeAll(async () => {
      // The image the docker backend builds on: Debian bookworm with a JRE and ZooKeeper, no Docker, no Chromium.
      await exec('docker', ['image', 'inspect', DEBOOTSTRAP_BASE_IMAGE]);
    });

    it('a docker client and no daemon, where none can start: test installs docker.io and the rest, says why in one line, exits 0', async () => {
      const { code, lines } = await inContainer('test');
      expect(lines[0]).toMatch(/^setup: installed .*\bchromium\b.*\bdocker\.io\b.* in \d+ s$/);
      expect(lines[1]).toMatch(/^setup: dockerd could not start \(.+; log \/var\/log\/zk-lock-jepsen-dockerd\.log\); the docker tests will skip$/);
      expect(lines).toHaveLength(2);
      expect(code).toBe(0);
    }, CONTAINER_BOUND_MS);
  });

  it('the docker tests skip with one line that says why when no daemon answers', async () => {
    const { code, stdout } = await command(['npx', 'vitest', 'run', 'tests/integration/zookeeper-versions.test.ts', '-t', 'docker backend', '--reporter=verbose'],
      { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    const plain = stdout.replace(/\x1b\[[0-9;]*m/g, '');
    expect(code, plain).toBe(0);
    expect(plain).toMatch(/^ ↓ .*> docker cluster versions \(no Docker daemon answers[^)]*\)\) > runs each version on the docker backend$/m);
  });
});

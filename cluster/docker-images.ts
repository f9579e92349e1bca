/**
 * The docker backend's images, made without a registry (docs/environment.md, Docker): a Debian bookworm base from
 * `debootstrap --variant=minbase` plus the server's packages, turned into an image with `docker import`; then the
 * ZooKeeper server Dockerfile (cluster/images/zookeeper) built on top with BASE_IMAGE pointing at it.
 * Cache: the debootstrap is skipped when the base image exists; Docker's layer cache covers the rest.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { dockerClient, dockerDaemonAnswers } from './docker-client.ts';
import { ClusterError } from './errors.ts';
import { run } from './exec.ts';

export const DEBOOTSTRAP_BASE_IMAGE = 'zk-lock-jepsen/base:bookworm';
export const SERVER_IMAGE = 'zk-lock-jepsen/zookeeper:3.8';

const SERVER_CONTEXT = fileURLToPath(new URL('./images/zookeeper/', import.meta.url));
const SERVER_CONTEXT_FILES = ['Dockerfile', 'entrypoint.sh'];
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
/** Where scripts/setup.sh says why Docker cannot run on this machine. */
const SETUP_NOTE = '/run/zk-lock-jepsen/docker-unavailable';

export interface ImageOptions {
  /** The image the server Dockerfile builds on. Default: the debootstrapped base, made when missing. */
  baseImage?: string;
  /** Debootstrap the base again even though it exists. */
  rebuildBase?: boolean;
  log?: (line: string) => void;
}

export async function imageExists(name: string): Promise<boolean> {
  try {
    await dockerClient().getImage(name).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** Makes sure the server image is built from the current Dockerfile; returns its name. */
export async function buildImages(options: ImageOptions = {}): Promise<string> {
  const docker = dockerClient();
  const log = options.log ?? (() => {});
  const baseImage = options.baseImage ?? DEBOOTSTRAP_BASE_IMAGE;
  if (baseImage === DEBOOTSTRAP_BASE_IMAGE && (options.rebuildBase || !(await imageExists(baseImage)))) {
    await debootstrapBaseImage(docker, log);
  }
  log(`building ${SERVER_IMAGE} on ${baseImage}`);
  const stream = await docker.buildImage(
    { context: SERVER_CONTEXT, src: SERVER_CONTEXT_FILES },
    { t: SERVER_IMAGE, buildargs: { BASE_IMAGE: baseImage } },
  );
  await followBuild(docker, stream);
  return SERVER_IMAGE;
}

/** The package list lives once, in the Dockerfile's PACKAGES argument; the base gets the same packages. */
async function serverPackages(): Promise<string[]> {
  const dockerfile = await readFile(join(SERVER_CONTEXT, 'Dockerfile'), 'utf8');
  const match = /^ARG PACKAGES="([^"]+)"$/m.exec(dockerfile);
  if (!match) throw new Error(`${SERVER_CONTEXT}Dockerfile: no ARG PACKAGES="..." line`);
  return match[1]!.split(/\s+/);
}

async function debootstrapBaseImage(docker: Docker, log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new ClusterError(`building ${DEBOOTSTRAP_BASE_IMAGE} needs root (debootstrap); run npm run images as root`);
  }
  const root = await mkdtemp(join(tmpdir(), 'zk-lock-jepsen-rootfs-'));
  try {
    const packages = await serverPackages();
    log(`debootstrap bookworm with ${packages.join(', ')} (a minute or two)`);
    await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', root, DEBIAN_MIRROR]);
    // Package archives and lists are only weight in an image.
    await run('sh', ['-c', `rm -rf "${root}"/var/cache/apt/archives/*.deb "${root}"/var/lib/apt/lists/*`]);
    log(`docker import → ${DEBOOTSTRAP_BASE_IMAGE}`);
    const tar = spawn('tar', ['--numeric-owner', '-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErrors = '';
    tar.stderr.on('data', (chunk: Buffer) => (tarErrors += chunk.toString()));
    const [repo, tag] = DEBOOTSTRAP_BASE_IMAGE.split(':');
    const stream = await docker.importImage(tar.stdout, { repo, tag });
    await followBuild(docker, stream);
    const tarExit = await new Promise<number | null>((resolve) =>
      tar.exitCode !== null ? resolve(tar.exitCode) : tar.on('close', resolve),
    );
    if (tarExit !== 0) throw new Error(`tar of ${root} failed: ${tarErrors.trim()}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Waits for a build or import stream to end; a step that fails in it becomes one thrown line. */
async function followBuild(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  type ProgressEvent = { error?: string; errorDetail?: { message?: string } };
  const events = await new Promise<ProgressEvent[]>((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: ProgressEvent[]) =>
      error ? reject(error) : resolve(output),
    ),
  );
  const failure = events.find((event) => event.error !== undefined);
  if (failure) throw new ClusterError(`docker build failed: ${failure.errorDetail?.message ?? failure.error}`);
}

/**
 * Why the docker backend cannot run here, or undefined when it can: a daemon answers and the server image is built
 * from the current Dockerfile (Docker's layer cache makes that a second or two once the base exists).
 */
export async function dockerUnavailableReason(log?: (line: string) => void): Promise<string | undefined> {
  if (!(await dockerDaemonAnswers())) {
    // scripts/setup.sh leaves why it could not start one (a dockerd without the privileges it needs, say).
    const setupSays = (await readFile(SETUP_NOTE, 'utf8').catch(() => '')).trim();
    return `no Docker daemon answers${setupSays === '' ? ' (start one with: npm run setup -- docker)' : ` (${setupSays})`}`;
  }
  try {
    await buildImages(log === undefined ? {} : { log });
    return undefined;
  } catch (error) {
    return `the server image cannot be built: ${error instanceof Error ? error.message : String(error)}`;
  }
}

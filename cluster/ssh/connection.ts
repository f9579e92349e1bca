/**
 * One host over SSH, with OpenSSH's own client (`ssh`): it checks known_hosts as the user has set it up (and their
 * ~/.ssh/config: bastions, users, keys), never asks for a password (BatchMode), and notices a dead peer
 * (ServerAlive). Short commands share one master connection per host (ControlMaster), so each costs a channel, not
 * a handshake; long-lived channels (a worker, a proxy) get a connection of their own, so that no sshd's MaxSessions
 * limit caps them and their bytes are not queued behind each other in one process.
 *
 * The master runs `cat` on the host and reads the owner's pipe: when the owner dies by any means, the pipe closes,
 * the remote `cat` ends, and the master leaves once its last channel is gone. Nothing stays on this machine.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { quote } from 'shell-quote';
import { ClusterError } from '../errors.ts';
import type { SshTarget } from './target.ts';

export interface SshOptions {
  /** --ssh-key: the private key to offer (and only it); default: whatever ssh would offer. */
  keyFile?: string;
  /** --ssh-accept-new: take the key of a host not yet in known_hosts (a changed key is still refused). */
  acceptNew?: boolean;
}

/** How many short commands may share one master at once: below sshd's default MaxSessions of 10. */
const MAX_CHANNELS = 8;
const CONNECT_TIMEOUT_S = 10;

/** The options every ssh invocation here carries. */
export function sshArguments(target: SshTarget, options: SshOptions): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-o', `StrictHostKeyChecking=${options.acceptNew ? 'accept-new' : 'yes'}`,
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'LogLevel=ERROR',
    ...(options.keyFile === undefined ? [] : ['-i', options.keyFile, '-o', 'IdentitiesOnly=yes']),
    ...(target.user === undefined ? [] : ['-l', target.user]),
    '-p', String(target.port),
  ];
}

/** ssh's own failure (exit 255) as one line that says what to do. */
export function describeSshFailure(target: SshTarget, stderr: string): string {
  const said = stderr.trim().split('\n').filter((line) => line.trim() !== '').at(-1) ?? 'ssh failed';
  if (/Host key verification failed|No (ED25519|RSA|ECDSA)? ?host key is known/i.test(stderr)) {
    return `ssh ${target.spec}: its host key is not in known_hosts (or differs from it); check the key and add it ` +
      `(ssh-keyscan -p ${target.port} ${target.host} >> ~/.ssh/known_hosts), or pass --ssh-accept-new to take a new host's first key`;
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) {
    return `ssh ${target.spec}: its host key changed since known_hosts recorded it; if that is expected, ssh-keygen -R ${target.host}`;
  }
  if (/Permission denied/i.test(stderr)) return `ssh ${target.spec}: the key was refused (${said}); pass --ssh-key with a key authorised there`;
  if (/Identity file .* not accessible|Load key .*: (No such file|invalid format)/i.test(stderr)) return `ssh ${target.spec}: ${said}`;
  return `ssh ${target.spec}: cannot reach it (${said})`;
}

export class SshHost {
  private readonly controlPath: string;
  private master: ChildProcessWithoutNullStreams | undefined;
  private channels = 0;
  private readonly waiting: (() => void)[] = [];

  /** `controlDir`: a private directory of this process for the master's socket (short: a socket path has ~100 bytes). */
  constructor(readonly target: SshTarget, readonly options: SshOptions, controlDir: string) {
    mkdirSync(controlDir, { recursive: true, mode: 0o700 });
    this.controlPath = join(controlDir, target.label);
  }

  /** Whether the master connection is up (open succeeded, close not called). */
  get connected(): boolean {
    return this.master !== undefined && this.master.exitCode === null && this.master.signalCode === null;
  }

  /** Opens the master connection; rejects with one line (ClusterError) when the host cannot be reached or refuses. */
  async open(): Promise<void> {
    const master = spawn('ssh', [
      ...sshArguments(this.target, this.options),
      '-o', 'ControlMaster=yes', '-o', `ControlPath=${this.controlPath}`, '-o', 'ControlPersist=no',
      this.target.host, 'echo ready; exec cat >/dev/null',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.master = master;
    let stderr = '';
    master.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    await new Promise<void>((resolve, reject) => {
      master.stdout.setEncoding('utf8').once('data', () => resolve());
      master.once('error', (error) => reject(new ClusterError(`ssh ${this.target.spec}: cannot run ssh (${error.message}); install openssh-client`)));
      master.once('close', () => {
        this.master = undefined;
        reject(new ClusterError(describeSshFailure(this.target, stderr)));
      });
    });
  }

  /** Runs a shell script on the host and resolves with its stdout; a non-zero exit rejects with its last stderr line. */
  async exec(script: string, input?: Buffer | string | Readable): Promise<string> {
    await this.acquireChannel();
    try {
      const child = this.spawnShared(script);
      const stdout: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      child.stdin.on('error', () => {});
      if (input === undefined) child.stdin.end();
      else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
      else input.pipe(child.stdin);
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', resolve);
      });
      if (code === 255) throw new ClusterError(describeSshFailure(this.target, stderr));
      if (code !== 0) {
        const said = stderr.trim().split('\n').at(-1) ?? '';
        throw new ClusterError(`${this.target.spec}: ${said || `a command exited ${code}`}`);
      }
      return Buffer.concat(stdout).toString('utf8');
    } finally {
      this.releaseChannel();
    }
  }

  /** A channel over the shared master whose streams the caller reads (a tar of logs, say). */
  spawnShared(script: string): ChildProcessWithoutNullStreams {
    return spawn('ssh', [...this.sharedArguments(), this.target.host, quote(['sh', '-c', script])], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /**
   * A long-lived channel on a connection of its own (a worker, a proxy): stdin, stdout and stderr are the remote
   * command's. It ends when the remote command does, or when this process closes its stdin or dies.
   */
  spawnDedicated(script: string): ChildProcessWithoutNullStreams {
    const [program, ...args] = this.dedicatedCommand(script);
    return spawn(program!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** The argv of spawnDedicated, for a caller that spawns it itself (a worker process). */
  dedicatedCommand(script: string): string[] {
    return ['ssh', ...sshArguments(this.target, this.options), '-o', 'ControlMaster=no', '-o', 'ControlPath=none', this.target.host, quote(['sh', '-c', script])];
  }

  /** Makes 127.0.0.1:port on the host lead to 127.0.0.1:port here, for as long as the master lives. */
  async reverseForward(port: number): Promise<void> {
    await this.control(['-O', 'forward', '-R', `127.0.0.1:${port}:127.0.0.1:${port}`]);
  }

  /** Forwards a free loopback port here to 127.0.0.1:remotePort on the host; resolves with the local port. */
  async forward(remotePort: number): Promise<{ localPort: number; cancel: () => Promise<void> }> {
    for (let attempt = 1; ; attempt++) {
      const localPort = await freeLocalPort();
      const spec = `127.0.0.1:${localPort}:127.0.0.1:${remotePort}`;
      try {
        await this.control(['-O', 'forward', '-L', spec]);
        return { localPort, cancel: () => this.control(['-O', 'cancel', '-L', spec]).catch(() => undefined) };
      } catch (error) {
        // Another process may have taken the port between our probe and ssh's bind: take another.
        if (attempt >= 3) throw error;
      }
    }
  }

  /** Closes the master (its channels end with it). Safe to call twice. */
  async close(): Promise<void> {
    const master = this.master;
    this.master = undefined;
    if (master === undefined || master.exitCode !== null || master.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => master.once('close', () => resolve()));
    await this.control(['-O', 'exit']).catch(() => master.kill('SIGTERM'));
    await closed;
  }

  private sharedArguments(): string[] {
    return [...sshArguments(this.target, this.options), '-o', 'ControlMaster=no', '-o', `ControlPath=${this.controlPath}`];
  }

  private control(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', [...this.sharedArguments(), ...args, this.target.host], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new ClusterError(`ssh ${this.target.spec} ${args.join(' ')}: ${stderr.trim() || `exit ${code}`}`))));
    });
  }

  private async acquireChannel(): Promise<void> {
    if (this.master === undefined) throw new ClusterError(`ssh ${this.target.spec}: not connected`);
    while (this.channels >= MAX_CHANNELS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.channels += 1;
  }

  private releaseChannel(): void {
    this.channels -= 1;
    this.waiting.shift()?.();
  }
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The fault proxy's process: `node --import tsx nemesis/proxy/main.ts --servers 1=10.0.0.1:2181,2=... --log-file F
 * [--max-frame-bytes N]`. Prints one JSON line `{"controlPort":N}` on stdout once it listens, then serves the
 * control API (docs/proxy-api.md). It exits on SIGTERM or SIGINT, and when its parent (the controller) is gone.
 */
import { createWriteStream, openSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { ProxyEvent, ReadyLine } from './api.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './codec.ts';
import { ControlServer } from './control.ts';
import { FaultProxyServer, type ServerTarget } from './proxy.ts';

const USAGE_EXIT_CODE = 2;

function parseServers(text: string): Map<number, ServerTarget> {
  const servers = new Map<number, ServerTarget>();
  for (const entry of text.split(',')) {
    const match = /^(\d+)=([^:]+):(\d+)$/.exec(entry.trim());
    if (match === null) throw new InvalidArgumentError(`'${entry}' is not id=host:port`);
    const [, id, host, port] = match;
    if (Number(port) < 1 || Number(port) > 65_535) throw new InvalidArgumentError(`port ${port} out of range`);
    servers.set(Number(id), { host: host!, port: Number(port) });
  }
  return servers;
}

function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(`'${text}' is not a positive integer`);
  return value;
}

const options = new Command('proxy')
  .description('ZooKeeper-aware fault proxy between client hosts and servers')
  .requiredOption('--servers <list>', 'server id=host:port, comma separated', parseServers)
  .requiredOption('--log-file <path>', 'where the proxy logs every event and every error')
  .option('--max-frame-bytes <n>', 'frames longer than this are malformed', parsePositiveInteger, DEFAULT_MAX_FRAME_BYTES)
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `proxy: ${text}` : text) })
  .showHelpAfterError(false);

try {
  options.parse();
} catch (error) {
  process.exit((error as { exitCode?: number }).exitCode === 0 ? 0 : USAGE_EXIT_CODE);
}
const { servers, logFile, maxFrameBytes } = options.opts<{ servers: Map<number, ServerTarget>; logFile: string; maxFrameBytes: number }>();

let logFd: number;
try {
  logFd = openSync(logFile, 'a');
} catch (error) {
  process.stderr.write(`proxy: cannot open the log file ${logFile}: ${(error as Error).message}\n`);
  process.exit(1);
}
const logStream = createWriteStream('', { fd: logFd });
logStream.on('error', (error) => process.stderr.write(`proxy: cannot write the log file ${logFile}: ${error.message}\n`));
const log = (message: string): void => {
  logStream.write(`${new Date().toISOString()} ${message}\n`);
};

const proxy = new FaultProxyServer({
  servers,
  maxFrameBytes,
  log,
  emit: (fields) => {
    const event = { monotonicNs: process.hrtime.bigint().toString(), ...fields } as ProxyEvent;
    log(JSON.stringify(event));
    control.publish(event);
  },
});
const control = new ControlServer(proxy);

// A bug must not take every client connection down with it: log it and keep serving.
process.on('uncaughtException', (error) => log(`uncaught: ${error.stack ?? error.message}`));

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`shutting down: ${reason}`);
  await proxy.close();
  await control.close();
  await new Promise<void>((resolve) => logStream.end(resolve));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// An orphan proxy would hold its ports forever: once the controller is gone (even by SIGKILL), leave.
const controllerPid = process.ppid;
setInterval(() => {
  if (process.ppid !== controllerPid) void shutdown(`controller ${controllerPid} is gone`);
}, 500).unref();

const controlPort = await control.listen();
log(`listening: control on 127.0.0.1:${controlPort}, servers ${[...servers].map(([id, s]) => `${id}=${s.host}:${s.port}`).join(',')}`);
const ready: ReadyLine = { controlPort };
process.stdout.write(`${JSON.stringify(ready)}\n`);

/**
 * The fault proxy's process, a Toxiproxy-compatible server: `npm run proxy -- [--api HOST:PORT] [--seed N]
 * [--log-file F] [--max-frame-bytes N] [--exit-with-parent]`. Serves Toxiproxy's HTTP API v2 and this project's
 * extensions (docs/proxy-api.md) on --api (default 127.0.0.1:8474; port 0: any free port). Prints one JSON line
 * `{"api":"127.0.0.1:8474","port":8474,"seed":N}` on stdout once it listens. Exits on SIGTERM or SIGINT, and with
 * --exit-with-parent also once the process that started it is gone.
 */
import { createWriteStream, openSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT } from '../../ground/errors.ts';
import { createRandom } from '../../ground/random.ts';
import { DEFAULT_API_ADDRESS, type ReadyLine, type ServerEvent } from './api.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './codec.ts';
import { ProxyServer } from './collection.ts';
import { ControlServer } from './control.ts';

function parseApiAddress(text: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text.trim());
  if (match === null || Number(match[2]) > 65_535) throw new InvalidArgumentError(`'${text}' is not HOST:PORT`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

function parseInteger(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new InvalidArgumentError(`'${text}' is not a whole number from ${min} to ${max}`);
    return value;
  };
}

const command = new Command('proxy')
  .description("the fault proxy: Toxiproxy's HTTP API v2 and toxics, plus ZooKeeper-aware ones (docs/proxy-api.md)")
  .addOption(new Option('--api <host:port>', 'where the HTTP API listens (port 0: any free port)').argParser(parseApiAddress).default(parseApiAddress(DEFAULT_API_ADDRESS), DEFAULT_API_ADDRESS))
  .option('--seed <n>', 'seed of the random stream toxicity, jitter and slice sizes are drawn from (default: a random one, printed)', parseInteger(0, 2 ** 31 - 1))
  .option('--log-file <path>', 'append every event and error here (default: stderr)')
  .option('--max-frame-bytes <n>', 'a ZooKeeper frame announcing more is not parsed (the connection passes unparsed)', parseInteger(1, 2 ** 31 - 1), DEFAULT_MAX_FRAME_BYTES)
  .option('--exit-with-parent', 'exit once the process that started this one is gone')
  .allowExcessArguments(false)
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `proxy: ${text}` : text) });

try {
  command.parse();
} catch (error) {
  process.exit((error as { exitCode?: number }).exitCode === 0 ? 0 : EXIT.badArguments);
}
const options = command.opts<{ api: { host: string; port: number }; seed?: number; logFile?: string; maxFrameBytes: number; exitWithParent?: boolean }>();
const seed = options.seed ?? randomInt(0, 2 ** 31 - 1);

let logStream: NodeJS.WritableStream = process.stderr;
if (options.logFile !== undefined) {
  try {
    logStream = createWriteStream('', { fd: openSync(options.logFile, 'a') });
  } catch (error) {
    process.stderr.write(`proxy: cannot open the log file ${options.logFile}: ${(error as Error).message}\n`);
    process.exit(EXIT.environment);
  }
  logStream.on('error', (error: Error) => process.stderr.write(`proxy: cannot write the log file ${options.logFile}: ${error.message}\n`));
}
const log = (message: string): void => {
  logStream.write(`${new Date().toISOString()} ${message}\n`);
};

const random = createRandom(seed);
const proxies = new ProxyServer({
  maxFrameBytes: options.maxFrameBytes,
  random: () => random.float(),
  log,
  emit: (fields) => {
    const event = { monotonicNs: process.hrtime.bigint().toString(), ...fields } as ServerEvent;
    log(JSON.stringify(event));
    control.publish(event);
  },
});
const control = new ControlServer(proxies, log);

// A bug must not take every client connection down with it: log it and keep serving.
process.on('uncaughtException', (error) => log(`uncaught: ${error.stack ?? error.message}`));

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`shutting down: ${reason}`);
  await proxies.close();
  await control.close();
  if (logStream !== process.stderr) await new Promise<void>((resolve) => logStream.end(resolve));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
if (options.exitWithParent === true) {
  // An orphan proxy would hold its ports forever: once the controller is gone (even by SIGKILL), leave.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown(`parent ${parent} is gone`);
  }, 500).unref();
}

let port: number;
try {
  port = await control.listen(options.api.host, options.api.port);
} catch (error) {
  process.stderr.write(`proxy: cannot listen on ${options.api.host}:${options.api.port}: ${(error as Error).message}\n`);
  process.exit(EXIT.environment);
}
const api = `${options.api.host.includes(':') ? `[${options.api.host}]` : options.api.host}:${port}`;
log(`listening: API on ${api}, seed ${seed}`);
const ready: ReadyLine = { api, port, seed };
process.stdout.write(`${JSON.stringify(ready)}\n`);

/**
 * `npm run serve -- [dir] [--port n]`: serves results/ (reports, histories, logs) on 127.0.0.1 only, read-only.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT } from '../ground/errors.ts';
import { escapeHtml } from './report/html.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

export interface ResultsServer {
  url: string;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

async function listing(response: ServerResponse, directory: string, urlPath: string): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true });
  const base = urlPath.endsWith('/') ? urlPath : `${urlPath}/`;
  const items = entries
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((entry) => {
      const name = entry.name + (entry.isDirectory() ? '/' : '');
      return `<li><a href="${escapeHtml(base + encodeURIComponent(entry.name) + (entry.isDirectory() ? '/' : ''))}">${escapeHtml(name)}</a></li>`;
    });
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end(`<!doctype html><meta charset="utf-8"><title>${escapeHtml(urlPath)}</title><h1>${escapeHtml(urlPath)}</h1><ul>${items.join('')}</ul>\n`);
}

export async function startServer(rootDir: string, port: number): Promise<ResultsServer> {
  const root = await realpath(resolve(rootDir));
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'read-only');
      const urlPath = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
      // Symlinks (results/latest) are followed, but nothing outside results/ is ever served.
      const target = await realpath(join(root, urlPath)).catch(() => undefined);
      if (target === undefined || (target !== root && !target.startsWith(root + sep))) return send(response, 404, 'not found');
      const info = await stat(target);
      if (info.isDirectory()) {
        const index = join(target, urlPath === '/' ? 'index.html' : 'report.html');
        if (await stat(index).then((file) => file.isFile(), () => false)) {
          response.writeHead(200, { 'content-type': CONTENT_TYPES['.html']! });
          createReadStream(index).pipe(response);
          return;
        }
        return listing(response, target, urlPath);
      }
      // Histories and logs are text; anything unknown is shown as text rather than downloaded.
      response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(target)] ?? 'text/plain; charset=utf-8', 'content-length': info.size });
      if (request.method === 'HEAD') return response.end();
      createReadStream(target).pipe(response);
    })().catch((error: unknown) => send(response, 500, error instanceof Error ? error.message : String(error)));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise((resolveClose) => {
      server.closeAllConnections();
      server.close(() => resolveClose());
    }),
  };
}

function portNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535) throw new InvalidArgumentError('expected a port from 0 to 65535.');
  return value;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('serve')
    .description('serve the results directory on 127.0.0.1 for browsing reports')
    .argument('[dir]', 'results directory', 'results')
    .option('--port <n>', 'port (0: any free one)', portNumber, 8080)
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT.badArguments;
    throw error;
  }
  const dir = program.args[0] ?? 'results';
  if (!(await stat(dir).then((info) => info.isDirectory(), () => false))) {
    console.error(`serve: ${dir} is not a directory`);
    return EXIT.badArguments;
  }
  try {
    const server = await startServer(dir, program.opts<{ port: number }>().port);
    console.log(`serving ${resolve(dir)} at ${server.url} (Ctrl-C to stop)`);
    await new Promise<void>((stop) => process.once('SIGINT', stop));
    await server.close();
    return 0;
  } catch (error) {
    console.error(`serve: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.environment;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main(process.argv.slice(2));

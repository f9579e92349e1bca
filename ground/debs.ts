/**
 * Debian packages newer than the machine's own (kazoo 2.11.0, Curator 5.7.1, ZooKeeper 3.9.6), fetched with apt
 * from Debian's archive into the project's cache and unpacked there, never installed. apt runs with a private
 * configuration under the cache (its own sources.list naming trixie and forky, its own state, lists and archives),
 * so the system's apt state is untouched. Each package lands in `<cache>/unpacked/<name>_<version>/` as
 * `dpkg-deb -x` lays it out (usr/share/java/..., usr/lib/python3/dist-packages/...).
 *
 * Fetching is idempotent: a package already unpacked costs one stat; only missing ones reach apt. Concurrent
 * fetches are safe: apt runs under flock, and each package is unpacked aside and renamed into place.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError } from './errors.ts';

export interface DebianPackage {
  name: string;
  /** The upstream version (Debian's version before the revision): any Debian revision of it will do. */
  version: string;
}

export const DEBS_CACHE = fileURLToPath(new URL('../.cache/debs/', import.meta.url));

/** The suites that hold the versions we want: Curator 5.7.1 is in trixie; kazoo 2.11.0 and ZooKeeper 3.9.6 only in forky. */
const SUITES = ['trixie', 'forky'];
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
/** Another process may be fetching (a compare matrix, a test); its apt run holds the lock this long at most. */
const LOCK_WAIT_S = 600;

export interface FetchOptions {
  cacheDir?: string;
  /** Debian's archive; by default the one the system's own apt sources use (debianMirror). */
  mirror?: string;
  log?: (line: string) => void;
}

/** Where a package is unpacked; it exists once fetchDebs has fetched it. */
export function unpackedDir(pkg: DebianPackage, cacheDir = DEBS_CACHE): string {
  return join(cacheDir, 'unpacked', `${pkg.name}_${pkg.version}`);
}

const displayPath = (path: string): string => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));

const describe = (packages: readonly DebianPackage[]): string => packages.map((pkg) => `${pkg.name} ${pkg.version}`).join(', ');

/** Makes sure every package is unpacked in the cache; throws one line (UserError) when apt cannot get them. */
export async function fetchDebs(packages: readonly DebianPackage[], options: FetchOptions = {}): Promise<void> {
  const cacheDir = options.cacheDir ?? DEBS_CACHE;
  const missing = packages.filter((pkg) => !existsSync(unpackedDir(pkg, cacheDir)));
  if (missing.length === 0) return;

  const mirror = options.mirror ?? (await debianMirror());
  const log = options.log ?? ((line: string) => console.error(line));
  log(`debs: fetching ${describe(missing)} from ${mirror} (${SUITES.join(', ')}) into ${displayPath(cacheDir)}`);
  const apt = await privateApt(cacheDir, mirror);
  await mkdir(join(cacheDir, 'unpacked'), { recursive: true });
  await mkdir(join(cacheDir, 'archives'), { recursive: true });
  const work = await mkdtemp(join(cacheDir, 'fetch-'));
  try {
    const specs = missing.map((pkg) => `${pkg.name}=${pkg.version}-*`);
    // Lists made by an earlier fetch may be stale (forky moves on): on a miss, update and try once more.
    if (!apt.hasLists() || !(await apt.download(specs, work))) {
      await apt.update();
      if (!(await apt.download(specs, work))) {
        throw new UserError(`debs: ${describe(missing)} is not in Debian ${SUITES.join(' or ')} at ${mirror} (${apt.lastError()})`, EXIT.environment);
      }
    }
    for (const pkg of missing) await unpack(pkg, work, cacheDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Unpacks the downloaded .deb of `pkg` aside, then renames it into place (a concurrent fetch may have won). */
async function unpack(pkg: DebianPackage, work: string, cacheDir: string): Promise<void> {
  const deb = (await readdir(work)).find((file) => file.startsWith(`${pkg.name}_${pkg.version}-`) && file.endsWith('.deb'));
  if (deb === undefined) throw new UserError(`debs: apt reported ${pkg.name} ${pkg.version} downloaded, but no .deb is in ${work}`, EXIT.environment);
  const aside = join(work, `unpacked-${pkg.name}`);
  await execute('dpkg-deb', ['-x', join(work, deb), aside]);
  await rename(join(work, deb), join(cacheDir, 'archives', deb));
  try {
    await rename(aside, unpackedDir(pkg, cacheDir));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
}

interface PrivateApt {
  hasLists(): boolean;
  update(): Promise<void>;
  /** Downloads into `dir`; false when apt cannot find one of them (lastError says why). */
  download(specs: string[], dir: string): Promise<boolean>;
  lastError(): string;
}

/** apt with its own sources, state, lists and archives under `<cache>/apt`; the system's apt.conf.d (proxies) still applies. */
async function privateApt(cacheDir: string, mirror: string): Promise<PrivateApt> {
  const root = join(cacheDir, 'apt');
  const paths = {
    sourceList: join(root, 'sources.list'),
    sourceParts: join(root, 'sources.list.d'),
    preferencesParts: join(root, 'preferences.d'),
    state: join(root, 'state'),
    lists: join(root, 'state', 'lists'),
    status: join(root, 'state', 'status'),
    cache: join(root, 'cache'),
    lock: join(root, 'lock'),
  };
  for (const dir of [paths.sourceParts, paths.preferencesParts, join(paths.lists, 'partial'), join(paths.cache, 'archives', 'partial')]) {
    await mkdir(dir, { recursive: true });
  }
  if (!existsSync(paths.status)) await writeFile(paths.status, '');
  await writeFile(paths.sourceList, SUITES.map((suite) => `deb [signed-by=${KEYRING}] ${mirror} ${suite} main\n`).join(''));

  const options = Object.entries({
    'Dir::Etc::SourceList': paths.sourceList,
    // Empty: otherwise the system's sources.list.d and pins (preferences.d) join in.
    'Dir::Etc::SourceParts': paths.sourceParts,
    'Dir::Etc::Preferences': join(root, 'preferences'),
    'Dir::Etc::PreferencesParts': paths.preferencesParts,
    'Dir::State': paths.state,
    // An empty dpkg status: what the system has installed plays no part in what apt picks.
    'Dir::State::status': paths.status,
    'Dir::Cache': paths.cache,
    // apt's download sandbox user (_apt) may not be able to write into the project's directory.
    'APT::Sandbox::User': userInfo().username,
  }).flatMap(([key, value]) => ['-o', `${key}=${value}`]);

  let lastError = '';
  const apt = async (args: string[], cwd?: string): Promise<{ ok: boolean; stderr: string }> => {
    const result = await execute('flock', ['-w', String(LOCK_WAIT_S), paths.lock, 'apt-get', '-q', ...options, ...args], { ...(cwd === undefined ? {} : { cwd }), check: false });
    lastError = firstProblem(result.stderr) ?? result.stderr.trim().split('\n').at(-1) ?? '';
    return result;
  };
  return {
    hasLists: () => readdirSync(paths.lists).some((file) => /_Packages(\.\w+)?$/.test(file)),
    update: async () => {
      const result = await apt(['--error-on=any', 'update']);
      if (!result.ok || firstProblem(result.stderr) !== undefined) {
        throw new UserError(`debs: cannot reach Debian's archive at ${mirror}: ${lastError}`, EXIT.environment);
      }
    },
    download: async (specs, dir) => (await apt(['download', ...specs], dir)).ok,
    lastError: () => lastError,
  };
}

/** apt's first complaint, without its "W: Failed to fetch <url>" preamble: "Could not connect to ...". */
function firstProblem(stderr: string): string | undefined {
  const line = stderr.split('\n').find((text) => /^(E|W|Err):/.test(text.trim()) && !/Download is performed unsandboxed/.test(text));
  if (line === undefined) return undefined;
  return line.replace(/^(E|W|Err):\s*/, '').replace(/^Failed to fetch \S+\s+/, '').trim();
}

/**
 * The archive the system's apt uses for Debian itself (the entry of the system's release, e.g. bookworm), from
 * apt/sources.list and sources.list.d (one-line and deb822 formats); deb.debian.org when there is none or the
 * system is not Debian (an Ubuntu mirror has no trixie).
 */
export async function debianMirror(etc = '/etc'): Promise<string> {
  const osRelease = await readFile(join(etc, 'os-release'), 'utf8').catch(() => '');
  const field = (name: string): string | undefined => new RegExp(`^${name}=(.*)$`, 'm').exec(osRelease)?.[1]?.replace(/"/g, '');
  const codename = field('VERSION_CODENAME');
  if (field('ID') !== 'debian' || codename === undefined) return DEFAULT_MIRROR;
  const sourcesDir = join(etc, 'apt', 'sources.list.d');
  const files = [join(etc, 'apt', 'sources.list'), ...(await readdir(sourcesDir).catch(() => [])).map((file) => join(sourcesDir, file))];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const uri = file.endsWith('.sources') ? mirrorInDeb822(text, codename) : file.endsWith('.list') ? mirrorInOneLine(text, codename) : undefined;
    if (uri !== undefined) return uri.replace(/\/+$/, '');
  }
  return DEFAULT_MIRROR;
}

export function mirrorInOneLine(text: string, codename: string): string | undefined {
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    if (fields[0] === 'deb' && fields[2] === codename && fields[1] !== undefined) return fields[1];
  }
  return undefined;
}

export function mirrorInDeb822(text: string, codename: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string[]>();
    for (const line of stanza.split('\n')) {
      const match = /^([\w-]+):\s*(.*)$/.exec(line);
      if (match !== null) fields.set(match[1]!.toLowerCase(), match[2]!.trim().split(/\s+/));
    }
    if (fields.get('enabled')?.[0]?.toLowerCase() === 'no') continue;
    const uri = fields.get('uris')?.[0];
    if (fields.get('types')?.includes('deb') && fields.get('suites')?.includes(codename) && uri !== undefined) return uri;
  }
  return undefined;
}

/** Runs a command; with `check` a failure throws one line, else it is reported in `ok`. stderr in the C locale. */
function execute(command: string, args: string[], options: { cwd?: string; check?: boolean } = {}): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: options.cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (error, _stdout, stderr) => {
      if (error !== null && options.check !== false) {
        reject(new UserError(`debs: ${command} ${args.join(' ')}: ${stderr.trim() || error.message}`, EXIT.environment));
      } else {
        resolve({ ok: error === null, stderr });
      }
    });
  });
}

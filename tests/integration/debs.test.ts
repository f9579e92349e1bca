/**
 * The Debian package cache against Debian's real archive: it fetches and unpacks, a filled cache costs no apt
 * at all, the system's apt state is untouched, and an unreachable archive or a missing version is one clear line.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianMirror, DEBS_CACHE, fetchDebs, mirrorInDeb822, mirrorInOneLine, unpackedDir } from '../../ground/debs.ts';
import { UserError } from '../../ground/errors.ts';

const KAZOO_2_11_0 = { name: 'python3-kazoo', version: '2.11.0' };
const scratch: string[] = [];
const scratchDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'zkj-debs-test-'));
  scratch.push(dir);
  return dir;
};

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe('fetchDebs', () => {
  it('fetches and unpacks into the cache; once filled, costs no apt; the system apt state stays as it was', async () => {
    const systemLists = '/var/lib/apt/lists';
    const systemListsBefore = statSync(systemLists).mtimeMs;
    await fetchDebs([KAZOO_2_11_0]);
    expect(existsSync(join(unpackedDir(KAZOO_2_11_0), 'usr/lib/python3/dist-packages/kazoo/recipe/lock.py'))).toBe(true);

    const privateLists = join(DEBS_CACHE, 'apt/state/lists');
    const privateListsBefore = statSync(privateLists).mtimeMs;
    const logged: string[] = [];
    const startedAt = performance.now();
    await fetchDebs([KAZOO_2_11_0], { log: (line) => logged.push(line) });
    const elapsedMs = performance.now() - startedAt;
    console.log(`measure: fetchDebs with a filled cache: ${elapsedMs.toFixed(2)} ms`);
    expect(logged).toEqual([]);
    expect(elapsedMs).toBeLessThan(200);
    expect(statSync(privateLists).mtimeMs).toBe(privateListsBefore);

    expect(statSync(systemLists).mtimeMs).toBe(systemListsBefore);
    expect((await readdir(systemLists)).filter((file) => file.includes('_forky_') || file.includes('_trixie_'))).toEqual([]);
  });

  it('an unreachable archive is one line naming it', async () => {
    const cacheDir = await scratchDir();
    const failure = fetchDebs([KAZOO_2_11_0], { cacheDir, mirror: 'http://127.0.0.1:9/debian', log: () => {} });
    await expect(failure).rejects.toBeInstanceOf(UserError);
    await expect(failure).rejects.toThrow(/^debs: cannot reach Debian's archive at http:\/\/127\.0\.0\.1:9\/debian: Could not connect to 127\.0\.0\.1:9[^\n]*$/);
    expect(existsSync(unpackedDir(KAZOO_2_11_0, cacheDir))).toBe(false);
  });

  it('a version the archive does not have is one line naming it', async () => {
    const failure = fetchDebs([{ name: 'python3-kazoo', version: '0.0.1' }], { log: () => {} });
    await expect(failure).rejects.toThrow(/^debs: python3-kazoo 0\.0\.1 is not in Debian trixie or forky at \S+ \(Version '0\.0\.1-\*' for 'python3-kazoo' was not found\)$/);
  });
});

describe('debianMirror', () => {
  it('reads the archive the system uses for its own release, in either sources format', async () => {
    expect(mirrorInOneLine('# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n', 'bookworm')).toBe('http://mirror.example/debian');
    expect(mirrorInOneLine('deb http://security.debian.org/debian-security bookworm-security main\n', 'bookworm')).toBeUndefined();
    const deb822 = [
      'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main',
      'Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no',
      'Types: deb deb-src\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main',
    ].join('\n\n');
    expect(mirrorInDeb822(deb822, 'bookworm')).toBe('http://mirror.example/debian');

    const etc = await scratchDir();
    await mkdir(join(etc, 'apt', 'sources.list.d'), { recursive: true });
    await writeFile(join(etc, 'apt', 'sources.list.d', 'debian.sources'), deb822);
    await writeFile(join(etc, 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n');
    expect(await debianMirror(etc)).toBe('http://mirror.example/debian');
    // Ubuntu's mirrors carry no Debian suites: Debian's own archive then.
    await writeFile(join(etc, 'os-release'), 'VERSION_CODENAME=bookworm\nID=ubuntu\n');
    expect(await debianMirror(etc)).toBe('http://deb.debian.org/debian');
  });
});

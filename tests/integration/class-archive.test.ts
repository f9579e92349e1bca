/**
 * The servers' class archive (cluster/class-archive.ts) with a real JVM: the first JVM records it on a clean exit,
 * settling moves it into place, and the next JVM maps it (with -Xshare:on a JVM that cannot map it refuses to start).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { classArchive } from '../../cluster/class-archive.ts';
import { ZOOKEEPER_CLASSPATH } from '../../cluster/zookeeper.ts';

const java = (args: string[]) => promisify(execFile)('java', args);
let dir: string | undefined;
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('is recorded by the first JVM, once, and mapped by the next', async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkj-class-archive-'));
  // A class of the classpath that runs and exits: ZooKeeper's version printer.
  const main = ['-cp', ZOOKEEPER_CLASSPATH, 'org.apache.zookeeper.Version'];
  const archive = classArchive(ZOOKEEPER_CLASSPATH, dir);
  const first = archive.next();
  expect(first.records).toBe(true);
  expect(archive.next(), 'a second server while the first records').toEqual({ options: [], records: false });
  const { stdout } = await java([...first.options, ...main]);
  expect(stdout).toMatch(/^\d+\.\d+\.\d+/);
  archive.settle();
  expect(readdirSync(dir)).toEqual([expect.stringMatching(/^[0-9a-f]{16}\.jsa$/)]);

  const again = classArchive(ZOOKEEPER_CLASSPATH, dir).next();
  expect(again.records).toBe(false);
  const mapped = again.options.find((option) => option.startsWith('-XX:SharedArchiveFile='))!;
  expect(existsSync(mapped.split('=')[1]!)).toBe(true);
  await java([...again.options, '-Xshare:on', ...main]);
});

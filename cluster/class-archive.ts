/**
 * A JVM class-data-sharing archive for the servers of one classpath, in `.cache/cds/<digest>.jsa`: a server that
 * maps it starts on about half the CPU (0.95 → 0.5 s measured, C1 alone included), and the suite starts many
 * ensembles. JDK 17 writes a dynamic archive when a JVM given `-XX:ArchiveClassesAtExit` exits cleanly, so the
 * first server of a machine records one aside and, stopped with SIGTERM at teardown, leaves it to be moved into
 * place whole. An archive of another JDK is refused by the JVM, which then starts as without one
 * (`-Xshare:auto`); the digest names the java binary and its time so that a new JDK records anew.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandPath } from './exec.ts';

const ARCHIVES = fileURLToPath(new URL('../.cache/cds/', import.meta.url));

export interface ClassArchive {
  /** The JVM options for the next server; `records` when it records the archive: stop it cleanly, then `settle`. */
  next(): { options: string[]; records: boolean };
  /** After the recording server exited, however: the archive it wrote goes into place (or away, if one is there). */
  settle(): void;
}

export function classArchive(classpath: string, dir = ARCHIVES): ClassArchive {
  const onPath = commandPath('java');
  const java = onPath === null ? null : realpathSync(onPath);
  const digest = createHash('sha256').update(classpath).update('\0').update(java === null ? '' : `${java}\0${statSync(java).mtimeMs}`).digest('hex').slice(0, 16);
  const archive = join(dir, `${digest}.jsa`);
  const recordingPath = join(dir, `${digest}.${randomBytes(4).toString('hex')}.recording`);
  let recording = false;
  return {
    next() {
      if (existsSync(archive)) return { options: [`-XX:SharedArchiveFile=${archive}`], records: false };
      if (recording) return { options: [], records: false };
      recording = true;
      mkdirSync(dir, { recursive: true });
      removeStaleRecordings(dir, digest);
      return { options: [`-XX:ArchiveClassesAtExit=${recordingPath}`], records: true };
    },
    settle() {
      if (!recording) return;
      recording = false;
      if (!existsSync(recordingPath)) return;
      if (existsSync(archive)) rmSync(recordingPath, { force: true });
      else renameSync(recordingPath, archive);
    },
  };
}

/** Recordings of a run that was killed before its teardown, an hour old or more. */
function removeStaleRecordings(dir: string, digest: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.startsWith(`${digest}.`) && name.endsWith('.recording') && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { force: true });
  }
}

/**
 * Checks of the arguments that name things on this machine: a results directory and a worker command. They run
 * before anything starts, so that a path under a file, an unwritable place or a missing program is one line and
 * exit 254, not a crash halfway into a run (or a recursive mkdir that never gives up on procfs).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'shell-quote';
import { UserError } from '../ground/errors.ts';

const reason = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));

/**
 * Makes `path` a directory this process can write in, creating what is missing one level at a time (each level a
 * plain mkdir, so a filesystem that refuses says so at once), then writes and removes a probe file in it.
 */
export function ensureWritableDirectory(flag: string, path: string): string {
  if (path.trim() === '') throw new UserError(`${flag} is empty.`);
  const target = resolve(path);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    const stat = statOrUndefined(existing);
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw new UserError(`${flag} ${path}: ${existing} is not a directory.`);
      break;
    }
    missing.unshift(existing);
    existing = dirname(existing);
  }
  for (const directory of missing) {
    try {
      mkdirSync(directory);
    } catch (error) {
      throw new UserError(`${flag} ${path}: cannot create ${directory} (${reason(error)}).`);
    }
  }
  const probe = join(target, `.write-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (error) {
    throw new UserError(`${flag} ${path}: cannot write there (${reason(error)}).`);
  }
  return target;
}

/** The path's stat; undefined when nothing is there, also when a parent is a file (ENOTDIR): the walk goes up. */
function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new UserError(`cannot look at ${path} (${reason(error)}).`);
  }
}

/**
 * A worker command as `sh -c` will run it: not empty, and its program (the first word after any VAR=value
 * assignments) an executable file, or a name the shell itself finds (`command -v`: PATH, builtins, functions).
 */
export function checkWorkerCommand(command: string): void {
  if (command.trim() === '') throw new UserError('--worker is empty; give the command that starts your worker.');
  let words: ReturnType<typeof parse>;
  try {
    words = parse(command);
  } catch (error) {
    throw new UserError(`--worker ${JSON.stringify(command)}: ${error instanceof Error ? error.message : String(error)}.`);
  }
  const program = words.find((word): word is string => typeof word === 'string' && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  if (program === undefined) throw new UserError(`--worker ${JSON.stringify(command)} names no program to run.`);
  if (program.includes('/')) {
    try {
      accessSync(program, constants.X_OK);
      if (!statSync(program).isFile()) throw new Error('not a file');
    } catch (error) {
      throw new UserError(`--worker: ${program} is not an executable file (${reason(error)}).`);
    }
    return;
  }
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], { stdio: 'ignore' });
  } catch {
    throw new UserError(`--worker: '${program}' is not a program on PATH.`);
  }
}

/** A run's directory: results/<time>-<recipe>-<workload>/, its config.json, and results/latest. */
import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { RunConfig } from './config.ts';

export interface RunDirectory {
  id: string;
  path: string;
  historyPath: string;
  configPath: string;
}

export async function createRunDirectory(config: RunConfig, now = new Date()): Promise<RunDirectory> {
  // Milliseconds in the name keep two runs started in the same second (tests, compare matrices) apart.
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '-').replace('Z', '');
  const id = `${stamp}-${config.recipe}-${config.workload}`;
  const path = resolve(config.results, id);
  await mkdir(join(path, 'workers'), { recursive: true });
  const configPath = join(path, 'config.json');
  await writeFile(configPath, `${JSON.stringify({ runId: id, ...config }, null, 2)}\n`);
  await pointLatestAt(path);
  return { id, path, historyPath: join(path, 'history.jsonl'), configPath };
}

/** results/latest → the newest run, replaced atomically so a reader never sees it missing. */
async function pointLatestAt(runPath: string): Promise<void> {
  const resultsDir = resolve(runPath, '..');
  const temporary = join(resultsDir, `.latest-${process.pid}`);
  await unlink(temporary).catch(() => undefined);
  await symlink(basename(runPath), temporary);
  await rename(temporary, join(resultsDir, 'latest'));
}

/** Checks a stored run: streams its history.jsonl through the checker and writes results.json beside it. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createChecker, type CheckOptions, type Results } from '../checker/index.ts';
import { readHistory } from '../ground/history-reader.ts';

export async function checkRun(runDir: string, options: CheckOptions = {}): Promise<Results> {
  const checker = createChecker(options);
  await readHistory(join(runDir, 'history.jsonl'), checker);
  const results = checker.finish();
  await writeFile(join(runDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

/** Checks a stored run: reads its history.jsonl line by line, runs the checker, writes results.json. */
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createChecker, type Results } from '../checker/index.ts';
import type { HistoryLine } from './history.ts';

export async function checkRun(runDir: string): Promise<Results> {
  const checker = createChecker();
  let lineNumber = 0;
  const lines = createInterface({ input: createReadStream(join(runDir, 'history.jsonl')), crlfDelay: Infinity });
  for await (const text of lines) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    try {
      checker.add(JSON.parse(text) as HistoryLine, lineNumber);
    } catch (error) {
      checker.unreadable({ line: lineNumber, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const results = checker.finish();
  await writeFile(join(runDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

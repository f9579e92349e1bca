/**
 * `npm run check -- results/<run>`: checks a stored run's history again, writes results/<run>/results.json and
 * prints the verdict. Exit codes as Jepsen's: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 crash.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatSummary } from '../checker/summary.ts';
import { EXIT, exitCodeFor, UserError } from '../ground/errors.ts';
import { checkRun } from './check.ts';

const USAGE = 'usage: npm run check -- results/<run>   (re-checks <run>/history.jsonl and writes <run>/results.json)';

function runDirFrom(args: string[]): string {
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UserError(USAGE);
  const runDir = resolve(args[0]!);
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new UserError(`check: no run directory at ${runDir}`);
  if (!existsSync(join(runDir, 'history.jsonl'))) throw new UserError(`check: ${runDir} has no history.jsonl`);
  return runDir;
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const runDir = runDirFrom(args);
  const results = await checkRun(runDir);
  console.log(formatSummary(results));
  console.log(`results: ${join(runDir, 'results.json')}`);
  return exitCodeFor(results.valid);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UserError) {
        console.error(error.message);
        process.exit(error.exitCode);
      }
      console.error(`check: crashed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(EXIT.crashed);
    },
  );
}

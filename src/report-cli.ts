/** `npm run report -- results/<run> [...]`: rebuilds each run's report.html, then the index of its results directory. */
import { Command, CommanderError } from 'commander';
import { dirname, resolve } from 'node:path';
import { EXIT, UserError } from '../ground/errors.ts';
import { writeIndex, writeReport } from './report/index.ts';

async function main(argv: string[]): Promise<number> {
  const program = new Command('report')
    .description('rebuild the HTML report of one or more runs, and the index of runs beside them')
    .argument('<run...>', 'run directories, e.g. results/latest')
    .exitOverride();
  try {
    program.parse(argv, { from: 'user' });
    const resultsDirs = new Set<string>();
    for (const run of program.args) {
      console.log(`report: ${await writeReport(run)}`);
      resultsDirs.add(dirname(resolve(run)));
    }
    for (const dir of resultsDirs) console.log(`index: ${await writeIndex(dir)}`);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT.badArguments;
    if (error instanceof UserError) {
      console.error(`report: ${error.message}`);
      return error.exitCode;
    }
    console.error(`report: failed: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.crashed;
  }
}

process.exitCode = await main(process.argv.slice(2));

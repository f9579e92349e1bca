/**
 * `npm run nights -- newest <dir>`: prints the newest night's compare.json under <dir> (nothing when there is none),
 * the baseline of the next night. `npm run nights -- update <dir> [--keep N]`: deletes nights beyond the newest N,
 * rewrites <dir>/nights.json and <dir>/index.html, the trend page (src/nights.ts). Used by scripts/nightly.sh.
 * Exit codes: 0, 254 bad arguments, 255 crash.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT } from '../ground/errors.ts';
import { newestNight, updateNights } from './nights.ts';

function positive(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new InvalidArgumentError('expected a whole number from 1 up.');
  return value;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('nights').description('the nightly index of nights and its trend page').exitOverride();
  program.command('newest <dir>').description("print the newest night's compare.json").exitOverride().action(async (dir: string) => {
    const path = await newestNight(dir);
    if (path !== null) console.log(path);
  });
  program.command('update <dir>').description('prune to the newest --keep nights, write nights.json and index.html').exitOverride()
    .option('--keep <n>', 'nights kept', positive, 30)
    .action(async (dir: string, flags: { keep: number }) => {
      const { index, removed } = await updateNights(dir, flags.keep);
      for (const id of removed) console.log(`nights: removed ${id} (more than ${flags.keep} nights)`);
      for (const night of index.unreadable) console.error(`nights: ${night.id} is unreadable: ${night.error}`);
      console.log(`nights: ${index.nights.length} nights → ${dir}/index.html`);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT.badArguments;
    console.error(`nights: crashed: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.crashed;
  }
}

process.exitCode = await main(process.argv.slice(2));

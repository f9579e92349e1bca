/**
 * `npm run hosts -- up N | status | down`: local test hosts for `--backend ssh` and `--client-hosts` (test-hosts.ts).
 * `up` replaces the previous `up`'s hosts, leaves the new ones running after it exits, and prints as its last line
 * the flags that point a run at them; `down` removes them, and the hosts of any test that died.
 */
import { Command, InvalidArgumentError } from 'commander';
import { UserError } from '../ground/errors.ts';
import { createTestHosts, detachedTestHostSets, removeTestHostSets } from './test-hosts.ts';

function hostCount(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 50) throw new InvalidArgumentError('expected a whole number from 1 to 50');
  return value;
}

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const program = new Command('hosts')
  .description('local test hosts: network namespaces, each running its own OpenSSH sshd, for --backend ssh and --client-hosts')
  .showSuggestionAfterError(false)
  .exitOverride();

program
  .command('up')
  .description('make N test hosts (replacing those of the previous up) and print the flags that use them')
  .argument('<count>', 'how many hosts', hostCount)
  .action(async (count: number) => {
    const started = performance.now();
    await removeTestHostSets({ includeDetached: true });
    const set = await createTestHosts(count, { detached: true });
    console.error(`hosts ${set.id}: ${set.hosts.map((host) => `${host.name} ${host.address}`).join(', ')}, sshd on port 22 each, up in ${seconds(started)}; ` +
      'their host keys are in ~/.ssh/known_hosts; remove with: npm run hosts -- down');
    console.log(set.flags());
  });

program
  .command('status')
  .description('print the flags of the test hosts that are up')
  .action(async () => {
    const sets = await detachedTestHostSets();
    if (sets.length === 0) throw new UserError('no test hosts are up (make some with: npm run hosts -- up 3)');
    for (const set of sets) console.log(set.flags());
  });

program
  .command('down')
  .description('remove the test hosts of up, and those of any test that died')
  .action(async () => {
    const started = performance.now();
    const removed = await removeTestHostSets({ includeDetached: true });
    console.error(removed.length === 0 ? 'hosts: nothing to remove' : `hosts: removed ${removed.join(', ')} in ${seconds(started)}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if ((error as { code?: string }).code?.startsWith('commander.')) {
    const exitCode = (error as { exitCode?: number }).exitCode;
    process.exitCode = exitCode === 0 ? 0 : 254;
  } else {
    console.error(`hosts: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = error instanceof UserError ? error.exitCode : 255;
  }
}

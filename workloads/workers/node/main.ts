/**
 * The Node worker: `node --import tsx workloads/workers/node/main.ts --recipe naive|safe`.
 * Speaks docs/worker-protocol.md on stdin/stdout; logs go to stderr. Exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { WorkerMessage } from '../../protocol.ts';
import { WorkerHost } from './host.ts';
import { LockRecipe, NAIVE, SAFE } from './lock-recipe.ts';

const POLICIES = { naive: NAIVE, safe: SAFE } as const;

function recipeFromArgs(): LockRecipe {
  try {
    const { values } = parseArgs({ options: { recipe: { type: 'string' } } });
    const policy = POLICIES[values.recipe as keyof typeof POLICIES];
    if (policy !== undefined) return new LockRecipe(policy);
  } catch {
    // reported below, with the usage line
  }
  console.error(`usage: main.ts --recipe ${Object.keys(POLICIES).join('|')}`);
  process.exit(2);
}

const recipe = recipeFromArgs();
const send = (message: WorkerMessage): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};
const host = new WorkerHost(recipe, send);
const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => host.handleLine(line));
input.on('close', () => {
  // Closing the sessions deletes their ephemeral nodes now instead of after the session timeout.
  host.close();
  setTimeout(() => process.exit(0), 100).unref();
});

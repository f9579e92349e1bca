/**
 * One process-wide registry of things to undo (clusters, proxies, workers) so that SIGINT, SIGTERM or a crash
 * never leaves namespaces, iptables rules or servers behind. Cleanups run once, newest first, within a time bound.
 */

type CleanupFn = () => Promise<void> | void;

interface Entry {
  name: string;
  fn: CleanupFn;
}

/** Upper bound for all cleanups together when the process is going down on a signal or a crash. */
const EXIT_CLEANUP_BUDGET_MS = 20_000;

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
const CRASH_EXIT_CODE = 255;

const entries: Entry[] = [];
let handlersInstalled = false;
let exiting = false;

/** Registers a cleanup; the returned function unregisters it (call it once the resource is gone). */
export function registerCleanup(name: string, fn: CleanupFn): () => void {
  installHandlers();
  const entry: Entry = { name, fn };
  entries.push(entry);
  return () => {
    const index = entries.indexOf(entry);
    if (index >= 0) entries.splice(index, 1);
  };
}

/**
 * Runs every registered cleanup once, newest first, and empties the registry, within `budgetMs` in all. A failing
 * or slow cleanup is reported on stderr and does not stop the others. Call it on a normal exit; signals and crashes call it too.
 */
export async function runCleanups(budgetMs = EXIT_CLEANUP_BUDGET_MS): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (entries.length > 0) {
    // Each cleanup gets an even share of the time left, so one that hangs cannot starve those after it.
    const share = (deadline - Date.now()) / entries.length;
    const entry = entries.pop()!;
    try {
      await withTimeout(Promise.resolve().then(entry.fn), Math.max(share, 0));
    } catch (error) {
      console.error(`cleanup: ${entry.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function cleanupAndExit(code: number): Promise<never> {
  if (exiting) {
    // A second signal while cleaning up: the user insists, leave now (the next start sweeps what remains).
    process.exit(code);
  }
  exiting = true;
  await runCleanups();
  process.exit(code);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) {
    process.on(signal, () => void cleanupAndExit(EXIT_CODES[signal]));
  }
  // A test runner (vitest) already owns crash handling and reports the error itself; taking it over would end the
  // runner's worker on the first failing assertion. Only a plain process gets our crash handler.
  if (process.listenerCount('uncaughtException') === 0) {
    process.on('uncaughtException', (error) => {
      console.error(error);
      void cleanupAndExit(CRASH_EXIT_CODE);
    });
  }
}

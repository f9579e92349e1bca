/**
 * The nightly workflow against GitHub's own workflow parser and schema (what GitHub checks before it runs it), and
 * against scripts/nightly.sh, whose files its GitHub-only steps read. Its shell steps are run for real by
 * tests/e2e/nightly-workflow.test.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { actionName, readWorkflow, workflowErrors } from './nightly-workflow.ts';

const { text, workflow } = readWorkflow();
const nightly = readFileSync(fileURLToPath(new URL('../scripts/nightly.sh', import.meta.url)), 'utf8');
const compare = workflow.jobs['compare']!;
const step = (action: string) => compare.steps.find((candidate) => candidate.uses !== undefined && actionName(candidate.uses) === action);

describe('.github/workflows/nightly.yml', () => {
  it('is a workflow GitHub accepts: its schema, expressions and job graph', async () => {
    expect(await workflowErrors(text)).toEqual([]);
  });

  it.each([
    ['an unknown job key', ['    timeout-minutes: 300', '    timeout-minutes: 300\n    runs-after: compare'], "Unexpected value 'runs-after'"],
    ['a misspelt function', ['if: ${{ !cancelled() }}', 'if: ${{ !canceled() }}'], "Unrecognized function: 'canceled'"],
    ['a need of no job', ['needs: compare', 'needs: compares'], "Job 'publish' depends on unknown job 'compares'"],
    ['a bad cron line', ["cron: '23 2 * * *'", "cron: '99 2 * * *'"], 'Invalid cron expression'],
    ['a step both run and uses', ['uses: actions/checkout@v4', 'uses: actions/checkout@v4\n        run: echo'], "Unexpected value 'run'"],
  ])('is checked by a parser that refuses %s', async (_, [from, to], error) => {
    expect(text).toContain(from);
    expect(await workflowErrors(text.replace(from!, to!))).toEqual([expect.stringContaining(error)]);
  });

  it('runs the compare job as root in a privileged Debian bookworm container, then publishes', () => {
    expect(compare.container).toEqual({ image: 'debian:bookworm', options: '--privileged' });
    expect(workflow.jobs['publish']).toMatchObject({ needs: 'compare', steps: [{ uses: expect.stringMatching(/^actions\/deploy-pages@v\d+$/) }] });
    expect(workflow.permissions).toMatchObject({ pages: 'write', 'id-token': 'write', checks: 'write', contents: 'read' });
    expect(Object.keys(workflow.on)).toEqual(['schedule', 'workflow_dispatch']);
  });

  it('names every action by a major version', () => {
    const uses = Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((candidate) => candidate.uses ?? []));
    expect(uses.length).toBeGreaterThan(0);
    for (const action of uses) expect(action).toMatch(/^[\w.-]+\/[\w./-]+@v\d+$/);
  });

  it('keeps, reports and publishes the files scripts/nightly.sh writes', () => {
    const results = /^results=\$\{NIGHTLY_RESULTS:-([^}]+)\}$/m.exec(nightly)![1]!;
    expect(results).toBe('results/nightly');
    expect(nightly).toContain('--junit "$results/junit.xml"');
    // A key of its own for every run and attempt (a cache entry is never overwritten), restored next night by prefix.
    const key = 'nightly-${{ github.run_id }}-${{ github.run_attempt }}';
    expect(step('actions/cache/restore')!.with).toMatchObject({ path: results, key, 'restore-keys': 'nightly-' });
    expect(step('actions/cache/save')).toMatchObject({ if: '${{ !cancelled() }}', with: { path: results, key } });
    expect(step('mikepenz/action-junit-report')).toMatchObject({ if: '${{ !cancelled() }}', with: { report_paths: `${results}/junit.xml` } });
    expect(step('actions/upload-pages-artifact')).toMatchObject({ if: '${{ !cancelled() }}', with: { path: results } });
    // Restored before the comparison runs, saved after.
    const index = (action: string): number => compare.steps.indexOf(step(action)!);
    const nightlyStep = compare.steps.findIndex((candidate) => candidate.run === 'scripts/nightly.sh');
    expect(index('actions/cache/restore')).toBeLessThan(nightlyStep);
    expect(index('actions/cache/save')).toBeGreaterThan(nightlyStep);
  });
});

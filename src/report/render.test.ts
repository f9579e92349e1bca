/**
 * The report page as HTML, from simulated runs (fixtures.ts, checked by the real checker), without a browser:
 * the verdict and the anomalies in words, the command that reproduces the run, links to the run's files, every
 * history string as text, and the line naming the original of a replay or a shrink's attempt.
 * tests/browser/ draws the same pages in Chromium.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFixtureRun } from './fixtures.ts';
import { writeReport } from './index.ts';

const HOSTILE_LOCK = '<script>window.__pwned = 1</script>';

describe('the report page, rendered from simulated runs', () => {
  let resultsDir: string;
  const pages: Record<'invalid' | 'valid' | 'hostile', string> = { invalid: '', valid: '', hostile: '' };
  const dirs: Record<'invalid' | 'valid' | 'hostile', string> = { invalid: '', valid: '', hostile: '' };

  beforeAll(async () => {
    resultsDir = await mkdtemp(join(tmpdir(), 'zkj-render-'));
    dirs.invalid = await writeFixtureRun(resultsDir, 'run-invalid', { kind: 'invalid', operations: 400, durationS: 20 });
    dirs.valid = await writeFixtureRun(resultsDir, 'run-valid', { kind: 'valid', operations: 400, durationS: 20 });
    dirs.hostile = await writeFixtureRun(resultsDir, 'run-hostile', { kind: 'invalid', operations: 200, durationS: 10, lockNames: [HOSTILE_LOCK], errorText: '<b onclick=x>' });
    for (const kind of ['invalid', 'valid', 'hostile'] as const) pages[kind] = await readFile(await writeReport(dirs[kind]), 'utf8');
  });

  afterAll(async () => {
    await rm(resultsDir, { recursive: true, force: true });
  });

  it('puts the verdict first and names every anomaly type the checker found', () => {
    expect(pages.invalid).toMatch(/<div class="verdict-word">invalid<\/div>/);
    expect(pages.invalid).toMatch(/<p class="summary">\d+ double holders?, .*leaked node.*stuck acquire.*stale write/);
    expect(pages.valid).toMatch(/<div class="verdict-word">valid<\/div>/);
    expect(pages.valid).toContain('No anomaly found.');
  });

  it('gives the command that reproduces the run and links the run\'s files', () => {
    expect(pages.invalid).toMatch(/<code id="command">npm run jepsen -- --recipe \S+ --workload \S+ .*--seed \d+/);
    for (const file of ['history.jsonl', 'results.json', 'config.json']) expect(pages.invalid).toContain(`href="${file}"`);
  });

  it('writes every string of the history as text, never as markup', () => {
    expect(pages.hostile).not.toContain(HOSTILE_LOCK);
    expect(pages.hostile).not.toContain('<b onclick=x>');
    expect(pages.hostile).toContain('&#60;script&#62;window.__pwned = 1&#60;/script&#62;');
  });

  it('says a shrunk reproduction is one, and links the original', async () => {
    const configPath = join(dirs.valid, 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(configPath, JSON.stringify({ ...config, origin: { kind: 'shrink', run: dirs.invalid, removed: 'faults 1–2 of 4' } }));
    const page = await readFile(await writeReport(dirs.valid), 'utf8');
    expect(page).toContain(`A shrunk reproduction of <a href="../run-invalid/report.html">${dirs.invalid}</a>, without faults 1–2 of 4.`);
    expect(page).toContain(`npm run jepsen -- replay ${join(String(config['results']), String(config['runId']))}`);
  });
});

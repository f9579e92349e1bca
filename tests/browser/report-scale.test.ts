/**
 * The report stays usable for a 10-minute run of a million operations: a synthetic history of
 * that size must give a page of bounded size that chromium draws, without errors, in seconds.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { launchChromium, openPage, SCREENSHOTS, type Chromium } from './chromium.ts';
import { writeFixtureRun } from '../../src/report/fixtures.ts';
import { writeReport } from '../../src/report/index.ts';

let resultsDir: string | undefined;
let browser: Chromium | undefined;

afterAll(async () => {
  await browser?.close();
  if (resultsDir !== undefined) await rm(resultsDir, { recursive: true, force: true });
});

it('a 10-minute run of a million operations gives a page of a few megabytes that draws in seconds', { timeout: 600_000 }, async () => {
  resultsDir = await mkdtemp(join(tmpdir(), 'report-scale-'));
  const runDir = await writeFixtureRun(resultsDir, 'run-million', {
    kind: 'invalid', operations: 1_450_000, durationS: 600, clients: 32, locks: 64,
  });
  const history = await stat(join(runDir, 'history.jsonl'));
  const building = performance.now();
  const reportPath = await writeReport(runDir);
  const buildSeconds = (performance.now() - building) / 1e3;
  const report = await stat(reportPath);

  browser = await launchChromium();
  const opening = performance.now();
  const { page, errors, requests } = await openPage(browser.context, pathToFileURL(reportPath).href);
  const drawSeconds = (performance.now() - opening) / 1e3;
  const operations = Number(await page.locator('#latency table.numbers tbody td:nth-child(3)').evaluateAll(
    (cells) => cells.reduce((sum, cell) => sum + Number(cell.textContent), 0)));
  console.log(`scale: ${operations} operations, history ${(history.size / 1e6).toFixed(0)} MB; report ${(report.size / 1e6).toFixed(1)} MB built in ${buildSeconds.toFixed(1)} s, drawn by chromium in ${drawSeconds.toFixed(1)} s`);
  await page.screenshot({ path: join(SCREENSHOTS, 'report-million.png') });

  expect(operations).toBeGreaterThan(1_000_000);
  expect(report.size).toBeLessThan(20e6);
  // Generous for two shared cores; about 3 s when the machine is quiet.
  expect(drawSeconds).toBeLessThan(45);
  expect(await page.textContent('.verdict-word')).toBe('invalid');
  expect(await page.locator('#lock-timelines figure svg').count()).toBe(4);
  expect(await page.locator('#latency-chart svg circle').count()).toBeLessThan(100_000);
  expect(errors).toEqual([]);
  expect(requests).toEqual([]);
});

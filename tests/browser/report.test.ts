/**
 * The report in a real browser: Debian's chromium, headless, driven by playwright-core. Every page must render its
 * verdict, its anomalies and its timelines with no console error and no request leaving the file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPage, type Chromium } from './chromium.ts';
import { startServer, type ResultsServer } from '../../src/serve.ts';
import { writeFixtureRun } from '../../src/report/fixtures.ts';
import { writeIndex, writeReport } from '../../src/report/index.ts';
import { SCREENSHOTS } from './chromium.ts';

const HOSTILE_LOCK = '<script>window.__pwned = 1</script>';
const HOSTILE_ERROR = '<img src=x onerror="window.__pwned = 2">';

describe('report in chromium', () => {
  let resultsDir: string;
  let browser: Chromium;
  let server: ResultsServer;
  const reports: Record<'invalid' | 'valid' | 'hostile', string> = { invalid: '', valid: '', hostile: '' };

  beforeAll(async () => {
    resultsDir = await mkdtemp(join(tmpdir(), 'report-results-'));
    const started = (minute: number) => new Date(Date.UTC(2025, 0, 1, 12, minute));
    const invalid = await writeFixtureRun(resultsDir, 'run-invalid', { kind: 'invalid', operations: 800, durationS: 40, startedAt: started(1) });
    const valid = await writeFixtureRun(resultsDir, 'run-valid', { kind: 'valid', operations: 800, durationS: 40, startedAt: started(2) });
    const hostile = await writeFixtureRun(resultsDir, 'run-hostile', {
      kind: 'invalid', operations: 300, durationS: 20, lockNames: [HOSTILE_LOCK], errorText: HOSTILE_ERROR, startedAt: started(3),
    });
    reports.invalid = await writeReport(invalid);
    reports.valid = await writeReport(valid);
    reports.hostile = await writeReport(hostile);
    await writeIndex(resultsDir);
    browser = await launchChromium();
    server = await startServer(resultsDir, 0);
  });

  afterAll(async () => {
    await server?.close();
    await browser?.close();
    await rm(resultsDir, { recursive: true, force: true });
  });

  it('shows an invalid run: verdict, each anomaly explained with its figure, red overlaps on the timeline', async () => {
    const { page, errors, requests } = await openPage(browser.context, pathToFileURL(reports.invalid).href);
    expect(await page.textContent('.verdict-word')).toBe('invalid');
    expect(await page.textContent('.verdict .summary')).toMatch(/double holder.*leaked node.*stuck acquire.*stale write/s);
    const explanations = await page.locator('.anomaly .explanation').allTextContents();
    expect(explanations.some((text) => /both believed they held/.test(text))).toBe(true);
    // The first page of anomalies has its figures drawn, each an SVG with bars.
    expect(await page.locator('.anomaly:not([hidden]) .figure svg').count()).toBeGreaterThan(0);
    expect(await page.locator('#lock-timelines figure svg').count()).toBeGreaterThan(0);
    expect(await page.locator('#lock-timelines svg [fill="#d62728"] rect').count()).toBeGreaterThan(0);
    expect(await page.locator('#latency-chart svg circle').count()).toBeGreaterThan(100);
    expect(await page.locator('#throughput-chart svg').count()).toBeGreaterThan(0);
    expect(await page.locator('nav.links a', { hasText: 'zk1/zookeeper.log' }).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'report-invalid.png'), fullPage: true });
    // Pages of anomalies: the next page draws its own figures.
    await page.locator('.pager button', { hasText: 'next' }).first().click();
    expect(await page.locator('.anomaly:not([hidden]) .figure svg').count()).toBeGreaterThan(0);
    await page.locator('.anomaly:not([hidden])').first().screenshot({ path: join(SCREENSHOTS, 'report-invalid-anomaly-page2.png') });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('shows a valid run: verdict, no anomaly, timelines of the busiest locks and faults shaded', async () => {
    const { page, errors, requests } = await openPage(browser.context, pathToFileURL(reports.valid).href);
    expect(await page.textContent('.verdict-word')).toBe('valid');
    expect(await page.textContent('#anomalies')).toContain('None.');
    expect(await page.locator('#lock-timelines figure').count()).toBe(3);
    expect(await page.locator('#lock-timelines figcaption').first().textContent()).toMatch(/lock-\d — \d+ acquires/);
    expect(await page.locator('#faults tbody tr').count()).toBeGreaterThan(3);
    await page.screenshot({ path: join(SCREENSHOTS, 'report-valid.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('escapes every string from the history: a <script> lock name and an HTML error text stay text', async () => {
    const source = await readFile(reports.hostile, 'utf8');
    expect(source).not.toContain(HOSTILE_LOCK);
    expect(source).not.toContain(HOSTILE_ERROR);
    const { page, errors } = await openPage(browser.context, pathToFileURL(reports.hostile).href);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('.anomaly .explanation').first().textContent()).toContain(HOSTILE_LOCK);
    expect(await page.locator('#lock-timelines figcaption').first().textContent()).toContain(HOSTILE_LOCK);
    expect(await page.textContent('#latency')).toContain(HOSTILE_ERROR);
    expect(await page.textContent('#faults')).toContain(HOSTILE_LOCK);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists every run in the index, newest first, served on loopback', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { page, errors } = await openPage(browser.context, server.url, 'table[data-runs]');
    const rows = await page.locator('table[data-runs] tbody tr').allTextContents();
    expect(rows).toHaveLength(3);
    expect(rows.map((row) => row.match(/run-\w+/)?.[0])).toEqual(['run-hostile', 'run-valid', 'run-invalid']);
    expect(rows[2]).toMatch(/invalid/);
    await page.screenshot({ path: join(SCREENSHOTS, 'index.png'), fullPage: true });
    await page.click('a[href="run-valid/report.html"]');
    await page.waitForSelector('body[data-rendered="yes"]');
    expect(await page.textContent('.verdict-word')).toBe('valid');
    const history = await page.request.get(new URL('run-valid/history.jsonl', server.url).href);
    expect(history.ok()).toBe(true);
    const outside = await page.request.get(new URL('../../etc/passwd', server.url).href.replace('/etc', '/%2e%2e/etc'));
    expect(outside.status()).toBe(404);
    expect(errors).toEqual([]);
    await page.close();
  });
});

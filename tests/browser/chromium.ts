/**
 * Test helper: Debian's chromium (/usr/bin/chromium) through playwright-core, headless, with a fresh profile and
 * none of the background traffic a browser makes on its own.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Screenshots of the tests, for people to look at (git-ignored). */
export const SCREENSHOTS = join(process.cwd(), 'test-output');

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'report-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run',
      '--disable-gpu', '--disable-sync', '--disable-quic'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `url` and waits for `ready` (by default the report's own signal that it has drawn everything), recording
 * console errors, uncaught page errors and every request other than the page itself.
 */
export async function openPage(context: BrowserContext, url: string, ready = 'body[data-rendered="yes"]'): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => {
    if (request.url() !== url) requests.push(request.url());
  });
  await page.goto(url);
  await page.waitForSelector(ready, { timeout: 120_000 });
  return { page, errors, requests };
}

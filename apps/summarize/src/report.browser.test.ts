// report.html in a real browser: headless Chromium (Debian's /usr/bin/chromium) through playwright-core.
// Skips with a message when Chromium is not installed (apt-get install -y chromium).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sharedAvailable, sharedFile } from '@meld/test-utils';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startBookModelServer } from './__fixtures__/book-model-server';
import { main } from './cli';
import type { ScoreReport } from './score-report';

const chromiumPath = '/usr/bin/chromium';
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
const book = 'data/books/pg84.txt';
const shared = sharedAvailable([book]);
const reason = !existsSync(chromiumPath)
  ? `${chromiumPath} not found (apt-get install -y chromium)`
  : shared.ok
    ? ''
    : shared.message;

const directory = mkdtempSync(join(tmpdir(), 'meld-report-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe.skipIf(reason !== '')(
  `report.html in headless Chromium${reason ? ` [skipped: ${reason}]` : ''}`,
  () => {
    it('renders the score, every highlighted sentence and its questions and types', async () => {
      const server = await startBookModelServer();
      const out = join(directory, 'out');
      const sink = { write: () => true };
      try {
        const code = await main(
          [
            sharedFile(book),
            '--workflow',
            'hier',
            '--base-url',
            server.baseURL,
            '--model',
            'model-a',
            '--out',
            out,
            '--quiet',
          ],
          { stdout: sink, stderr: sink },
        );
        expect(code).toBe(0);
      } finally {
        await server.close();
      }
      const report = JSON.parse(readFileSync(join(out, 'score.json'), 'utf8')) as ScoreReport;
      const annotations = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8')) as Record<
        string,
        Array<{ span: string; questions: string[]; types: string[] }>
      >;
      const confusing = annotations.pg84.filter((item) => item.questions.length > 0 || item.types.length > 0);
      expect(confusing.length).toBe(report.confusing);
      expect(report.confusing).toBeGreaterThan(0);

      const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await page.goto(pathToFileURL(join(out, 'report.html')).href);
        expect(await page.title()).toContain(report.title ?? 'pg84');
        const score = await page
          .locator('#score')
          .evaluate((element) => element.firstChild?.textContent?.trim());
        expect(score).toBe(report.booookscore.toFixed(1));

        const marks = page.locator('mark.confusing');
        expect(await marks.count()).toBe(report.confusing);
        const first = marks.first();
        expect(await first.isVisible()).toBe(true);
        const background = await page.evaluate(
          "getComputedStyle(document.querySelector('mark.confusing')).backgroundColor",
        );
        expect(background).toBe('rgb(255, 224, 138)');
        expect((await first.textContent())?.startsWith(confusing[0].span.slice(0, 20))).toBe(true);

        const notes = page.locator('#notes li.note');
        expect(await notes.count()).toBe(report.confusing);
        expect(await notes.first().locator('.type').allInnerTexts()).toEqual(confusing[0].types);
        expect(await notes.first().locator('.questions li').allInnerTexts()).toEqual(confusing[0].questions);
        // the note sits beside the summary, not below it
        const summaryBox = await page.locator('#summary').boundingBox();
        const notesBox = await page.locator('#notes').boundingBox();
        expect(notesBox && summaryBox && notesBox.x > summaryBox.x + summaryBox.width - 1).toBe(true);
        const callsRow = page.locator('#stats tr', { hasText: 'Model calls' }).locator('td').nth(1);
        expect(await callsRow.textContent()).toBe(String(report.usage.calls));

        mkdirSync(artifacts, { recursive: true });
        const screenshot = join(artifacts, 'report.png');
        await page.screenshot({ path: screenshot, fullPage: true });
        expect(statSync(screenshot).size).toBeGreaterThan(10_000);
      } finally {
        await browser.close();
      }
    });
  },
);

// Screenshots of every page at desktop and phone width, for a person to look at:
//   node tools/screenshots.mjs http://127.0.0.1:PORT/ OUTDIR
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, out = '/tmp/studysync-screens'] = process.argv.slice(2);
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

for (const [name, width, height] of [['desktop', 1280, 900], ['phone', 375, 812]]) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ss-')), {
    executablePath: '/usr/bin/chromium', args, viewport: { width, height } });
  const page = await context.newPage();
  const shot = async (what) => {
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (wide > 0) console.log(`${what}-${name}: ${wide} px wider than the screen`);
    await page.screenshot({ path: join(out, `${what}-${name}.png`), fullPage: true });
  };
  await page.goto(url + '#/play');
  await page.getByTestId('status-chip').waitFor();
  await page.getByTestId('letter-choice').first().click();
  await page.getByTestId('status-chip').filter({ hasText: 'Synced' }).waitFor();
  await context.setOffline(true);
  for (let i = 0; i < 3; i++) {
    const target = await page.getByTestId('target-letter').textContent();
    await page.locator(`[data-testid=letter-choice][data-letter="${i === 1 ? target : 'Z'}"]`).or(page.getByTestId('letter-choice').last()).first().click();
  }
  await page.getByTestId('status-chip').filter({ hasText: 'Pending (3)' }).waitFor();
  await page.keyboard.press('Tab');
  await shot('play-offline');
  await page.getByTestId('nav-progress').click();
  await page.getByTestId('progress-list').waitFor();
  await shot('progress-offline');
  await context.setOffline(false);
  await page.getByTestId('sync-now').click();
  await page.getByTestId('status-chip').filter({ hasText: 'Synced' }).waitFor();
  await shot('progress-synced');
  await page.getByTestId('nav-practice').click();
  await page.getByTestId('package-item').first().waitFor();
  await shot('practice-list');
  await page.getByTestId('download-package').first().click();
  await page.getByTestId('start-practice').first().waitFor();
  await context.setOffline(true);
  await page.getByTestId('start-practice').first().click();
  await page.getByTestId('question-stem').waitFor();
  await shot('practice-question');
  while (await page.getByTestId('option-button').count()) {
    await page.getByTestId('option-button').first().click();
    await page.waitForTimeout(50);
  }
  await page.getByTestId('session-summary').waitFor();
  await shot('practice-summary-offline');
  await context.setOffline(false);
  await page.getByTestId('session-result').waitFor({ timeout: 30000 });
  await shot('practice-summary-synced');
  await context.close();
}
console.log(`screenshots in ${out}`);

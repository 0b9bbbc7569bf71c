// Drives the console with the stripchart running: select a channel and wait for its latest
// values to arrive over the stripchart's WebSocket. Usage:
//   node console_values_driver.mjs <base-url> <screenshot-dir> <channel> <field>
// Prints one JSON line; exits non-zero on failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../node_modules/playwright-core'));

const [base, shotDir, channel, field] = process.argv.slice(2);
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-chromium-'));
const result = {};
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(base + '/');
  await page.waitForSelector(`#channels tr[data-channel="${channel}"][data-status="active"]`, { timeout: 10000 });
  await page.click(`#channels tr[data-channel="${channel}"] button.show-schema`);
  await page.waitForFunction(() => document.querySelector('#ws-state').textContent.startsWith('live from'), null,
                             { timeout: 10000 });
  result.ws_state = await page.textContent('#ws-state');
  await page.waitForFunction((f) => [...document.querySelectorAll('#values tr td:first-child')]
    .some((td) => td.textContent === f), field, { timeout: 10000 });
  const read = () => page.$$eval('#values tr', (rows) => Object.fromEntries(rows.map((r) =>
    [r.children[0].textContent, r.children[1].textContent])));
  result.first = await read();
  await page.waitForTimeout(1000);
  result.second = await read();
  await page.screenshot({ path: path.join(shotDir, 'console-live-values.png'), fullPage: true });
  console.log(JSON.stringify(result));
} catch (e) {
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}

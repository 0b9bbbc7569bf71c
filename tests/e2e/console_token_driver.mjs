// Drives the console against an orchestrator that has a bearer token: the first calls get
// 401, the page asks for the token; entering it keeps it for the session and the table loads;
// a wrong token is refused and asked for again.
// Usage: node console_token_driver.mjs <base-url> <token>
// Prints one JSON line with what it saw; exits non-zero on failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../node_modules/playwright-core'));

const [base, token] = process.argv.slice(2);
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-chromium-'));
const result = { page_errors: [] };
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => result.page_errors.push(String(e)));
  const auth = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/channels')) auth.push(r.headers()['authorization'] || null); });
  const tokenState = () => page.evaluate(() => ({
    text: document.querySelector('#token-state').textContent,
    needed: document.querySelector('#token-form').classList.contains('needed'),
    focused: document.activeElement === document.querySelector('#token'),
  }));
  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelector('#token-form').classList.contains('needed'), null, { timeout: 10000 });
  result.asked = await tokenState();

  await page.fill('#token', token);
  await page.click('#token-save');
  await page.waitForSelector('#channels tr[data-channel="example"]', { timeout: 10000 });
  result.rows = await page.$$eval('#channels tbody tr', (rows) => rows.map((r) => r.dataset.channel));
  result.stored = await page.evaluate(() => ({ session: sessionStorage.getItem('speeddata.token'),
                                               local: localStorage.getItem('speeddata.token') }));
  result.authorization = auth[auth.length - 1];
  result.state_after = await tokenState();

  await page.reload();
  await page.waitForSelector('#channels tr[data-channel="example"]', { timeout: 10000 });
  result.after_reload = await page.$$eval('#channels tbody tr', (rows) => rows.map((r) => r.dataset.channel));

  await page.fill('#token', 'wrong-token');
  await page.click('#token-save');
  await page.waitForFunction(() => document.querySelector('#token-form').classList.contains('needed'), null, { timeout: 10000 });
  result.wrong = await tokenState();
  console.log(JSON.stringify(result));
} catch (e) {
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}

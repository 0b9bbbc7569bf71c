// Drives the orchestrator's web console in headless Debian chromium (playwright-core):
// register a channel through the form (schema pasted), wait for it to go active, view its
// schema, take a screenshot, de-register it through the confirmation dialog.
// Usage: node console_driver.mjs <base-url> <screenshot-dir> <channel-name> <schema-file>
// Prints one JSON line with what it saw; exits non-zero on failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../node_modules/playwright-core'));

const [base, shotDir, name, schemaFile] = process.argv.slice(2);
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-chromium-'));
const result = { steps: [] };
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(base + '/');
  await page.waitForSelector('#channels tr[data-channel="example"]', { timeout: 10000 });
  result.steps.push('table');
  result.initial_rows = await page.$$eval('#channels tbody tr', (rows) => rows.map((r) => r.dataset.channel));

  // Register through the form with a pasted schema.
  await page.fill('#register input[name=name]', name);
  await page.fill('#register textarea[name=schema]', fs.readFileSync(schemaFile, 'utf8'));
  await page.fill('#register input[name=factor]', '5');
  await page.selectOption('#register select[name=algorithm]', 'average');
  await page.click('#register-btn');
  await page.waitForFunction(() => /registered .* on UDP port \d+/.test(document.querySelector('#register-result').textContent),
                             null, { timeout: 10000 });
  result.register_message = await page.textContent('#register-result');
  result.steps.push('registered');
  await page.waitForSelector(`#channels tr[data-channel="${name}"][data-status="active"]`, { timeout: 15000 });
  result.steps.push('active');

  // Schema viewer.
  await page.click(`#channels tr[data-channel="${name}"] button.show-schema`);
  await page.waitForFunction(() => document.querySelector('#schema-view').textContent.includes('"fields"'), null,
                             { timeout: 5000 });
  result.schema_shown = (await page.textContent('#schema-view')).includes('sine_wave');
  result.ws_state = await page.textContent('#ws-state');

  // Both themes render; the screenshot is kept as a test artifact.
  await page.click('#theme');
  result.theme = await page.evaluate(() => document.documentElement.dataset.theme);
  await page.screenshot({ path: path.join(shotDir, 'console.png'), fullPage: true });
  await page.click('#theme');
  await page.screenshot({ path: path.join(shotDir, 'console-other-theme.png'), fullPage: true });

  // A bad registration shows the API's message.
  await page.fill('#register input[name=name]', name);
  await page.fill('#register textarea[name=schema]', fs.readFileSync(schemaFile, 'utf8'));
  await page.click('#register-btn');
  await page.waitForFunction(() => document.querySelector('#register-result').textContent.startsWith('409'), null,
                             { timeout: 5000 });
  result.duplicate_message = await page.textContent('#register-result');

  // De-register with confirmation: Cancel keeps it, OK removes it.
  await page.click(`#channels tr[data-channel="${name}"] button.deregister`);
  await page.click('#confirm-cancel');
  await page.waitForTimeout(300);
  result.kept_after_cancel = (await page.$(`#channels tr[data-channel="${name}"]`)) !== null;
  await page.click(`#channels tr[data-channel="${name}"] button.deregister`);
  await page.click('#confirm-ok');
  await page.waitForSelector(`#channels tr[data-channel="${name}"]`, { state: 'detached', timeout: 15000 });
  result.steps.push('deregistered');
  result.page_errors = consoleErrors;
  console.log(JSON.stringify(result));
} catch (e) {
  result.error = String(e);
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}

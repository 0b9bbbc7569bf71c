// Drives the orchestrator's web console in headless Debian chromium (playwright-core):
// register a channel through the form (schema pasted), wait for it to go active, view its
// schema, take a screenshot, de-register it through the confirmation dialog. Also: the form
// after a registration, a second Register click, long doc lines in the schema panel, the
// favicon and every failed request, the number format, the hidden host column of a single host.
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
  // Every answer >= 400 and every console error (a missing favicon shows up in both).
  result.failed_requests = [];
  result.console_errors = [];
  page.on('response', (r) => {
    if (r.status() >= 400) result.failed_requests.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => result.failed_requests.push(`failed ${r.method()} ${r.url()}`));
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  await page.goto(base + '/');
  await page.waitForSelector('#channels tr[data-channel="example"]', { timeout: 10000 });
  result.steps.push('table');
  result.initial_rows = await page.$$eval('#channels tbody tr', (rows) => rows.map((r) => r.dataset.channel));
  // A single host: every row names it (data-host), but the host column, filter and register
  // field are hidden (they would repeat one name).
  result.single_host = await page.evaluate(() => {
    const tr = document.querySelector('#channels tr[data-channel="example"]');
    const shown = (el) => !!el && !el.closest('[hidden]') && getComputedStyle(el).display !== 'none';
    return { host: tr.dataset.host, local: tr.dataset.local, reachable: tr.dataset.reachable,
             host_header: shown(document.querySelector('#channels th.host')),
             host_cell: shown(tr.querySelector('td.host')),
             filter: shown(document.querySelector('#host-filter')),
             register_host: shown(document.querySelector('#register input[name=host]')) };
  });

  // The favicon: linked, served, and /favicon.ico answers too.
  result.favicon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel~=icon]');
    const get = async (u) => { const r = await fetch(u); return { status: r.status, type: r.headers.get('content-type') }; };
    return { href: link && link.getAttribute('href'), linked: link ? await get(link.href) : null, ico: await get('/favicon.ico') };
  });

  // The number format (format.js, the stripchart's formatter).
  result.formats = await page.evaluate(async () => {
    let formatValue;
    try { ({ formatValue } = await import('/format.js')); } catch (e) { return `no format.js: ${e}`; }
    return [[-0, 1], [6.761164496e-14, 1], [6.761164496e-14, 0], [0.9510565162951535, 1], [12345, 0], [-3, 0],
            [1.5e-7, 0], [2345678901.5, 0], [123.456789, 0], [-1e-17, 1]].map(([v, s]) => formatValue(v, s));
  });

  // Register through the form with a pasted schema, one of whose docs is a long line.
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
  const longDoc = 'A long doc line that explains the field in great detail, as real schemas do: ' +
    'sensor, units, calibration, mounting position and the rig it belongs to; ' + 'see-' + 'x'.repeat(120) + ' ' +
    'and then some more words so that the line is far wider than the panel that shows it.';
  schema.fields[1].doc = longDoc;
  await page.fill('#register input[name=name]', name);
  await page.fill('#register textarea[name=schema]', JSON.stringify(schema, null, 2));
  await page.fill('#register input[name=factor]', '5');
  await page.selectOption('#register select[name=algorithm]', 'average');
  await page.click('#register-btn');
  await page.waitForFunction(() => /registered .* on UDP port \d+/.test(document.querySelector('#register-result').textContent),
                             null, { timeout: 10000 });
  result.register_message = await page.textContent('#register-result');
  result.register_class = await page.getAttribute('#register-result', 'class');
  result.steps.push('registered');
  // The form is clean for the next channel.
  result.form_after = await page.evaluate(() => {
    const f = document.querySelector('#register');
    return { name: f.name.value, port: f.port.value, schema: f.schema.value, factor: f.factor.value, algorithm: f.algorithm.value };
  });
  // A second click on Register (empty form) answers visibly: the API's message.
  await page.click('#register-btn');
  await page.waitForFunction(() => /^400: name/.test(document.querySelector('#register-result').textContent), null,
                             { timeout: 10000 }).catch(() => {});  // the test says what it saw
  result.second_click_message = await page.textContent('#register-result');
  result.second_click_class = await page.getAttribute('#register-result', 'class');
  await page.waitForSelector(`#channels tr[data-channel="${name}"][data-status="active"]`, { timeout: 15000 });
  result.steps.push('active');

  // Schema viewer.
  await page.click(`#channels tr[data-channel="${name}"] button.show-schema`);
  await page.waitForFunction(() => document.querySelector('#schema-view').textContent.includes('"fields"'), null,
                             { timeout: 5000 });
  result.schema_shown = (await page.textContent('#schema-view')).includes('sine_wave');
  await page.waitForFunction(() => document.querySelector('#schema-view').textContent.includes('great detail'), null,
                             { timeout: 5000 });
  // The long doc line wraps: nothing runs off the panel's edge, and the text is all there.
  result.schema_panel = await page.evaluate((doc) => {
    const pre = document.querySelector('#schema-view');
    return { scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth, whole_doc: pre.textContent.includes(doc) };
  }, longDoc);
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
  // The same answer again is an answer too (counted, and it flashes).
  const answers = () => page.evaluate(() => Number(document.querySelector('#register-result').dataset.answers || 0));
  const before = await answers();
  await page.click('#register-btn');
  await page.waitForFunction((n) => Number(document.querySelector('#register-result').dataset.answers || 0) > n, before,
                             { timeout: 5000 }).catch(() => {});
  result.repeat = { answers: (await answers()) - before, message: await page.textContent('#register-result'),
                    class: await page.getAttribute('#register-result', 'class') };

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

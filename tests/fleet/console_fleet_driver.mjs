// Drives one fleet host's web console in headless Debian chromium (playwright-core) and prints
// what its channel table shows of the fleet: each row's host, status, reachability and stale
// figures. Optionally registers a channel for another host through the form and de-registers
// it through the confirmation dialog, and filters the table on one host.
// Usage: node console_fleet_driver.mjs <base-url> <spec-json>
//   spec: {"wait": {CHANNEL: {ATTR: VALUE, ...}},   rows' data attributes to wait for
//          "timeout_ms": 20000,                      how long to wait for them
//          "register": {"name", "host", "schema_file"},
//          "filter": HOST,
//          "screenshot": PNG-PATH}                   the page after the first wait (a test artifact)
// Prints one JSON line with what it saw; exits non-zero on failure (the test says what failed).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../node_modules/playwright-core'));

const [base, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson || '{}');
const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-chromium-'));
const result = { page_errors: [] };
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1600, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// The table as a user sees it: visible cells' text, plus the data attributes tests assert on.
const snapshot = (page) => page.evaluate(() => {
  const shown = (el) => !!el && !el.closest('[hidden]') && getComputedStyle(el).display !== 'none';
  const rows = [...document.querySelectorAll('#channels tbody tr')].map((tr) => {
    const stale = [...tr.querySelectorAll('td.stale')];
    return {
      channel: tr.dataset.channel ?? null, host: tr.dataset.host ?? null, local: tr.dataset.local ?? null,
      reachable: tr.dataset.reachable ?? null, status: tr.dataset.status ?? null,
      host_text: tr.querySelector('td.host')?.textContent ?? null,
      host_shown: shown(tr.querySelector('td.host')),
      status_text: tr.querySelector('td.status')?.textContent ?? null,
      status_class: tr.querySelector('td.status')?.className ?? null,
      stale_cells: stale.length, stale_title: stale[0]?.title ?? null,
      text: tr.textContent,
    };
  });
  const sel = document.querySelector('#host-filter');
  return {
    rows,
    host_header: shown(document.querySelector('#channels th.host')),
    filter_shown: shown(sel),
    filter_value: sel?.value ?? null,
    filter_options: [...(sel?.options ?? [])].map((o) => [o.value, o.textContent]),
    known_hosts: [...document.querySelectorAll('#known-hosts option')].map((o) => o.value),
    register_host_shown: shown(document.querySelector('#register input[name=host]')),
    shown_note: document.querySelector('#shown')?.textContent ?? null,
    fleet_state: shown(document.querySelector('#fleet-state')) ? document.querySelector('#fleet-state').textContent : null,
    url: location.href,
  };
});

// Until every channel in `want` has a row whose data attributes match.
const waitRows = (page, want, timeout = 20000) => page.waitForFunction((w) => Object.entries(w).every(([ch, attrs]) => {
  const tr = document.querySelector(`#channels tr[data-channel="${ch}"]`);
  return tr && Object.entries(attrs).every(([k, v]) => tr.dataset[k] === v);
}), want, { timeout, polling: 200 });

// The next refresh of the table (it is redrawn every 2 s).
const nextRefresh = async (page) => {
  const before = await page.textContent('#updated');
  await page.waitForFunction((b) => document.querySelector('#updated').textContent !== b, before,
                             { timeout: 10000, polling: 100 });
};

let page;
try {
  page = await browser.newPage();
  page.on('pageerror', (e) => result.page_errors.push(String(e)));
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/channels')) posts.push(JSON.parse(r.postData() || 'null'));
  });
  await page.goto(base + '/');
  await waitRows(page, spec.wait || {}, spec.timeout_ms || 20000);
  result.table = await snapshot(page);
  if (spec.screenshot) await page.screenshot({ path: spec.screenshot, fullPage: true });

  if (spec.register) {
    const { name, host, schema_file: schemaFile } = spec.register;
    await page.fill('#register input[name=name]', name);
    await page.fill('#register input[name=host]', host);
    await page.fill('#register textarea[name=schema]', fs.readFileSync(schemaFile, 'utf8'));
    await page.click('#register-btn');
    await page.waitForFunction(() => /registered|^\d{3}:/.test(document.querySelector('#register-result').textContent),
                               null, { timeout: 10000 });
    result.register = { message: await page.textContent('#register-result'), sent_host: posts.at(-1)?.host ?? null };
    await waitRows(page, { [name]: { host } }, 10000);
    const row = (await snapshot(page)).rows.find((r) => r.channel === name);
    await page.click(`#channels tr[data-channel="${name}"] button.deregister`);
    result.register.confirm_text = await page.textContent('#confirm-text');
    result.register.row = row;
    await page.click('#confirm-ok');
    await page.waitForSelector(`#channels tr[data-channel="${name}"]`, { state: 'detached', timeout: 15000 });
    result.register.deregister_message = await page.textContent('#register-result');
  }

  if (spec.filter) {
    await page.selectOption('#host-filter', spec.filter);
    result.filtered = await snapshot(page);
    // Kept across the auto-refresh, and in the address (a reload shows the same host).
    await nextRefresh(page);
    result.filtered_after_refresh = await snapshot(page);
    await page.reload();
    await waitRows(page, {});
    await nextRefresh(page);
    result.filtered_after_reload = await snapshot(page);
    await page.selectOption('#host-filter', '');
    result.unfiltered = await snapshot(page);
  }
  console.log(JSON.stringify(result));
} catch (e) {
  result.error = String(e);
  try { result.table_at_error = await snapshot(page); } catch { /* no page, or it is gone */ }
  console.log(JSON.stringify(result));
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}

// Headless Chromium for tests/e2e/test_readme.py: opens a README HTML snippet saved as a file
// (file://, as a user opening it from disk would) and reports what its charts show.
//   node readme_driver.js <page.html> <screenshot.png>
// Prints one JSON line: {"charts": [{"status", "points", "signals"}], "errors": [...]}.
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

(async () => {
  const [file, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 500 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto('file://' + file);
    // Live: every chart attached, connected and drawing samples.
    await page.waitForFunction(() => {
      const cs = [...document.querySelectorAll('canvas.stripchart')].map((c) => c._stripchart);
      return cs.length > 0 && cs.every((c) => c && c.status === 'live' && c.points > 0);
    }, null, { timeout: 60000 }).catch((e) => errors.push('not live: ' + e.message));
    const charts = await page.evaluate(() => [...document.querySelectorAll('canvas.stripchart')].map((c) => ({
      status: c._stripchart ? c._stripchart.status : null,
      points: c._stripchart ? c._stripchart.points : 0,
      signals: c.dataset.signals,
    })));
    await page.screenshot({ path: shot });
    console.log(JSON.stringify({ charts, errors }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.log(JSON.stringify({ charts: [], errors: [String(e)] })); process.exit(1); });

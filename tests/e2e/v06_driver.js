// Headless Chromium driver for tests/e2e/test_v06_pages.py: an earlier (v0.6) style page, its
// latest values and charts. Usage: node v06_driver.js <url> <artifacts dir> <tag> <schemes>
// Prints one JSON line per colour scheme.
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const [url, artifacts, tag, schemes] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A canvas's pixel hash and how many pixels are near each given colour.
function canvasInfo(page, index, colors) {
  return page.evaluate(([i, colors]) => {
    const c = document.querySelectorAll('canvas.stripchart')[i];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    const counts = colors.map(() => 0);
    const rgb = colors.map((x) => [1, 3, 5].map((k) => parseInt(x.slice(k, k + 2), 16)));
    for (let p = 0; p < d.length; p += 4) {
      h = (h * 31 + d[p] + 7 * d[p + 1] + 13 * d[p + 2]) | 0;
      for (let k = 0; k < rgb.length; k++) {
        if (Math.abs(d[p] - rgb[k][0]) + Math.abs(d[p + 1] - rgb[k][1]) + Math.abs(d[p + 2] - rgb[k][2]) < 30) counts[k]++;
      }
    }
    const ch = c._stripchart;
    return { hash: h, counts, status: ch && ch.status, points: ch && ch.points, fed: !!(ch && ch._fedSeries) };
  }, [index, colors]);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const scheme of schemes.split(',')) {
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 1400 }, colorScheme: scheme });
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url);
      const values = () => page.evaluate(() => {
        const v = {};
        document.querySelectorAll('.data').forEach((e) => { v[e.id] = e.textContent; });
        return v;
      });
      await page.waitForFunction(() => !/Waiting/.test(document.getElementById('counter').textContent) &&
        !/Waiting/.test(document.getElementById('time').textContent), null, { timeout: 20000 });
      await page.waitForFunction(() => window.stripcharts && stripcharts.length === 3 &&
        stripcharts.every((c) => c.points > 3), null, { timeout: 20000 });
      const globals = await page.evaluate(() => ({
        Stripchart: typeof window.Stripchart,
        stripcharts: Array.isArray(window.stripcharts) ? stripcharts.length : -1,
        instance: window.stripcharts && stripcharts[0] instanceof window.Stripchart,
        addDataPoint: typeof window.addDataPoint,
        method: window.stripcharts && typeof stripcharts[0].addDataPoint,
        signals: window.stripcharts && stripcharts.map((c) => c.signals),
        palettes: window.SpeedDataStripchart && SpeedDataStripchart.palettes,
      }));
      const v1 = await values();
      const c1 = await canvasInfo(page, 0, []);
      await sleep(2000);
      const v2 = await values();
      const pal = scheme === 'dark' ? ['#FFFF00', '#00FFFF', '#FF00FF', '#00FF00'] : ['#0000FF', '#FF0000', '#00AA00', '#FF8000'];
      const c2 = await canvasInfo(page, 0, [pal[0]]);
      const all = await canvasInfo(page, 1, pal);
      const custom = await canvasInfo(page, 2, ['#FF0000', '#00FF00']);
      await page.screenshot({ path: path.join(artifacts, `stripchart-v06-${tag}-${scheme}.png`), fullPage: true });
      out({ step: 'page', scheme, errors, globals, before: v1, after: v2, chart_before: c1, chart_after: c2, all, custom });
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { out({ step: 'error', error: String(e && e.stack || e) }); process.exit(1); });

// Headless Chromium driver for tests/e2e/test_stripchart.py. Usage:
//   node stripchart_driver.js <mode> <url> <artifacts dir>
// Prints one JSON line per check ({"step": ..., ...}); in "reconnect" mode it prints
// {"step":"restart-now"} and waits for a line on stdin once the server was restarted.
const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const [mode, url, artifacts] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stdinLines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((r) => stdinLines.once('line', r));

// Pixel statistics of a canvas: a hash, and how many pixels are near each given colour.
async function canvasInfo(page, index, colors) {
  return page.evaluate(([i, colors]) => {
    const c = document.querySelectorAll('canvas.stripchart')[i];
    const g = c.getContext('2d');
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    const counts = colors.map(() => 0);
    const rgb = colors.map((x) => [1, 3, 5].map((k) => parseInt(x.slice(k, k + 2), 16)));
    for (let p = 0; p < d.length; p += 4) {
      h = (h * 31 + d[p] + 7 * d[p + 1] + 13 * d[p + 2]) | 0;
      for (let k = 0; k < rgb.length; k++) {
        if (Math.abs(d[p] - rgb[k][0]) + Math.abs(d[p + 1] - rgb[k][1]) + Math.abs(d[p + 2] - rgb[k][2]) < 30) counts[k]++;
      }
    }
    const corner = Array.from(d.slice((c.width * 60 + 70) * 4, (c.width * 60 + 70) * 4 + 3));
    const ch = c._stripchart;
    return { hash: h, counts, corner, status: ch && ch.status, points: ch && ch.points,
             fps: ch && ch.fps, drawMs: ch && ch.drawMs, width: c.width, height: c.height,
             cssHeight: c.getBoundingClientRect().height, windowMs: ch && ch.windowMs, yRange: ch && ch.yRange };
  }, [index, colors]);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    if (mode === 'dashboard') {
      for (const scheme of ['dark', 'light']) {
        const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, colorScheme: scheme });
        const page = await ctx.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        // Every answer >= 400 and every console error (a missing favicon shows up in both).
        const failed = [], consoleErrors = [];
        page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
        page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
        await page.goto(url);
        await page.waitForSelector('#channel-example dd.num', { timeout: 10000 });
        await page.waitForFunction(() => /Z$/.test(document.querySelector('#channel-example dd.time').textContent), null, { timeout: 10000 });
        const read = () => page.evaluate(() => {
          const vals = {};
          document.querySelectorAll('.channel').forEach((s) => {
            const dl = {};
            const dts = s.querySelectorAll('dt'), dds = s.querySelectorAll('dd');
            dts.forEach((dt, i) => { dl[dt.textContent] = dds[i].textContent; });
            vals[s.id.replace('channel-', '')] = dl;
          });
          return { vals, charts: Array.from(document.querySelectorAll('canvas.stripchart')).map((c) => c.dataset.signals),
                   conn: document.getElementById('conn-text').textContent, bg: getComputedStyle(document.body).backgroundColor };
        });
        const a = await read();
        const ca = await canvasInfo(page, 0, []);
        await sleep(1500);
        const b = await read();
        const cb = await canvasInfo(page, 0, []);
        const pal = scheme === 'dark' ? '#00FFFF' : '#FF0000';  // second palette colour: the channel's second numeric signal
        const cc = await canvasInfo(page, 1, [pal]);
        // The legend's value and the latest-values panel, read at the same moment (a draw
        // forced first), a few times: they must agree, sample and format.
        const agree = [];
        for (let i = 0; i < 8; i++) {
          agree.push(await page.evaluate(() => SpeedDataStripchart.charts.map((c) => {
            c.draw();
            const l = (c.legend || [])[0];
            const dt = document.querySelector(`dt[data-signal="${c.signals[0]}"]`);
            return { signal: c.signals[0], legend: l ? l.text : null, source: l ? l.source : null,
                     panel: dt ? dt.nextElementSibling.textContent : null };
          })));
          await sleep(250);
        }
        const favicon = await page.evaluate(async () => {
          const link = document.querySelector('link[rel~=icon]');
          const get = async (u) => { const r = await fetch(u); return { status: r.status, type: r.headers.get('content-type') }; };
          return { href: link && link.getAttribute('href'), linked: link ? await get(link.href) : null, ico: await get('/favicon.ico') };
        });
        const formats = await page.evaluate(() => {
          const f = SpeedDataStripchart.formatValue;
          return f ? [[-0, 1], [6.761164496e-14, 1], [0.9510565162951535, 1], [12345, 0], [1.5e-7, 0]].map(([v, s]) => f(v, s)) : null;
        });
        await page.screenshot({ path: path.join(artifacts, `stripchart-dashboard-${scheme}.png`), fullPage: true });
        out({ step: 'dashboard', scheme, before: a, after: b, canvas_before: ca, canvas_after: cb, palette: cc, errors,
              agree, favicon, formats, failed, console_errors: consoleErrors });
        await ctx.close();
      }
    } else if (mode === 'example') {
      for (const scheme of ['dark', 'light']) {
        const ctx = await browser.newContext({ viewport: { width: 1200, height: 1200 }, colorScheme: scheme });
        const page = await ctx.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(url);
        await page.waitForFunction(() => window.SpeedDataStripchart && SpeedDataStripchart.charts.length === 3 &&
          SpeedDataStripchart.charts.every((c) => c.points > 5), null, { timeout: 15000 });
        const first = [];
        for (let i = 0; i < 3; i++) first.push(await canvasInfo(page, i, []));
        await sleep(3000);
        const dark = ['#FFFF00', '#00FFFF', '#FF00FF'], light = ['#0000FF', '#FF0000', '#00AA00'];
        const pal = scheme === 'dark' ? dark : light;
        const c0 = await canvasInfo(page, 0, [pal[0]]);
        const c1 = await canvasInfo(page, 1, pal);
        const c2 = await canvasInfo(page, 2, ['#FF0000', '#00FF00', pal[0]]);
        // Hover read-out and pause: the paused chart stops changing while data keeps coming.
        const box = await page.locator('canvas.stripchart').nth(1).boundingBox();
        await page.mouse.move(box.x + box.width - 20, box.y + box.height / 2);
        await sleep(200);
        // The read-out with the page's clock at that moment (the test compares the two: the
        // whole drive can take long on a loaded machine).
        const readout = await page.evaluate(() => {
          const r = SpeedDataStripchart.charts[1].readout;
          return r ? Object.assign({}, r, { at: Date.now() }) : r;
        });
        await page.screenshot({ path: path.join(artifacts, `stripchart-example-${scheme}.png`), fullPage: true });
        await page.mouse.move(box.x + box.width / 2, box.y + box.height + 150);
        await page.locator('canvas.stripchart').nth(0).click();
        // The paused picture still takes in the cache's tiles up to its frozen edge (the relay
        // flushes every second; slower on a loaded machine): look once the cache is past the
        // edge and no history answer is on its way (at most 10 s), then twice 800 ms apart.
        await page.waitForFunction(() => {
          const c = SpeedDataStripchart.charts[0], h = c.conn.history, cov = h.coverage.example;
          return cov && cov.last > c.view().end + 500 && h.inflight === 0 && !h.queue.length;
        }, null, { timeout: 10000, polling: 100 }).catch(() => {});
        await sleep(300);
        const p1 = await canvasInfo(page, 0, []);
        const pts1 = await page.evaluate(() => SpeedDataStripchart.charts[0].series[0].length());
        await sleep(800);
        const p2 = await canvasInfo(page, 0, []);
        const pts2 = await page.evaluate(() => SpeedDataStripchart.charts[0].series[0].length());
        await page.locator('canvas.stripchart').nth(0).click();
        await sleep(300);
        const p3 = await canvasInfo(page, 0, []);
        out({ step: 'example', scheme, first, c0, c1, c2, paused: [p1, p2, p3], buffered: [pts1, pts2], errors, readout,
              server: await page.evaluate(() => SpeedDataStripchart.charts[0].conn.url) });
        await ctx.close();
      }
    } else if (mode === 'reconnect') {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 }, colorScheme: 'dark' });
      const page = await ctx.newPage();
      await page.goto(url);
      const status = () => page.evaluate(() => SpeedDataStripchart.charts.map((c) => c.status));
      await page.waitForFunction(() => SpeedDataStripchart.charts.length && SpeedDataStripchart.charts[0].status === 'live', null, { timeout: 15000 });
      out({ step: 'live', status: await status() });
      // The source stops: the chart says its data is stale (still connected).
      await sleep(3000);
      out({ step: 'stop-source-now' });
      await nextLine();
      await page.waitForFunction(() => SpeedDataStripchart.charts[0].status === 'stale', null, { timeout: 15000 });
      await page.screenshot({ path: path.join(artifacts, 'stripchart-stale.png') });
      out({ step: 'stale', status: await status() });
      out({ step: 'restart-now' });
      // The server is down: the chart says so.
      await page.waitForFunction(() => ['connecting', 'closed'].includes(SpeedDataStripchart.charts[0].status), null, { timeout: 10000 });
      const down = await status();
      await page.screenshot({ path: path.join(artifacts, 'stripchart-disconnected.png') });
      out({ step: 'down', status: down });
      await nextLine();
      await page.waitForFunction(() => SpeedDataStripchart.charts[0].status === 'live', null, { timeout: 20000 });
      const h1 = (await canvasInfo(page, 0, [])).hash;
      await sleep(700);
      const h2 = (await canvasInfo(page, 0, [])).hash;
      await page.screenshot({ path: path.join(artifacts, 'stripchart-reconnected.png') });
      out({ step: 'back', status: await status(), changed: h1 !== h2 });
    } else if (mode === 'loss') {
      // A sequence gap in the multicast stream shows up as a marker on the chart.
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 500 }, colorScheme: 'dark' });
      const page = await ctx.newPage();
      await page.goto(url);
      await page.waitForFunction(() => SpeedDataStripchart.charts.length && SpeedDataStripchart.charts[0].status === 'live', null, { timeout: 15000 });
      const before = await canvasInfo(page, 0, ['#FF3B3B']);
      out({ step: 'inject-now' });
      await nextLine();
      await page.waitForFunction(() => (SpeedDataStripchart.charts[0].conn.loss.example || []).length > 0, null, { timeout: 10000 });
      await sleep(300);
      const after = await canvasInfo(page, 0, ['#FF3B3B']);
      const loss = await page.evaluate(() => SpeedDataStripchart.charts[0].conn.loss.example);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-loss-marker.png') });
      out({ step: 'loss', before: before.counts[0], after: after.counts[0], loss });
    } else if (mode === 'latency') {
      // Source time stamp -> browser draw, for every sample drawn during 10 s.
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 500 } });
      const page = await ctx.newPage();
      // A same-origin empty page (Chromium blocks about:blank from loading local-network scripts).
      await page.goto(new URL('/api/v1/health', url).href);
      await page.evaluate(() => { document.body.textContent = ''; });
      await page.addScriptTag({ url });
      const r = await page.evaluate(async () => {
        const SD = window.SpeedDataStripchart;
        const c = document.createElement('canvas');
        c.className = 'stripchart'; c.dataset.signals = 'example.sine_wave'; c.dataset.window = '10';
        document.body.appendChild(c);
        const ch = SD.attach(c);
        await new Promise((res) => setTimeout(res, 2000));  // connect, warm up
        const lat = [], recv = [];
        const se = ch.series[0];
        const lastOf = () => (se.tail > se.head ? se.t[se.tail - 1] : -Infinity);
        const onFrame = ch.conn.onFrame;
        ch.conn.onFrame = function (buf) {
          const before = lastOf();
          const backfill = new DataView(buf).getUint32(4, true) === 0;
          onFrame.call(this, buf);
          const now = Date.now();
          if (!backfill) for (let i = se.lowerBound(before); i < se.tail; i++) if (se.t[i] > before) recv.push(now - se.t[i]);
        };
        const raf = [];
        let lastRaf = performance.now();
        (function f(ts) { raf.push(ts - lastRaf); lastRaf = ts; requestAnimationFrame(f); })(performance.now());
        // By time, not index: the buffer is compacted now and then (and starts with the
        // server's backfill of the last seconds, which is not live data).
        let seenT = lastOf();
        const draw = ch.draw;
        ch.draw = function () {
          draw.call(this);
          const now = Date.now();
          for (let i = se.lowerBound(seenT) ; i < se.tail; i++) if (se.t[i] > seenT) lat.push(now - se.t[i]);
          if (se.tail > se.head) seenT = Math.max(seenT, se.t[se.tail - 1]);
        };
        await new Promise((res) => setTimeout(res, 10000));
        const q = (a, p) => { a.sort((x, y) => x - y); return Math.round(10 * a[Math.min(a.length - 1, Math.floor(p * a.length))]) / 10; };
        return { samples: lat.length, draw_p50_ms: q(lat, 0.5), draw_p99_ms: q(lat, 0.99),
                 receive_p50_ms: q(recv, 0.5), receive_p99_ms: q(recv, 0.99), raf_interval_p50_ms: q(raf, 0.5) };
      });
      out({ step: 'latency', ...r });
    } else if (mode === 'render-bench') {
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 700 } });
      const page = await ctx.newPage();
      // A same-origin empty page (Chromium blocks about:blank from loading local-network scripts).
      await page.goto(new URL('/api/v1/health', url).href);
      await page.evaluate(() => { document.body.textContent = ''; });
      await page.addScriptTag({ url });  // url: the stripchart.js to measure
      const r = await page.evaluate(async () => {
        // 8 signals x 60 s x 1 kHz injected straight into the series, then 3 s of drawing.
        const SD = window.SpeedDataStripchart;
        const names = []; for (let i = 0; i < 8; i++) names.push('bench.s' + i);
        const c = document.createElement('canvas');
        c.className = 'stripchart'; c.dataset.signals = names.join(','); c.dataset.window = '60'; c.dataset.height = '500';
        c.dataset.server = 'ws://127.0.0.1:9/ws';
        document.body.appendChild(c);
        // Baseline: the same page's animation frames with no chart drawing.
        const base = []; let lb = performance.now();
        await new Promise((res) => {
          function f(ts) { base.push(ts - lb); lb = ts; if (base.length < 120) requestAnimationFrame(f); else res(); }
          requestAnimationFrame(f);
        });
        base.sort((a, b) => a - b);
        const ch = SD.attach(c);
        const now = Date.now(), n = 60000;
        ch.series.forEach((s, k) => {
          const t = new Float64Array(n), v = new Float64Array(n);
          for (let i = 0; i < n; i++) { t[i] = now - 60000 + i; v[i] = Math.sin(i / (200 + 30 * k)) + 0.1 * Math.random(); }
          s.push(t, v, -Infinity);
        });
        const frames = []; let last = performance.now();
        await new Promise((res) => {
          function f(ts) { frames.push(ts - last); last = ts; if (frames.length < 180) requestAnimationFrame(f); else res(); }
          requestAnimationFrame(f);
        });
        frames.sort((a, b) => a - b);
        return { points: ch.points, draw_ms: ch.drawMs, baseline_median_frame_ms: base[60], median_frame_ms: frames[90], p95_frame_ms: frames[171],
                 fps: 1000 / (frames.reduce((a, b) => a + b, 0) / frames.length) };
      });
      out({ step: 'render-bench', ...r });
    }
  } finally {
    await browser.close();
    stdinLines.close();
  }
})().catch((e) => { out({ step: 'error', error: String(e && e.stack || e) }); process.exit(1); });

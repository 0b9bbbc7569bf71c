// Headless Chromium driver for tests/e2e/test_stripchart_history.py: history navigation, tags,
// downloads, layouts and the drawn sine. Usage:
//   node history_driver.js <mode> <base url> <artifacts dir> [json args]
// Prints one JSON line per result ({"step": ..., ...}); exits 1 after {"step": "error"}.
const path = require('path');
const fs = require('fs');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const [mode, base, artifacts, argText] = process.argv.slice(2);
const args = argText ? JSON.parse(argText) : {};
const out = (o) => console.log(JSON.stringify(o));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A page of the stripchart's origin with one chart (the script from the server).
async function chartPage(ctx, opts) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/api/v1/health');
  await page.evaluate(() => { document.documentElement.innerHTML = '<head></head><body style="margin:0;background:#000"></body>'; });
  await page.addScriptTag({ url: base + '/stripchart.js' });
  await page.evaluate((o) => {
    for (const spec of o.charts) {
      const c = document.createElement('canvas');
      c.className = 'stripchart';
      c.style.width = (o.width || 1200) + 'px';
      for (const k in spec) c.dataset[k] = spec[k];
      document.body.appendChild(c);
    }
    SpeedDataStripchart.scan();
  }, opts);
  return { page, errors };
}

const chartState = (page, i = 0) => page.evaluate((i) => {
  const c = SpeedDataStripchart.charts[i];
  const v = c.view();
  return { live: v.live, start: v.start, end: v.end, span: v.span, status: c.status, points: c.points,
           split: c.splits && c.splits[0], modes: c.modes, fps: c.fps, drawMs: c.drawMs,
           tagsShown: c.tagsShown, historyRequests: c.conn.history.requests, historyAvailable: c.conn.history.available,
           coverage: c.conn.history.coverage, now: Date.now(), liveRight: c.liveRight() };
}, i);

// How much of [t0, t1] (ms) chart i drew for its first signal, as last drawn: the share of the
// columns from the first to the last one with samples, and the longest stretch without any.
const covered = (page, t0, t1, i = 0) => page.evaluate(([t0, t1, i]) => {
  const c = SpeedDataStripchart.charts[i];
  const p = c.plot, cols = Math.round(p.width * p.dpr), colMs = (p.end - p.start) / cols;
  let first = null, last = null, n = 0, gap = 0, prev = null;
  for (let k = 0; k < cols; k++) {
    const t = p.start + (k + 0.5) * colMs;
    if (t < t0 || t > t1) continue;
    n++;
    if (!c.cN[k]) continue;
    if (first === null) first = k;
    if (prev !== null) gap = Math.max(gap, (k - prev) * colMs);
    prev = last = k;
  }
  const lead = first === null ? t1 - t0 : Math.max(0, p.start + (first + 0.5) * colMs - t0);
  return { share: first === null ? 0 : (last - first + 1) / n, leadMs: lead, maxGapMs: gap };
}, [t0, t1, i]);

// Shift-drag from fraction a to b of the plot width on chart i (a range selection).
async function selectRange(page, i, a, b) {
  const geo = await page.evaluate((i) => {
    const c = SpeedDataStripchart.charts[i];
    const r = c.canvas.getBoundingClientRect();
    return { x: r.left + c.plot.left, y: r.top + c.plot.top + c.plot.height / 2, w: c.plot.width };
  }, i);
  await page.keyboard.down('Shift');
  await page.mouse.move(geo.x + a * geo.w, geo.y);
  await page.mouse.down();
  await page.mouse.move(geo.x + ((a + b) / 2) * geo.w, geo.y, { steps: 4 });
  await page.mouse.move(geo.x + b * geo.w, geo.y, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  await page.waitForSelector('.stripchart-menu', { timeout: 5000 });
  return page.evaluate(() => {
    const m = SpeedDataStripchart.menu();
    return { start: m.sel.start, end: m.sel.end };
  });
}

async function clickButton(page, i, key) {
  const b = await page.evaluate(([i, key]) => {
    const c = SpeedDataStripchart.charts[i];
    const r = c.canvas.getBoundingClientRect();
    const b = c.buttons.find((x) => x.key === key);
    return b ? { x: r.left + b.x + b.w / 2, y: r.top + b.y + b.h / 2 } : null;
  }, [i, key]);
  if (!b) throw new Error('no ' + key + ' button');
  await page.mouse.click(b.x, b.y);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 800 }, colorScheme: 'dark', acceptDownloads: true });
    if (mode === 'full') {
      // The page opens showing the last window at once (from the cache), then goes on live.
      const t0 = Date.now();
      const { page, errors } = await chartPage(ctx, { charts: [{ signals: 'example.sine_wave', window: String(args.window), height: '300' }] });
      await page.waitForFunction(() => SpeedDataStripchart.charts[0].points > 0, null, { timeout: 10000 });
      const firstMs = Date.now() - t0;
      // Within a second of the first drawn frame the window is full, up to the newest decimated
      // point (the stream's 10-record windows are 1 s at 10/s, so it lags by up to ~1.5 s).
      await sleep(1000);
      const s1 = await chartState(page);
      const full1 = await covered(page, s1.start, s1.end - 1500);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-opens-full.png') });
      // Then live continues: no gap at the join (every column from the first one has data).
      await sleep(3000);
      const s2 = await chartState(page);
      const full2 = await covered(page, s2.start, s2.end - 1500);
      out({ step: 'full', firstMs, s1, full1, s2, full2, errors });
    } else if (mode === 'navigate') {
      const { page, errors } = await chartPage(ctx, { charts: [
        { signals: 'example.sine_wave', window: '10', height: '260' },
        { signals: 'example.ramp', window: '10', height: '260' }] });
      await page.waitForFunction(() => SpeedDataStripchart.charts[0].points > 10, null, { timeout: 15000 });
      const box = await page.locator('canvas.stripchart').nth(0).boundingBox();
      const live0 = await chartState(page);
      // Wheel out (zoom): still live, wider.
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      for (let i = 0; i < 2; i++) { await page.mouse.wheel(0, 200); await sleep(50); }
      await sleep(300);
      const zoomed = await chartState(page);
      const zoomed2 = await chartState(page, 1);
      // Drag to the right: back into history, as far as the drag goes.
      const x0 = box.x + box.width * 0.3, y = box.y + box.height / 2;
      await page.mouse.move(x0, y);
      await page.mouse.down();
      for (let k = 1; k <= 10; k++) await page.mouse.move(x0 + k * box.width * 0.04, y);
      await page.mouse.up();
      await sleep(300);
      const panned = await chartState(page);
      const panned2 = await chartState(page, 1);
      // Wheel in around the pointer while in history: narrower, the time under it stays put.
      const tUnder = await page.evaluate((x) => SpeedDataStripchart.charts[0].timeAt(x), box.width * 0.5);
      await page.mouse.move(box.x + box.width * 0.5, y);
      for (let i = 0; i < 3; i++) { await page.mouse.wheel(0, -200); await sleep(50); }
      await sleep(1500);  // history tiles arrive
      const zin = await chartState(page);
      const tUnder2 = await page.evaluate((x) => SpeedDataStripchart.charts[0].timeAt(x), box.width * 0.5);
      const fill = await covered(page, Math.max(zin.start, (zin.coverage.example || { first: zin.start }).first), zin.end);
      // As far as the cache goes: a long drag stops with the cache's oldest sample in view.
      for (let k = 1; k <= 5; k++) {
        await page.mouse.move(box.x + 70, y); await page.mouse.down();
        for (let j = 1; j <= 10; j++) await page.mouse.move(box.x + 70 + j * box.width * 0.09, y);
        await page.mouse.up();
      }
      await sleep(300);
      const far = await chartState(page);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-history-oldest.png') });
      // Panning frame rate: drag continuously for 2 s.
      const fpsBefore = await page.evaluate(() => SpeedDataStripchart.charts[0].frames);
      const tStart = Date.now();
      await page.mouse.move(x0, y); await page.mouse.down();
      let k = 0;
      while (Date.now() - tStart < 2000) { await page.mouse.move(x0 + (k % 40) * 4, y); k++; await sleep(16); }
      await page.mouse.up();
      const frames = await page.evaluate(() => SpeedDataStripchart.charts[0].frames) - fpsBefore;
      const panFps = frames * 1000 / (Date.now() - tStart);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-history.png') });
      // The "live" button returns to the live edge.
      await clickButton(page, 0, 'live');
      await sleep(400);
      const back = await chartState(page);
      const back2 = await chartState(page, 1);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-back-live.png') });
      out({ step: 'navigate', live0, zoomed, zoomed2, panned, panned2, zin, tUnder, tUnder2, fill, far, panFps, back, back2, errors });
    } else if (mode === 'tag') {
      // A range selected on one page becomes a tag that the other page shows.
      const a = await chartPage(ctx, { charts: [{ signals: 'example.sine_wave', window: '20', height: '260' }] });
      const ctxB = await browser.newContext({ viewport: { width: 1300, height: 400 }, colorScheme: 'dark' });
      const b = await chartPage(ctxB, { charts: [{ signals: 'example.sine_wave,example.ramp', window: '20', height: '260' }] });
      for (const p of [a.page, b.page])
        await p.waitForFunction(() => SpeedDataStripchart.charts[0].points > 10 && SpeedDataStripchart.charts[0].conn.config, null, { timeout: 15000 });
      await a.page.evaluate(() => SpeedDataStripchart.charts[0].pause());
      await b.page.evaluate(() => SpeedDataStripchart.charts[0].pause());
      await sleep(200);
      const sel = await selectRange(a.page, 0, 0.4, 0.7);
      await a.page.click('.stripchart-menu button[data-action="tag"]');
      await a.page.fill('.stripchart-menu input[name="name"]', args.name);
      await a.page.fill('.stripchart-menu input[name="note"]', 'made in the browser');
      await a.page.click('.stripchart-menu button[data-action="save"]');
      await a.page.waitForFunction(() => /tagged|failed/.test(SpeedDataStripchart.menu() ? SpeedDataStripchart.menu().state.message : 'tagged'), null, { timeout: 15000 });
      const msg = await a.page.evaluate(() => SpeedDataStripchart.menu() ? SpeedDataStripchart.menu().state.message : 'closed');
      const t0 = Date.now();
      await b.page.waitForFunction((n) => SpeedDataStripchart.charts[0].conn.tags.some((t) => t.name === n), args.name, { timeout: 10000 });
      const seenMs = Date.now() - t0;
      await sleep(300);
      const tagsB = await b.page.evaluate(() => SpeedDataStripchart.charts[0].conn.tags);
      const shownB = (await chartState(b.page)).tagsShown;
      await a.page.screenshot({ path: path.join(artifacts, 'stripchart-tag-page-a.png') });
      await b.page.screenshot({ path: path.join(artifacts, 'stripchart-tag-page-b.png') });
      out({ step: 'tag', sel, msg, seenMs, tagsB, shownB, errors: a.errors.concat(b.errors) });
    } else if (mode === 'download') {
      const { page, errors } = await chartPage(ctx, { charts: [{ signals: 'example.sine_wave', window: '20', height: '260' }] });
      await page.waitForFunction(() => SpeedDataStripchart.charts[0].points > 10 && SpeedDataStripchart.charts[0].conn.config, null, { timeout: 15000 });
      await page.evaluate(() => SpeedDataStripchart.charts[0].pause());
      await sleep(200);
      const sel = await selectRange(page, 0, 0.2, 0.6);
      const files = {};
      for (const [action, name] of [['hdf5', 'selection.h5'], ['csv', 'selection.csv']]) {
        const dl = page.waitForEvent('download', { timeout: 30000 }).catch(() => null);
        await page.click(`.stripchart-menu button[data-action="${action}"]`);
        // The download, or the menu's message saying why there is none.
        await page.waitForFunction(() => /saved|failed/.test(SpeedDataStripchart.menu().state.message), null, { timeout: 30000 });
        const message = await page.evaluate(() => SpeedDataStripchart.menu().state.message);
        const d = /saved/.test(message) ? await dl : null;
        const to = path.join(args.dir, name);
        if (d) await d.saveAs(to);
        files[action] = d ? { path: to, suggested: d.suggestedFilename(), message } : { message };
      }
      await page.screenshot({ path: path.join(artifacts, 'stripchart-selection.png') });
      out({ step: 'download', sel, files, errors });
    } else if (mode === 'layout') {
      // A saved layout opens by URL; the URL then carries the view, and opens the same picture.
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(base + '/?layout=' + args.name);
      await page.waitForFunction(() => window.SpeedDataDashboard && SpeedDataDashboard.charts().length > 0 &&
        SpeedDataDashboard.charts().every((c) => c.points > 0), null, { timeout: 15000 });
      const read = (p) => p.evaluate(() => ({
        charts: SpeedDataDashboard.charts().map((c) => c.signals),
        title: document.getElementById('title').textContent,
        view: SpeedDataDashboard.charts()[0].view(),
        views: SpeedDataDashboard.charts().map((c) => c.view()),
        heights: SpeedDataDashboard.charts().map((c) => c.height),
        url: location.href }));
      const opened = await read(page);
      await page.screenshot({ path: path.join(artifacts, 'stripchart-layout.png'), fullPage: true });
      // Pan back (drag) so the view is a fixed range, then take the address.
      const box = await page.locator('canvas.stripchart').nth(0).boundingBox();
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.3, y);
      await page.mouse.down();
      for (let k = 1; k <= 5; k++) await page.mouse.move(box.x + box.width * (0.3 + k * 0.05), y);
      await page.mouse.up();
      await sleep(800);
      const panned = await read(page);
      const page2 = await ctx.newPage();
      page2.on('pageerror', (e) => errors.push(String(e)));
      await page2.goto(panned.url);
      await page2.waitForFunction(() => window.SpeedDataDashboard && SpeedDataDashboard.charts().length > 0, null, { timeout: 15000 });
      await sleep(500);
      const reopened = await read(page2);
      // Edit: remove the second chart, add a signal to the first; the URL follows.
      await page2.evaluate(() => {
        SpeedDataDashboard.edit(() => {
          const l = SpeedDataDashboard.state.layout;
          l.charts.splice(1, 1);
          l.charts[0].signals.push('example.square_wave');
        });
      });
      await sleep(600);
      const edited = await read(page2);
      const file = await page2.evaluate(() => SpeedDataDashboard.layoutFile());
      await page2.screenshot({ path: path.join(artifacts, 'stripchart-layout-reopened.png'), fullPage: true });
      out({ step: 'layout', opened, panned, reopened, edited, file, errors });
    } else if (mode === 'sine') {
      // The drawn sine, column by column: the row of the signal's pixels per device column.
      const { page, errors } = await chartPage(ctx, { charts: [{ signals: 'example.sine_wave', window: String(args.window), height: '300',
                                                                 ymin: '-1.2', ymax: '1.2', theme: 'dark' }] });
      await page.waitForFunction((w) => {
        const c = SpeedDataStripchart.charts[0], s = c.series[0];
        return c.plot && (c.conn.history.requests > 0 || s.length() > 0) && c.points > 0 &&
               // enough drawn: the live buffer, or history covering the window
               (s.last() - s.first() > w * 700 || (c.splits[0] - c.plot.start > w * 700));
      }, args.window, { timeout: 60000 });
      await page.evaluate(() => SpeedDataStripchart.charts[0].pause());
      // The paused view asks for its history tiles again (its frozen range): read the pixels
      // once the cache is past the frozen edge and no history answer is on its way (a loaded
      // machine can take seconds), then one more frame.
      await page.waitForFunction(() => {
        const c = SpeedDataStripchart.charts[0], h = c.conn.history, cov = h.coverage.example;
        return cov && cov.last > c.view().end + 500 && h.inflight === 0 && !h.queue.length;
      }, null, { timeout: 20000, polling: 100 }).catch(() => {});
      await sleep(300);
      const r = await page.evaluate(() => {
        const c = SpeedDataStripchart.charts[0], p = c.plot, g = c.canvas.getContext('2d');
        const x0 = Math.round(p.left * p.dpr), y0 = Math.round(p.top * p.dpr);
        const w = Math.round(p.width * p.dpr), h = Math.round(p.height * p.dpr);
        const d = g.getImageData(x0, y0, w, h).data;
        const rows = [];
        for (let x = 0; x < w; x++) {
          let sum = 0, n = 0, lo = null, hi = null;
          for (let y = 0; y < h; y++) {
            const o = (y * w + x) * 4;
            if (d[o] > 150 && d[o + 1] > 150 && d[o + 2] < 110) { sum += y; n++; if (lo === null) lo = y; hi = y; }
          }
          rows.push(n ? [sum / n, lo, hi] : null);
        }
        let used = 0, pts = 0, multi = [];
        for (let k = 0; k < w; k++) if (c.cN[k]) { used++; pts += c.cN[k]; if (c.cN[k] > 1 && multi.length < 5) multi.push([k, c.cN[k], c.cFt[k], c.cLt[k]]); }
        return { rows, start: p.start, end: p.end, width: w, height: h, yRange: c.yRange, modes: c.modes, used, pts, multi,
                 split: c.splits[0], liveFirst: c.series[0].first() };
      });
      await page.screenshot({ path: path.join(artifacts, 'stripchart-sine.png') });
      out({ step: 'sine', ...r, errors });
    } else if (mode === 'bench') {
      // Request to pixels: a chart opened on a range of the cache (the whole of it), timed
      // from the first history request to the frame that draws its answer.
      const { page, errors } = await chartPage(ctx, { charts: [{ signals: args.signals, window: '10', height: '400', history: 'on' }] });
      const r = await page.evaluate(async (a) => {
        const c = SpeedDataStripchart.charts[0], h = c.conn.history;
        await new Promise((res) => setTimeout(res, 500));
        const runs = [];
        for (let i = 0; i < a.runs; i++) {
          h.chunks.clear();
          const v0 = h.version, t0 = performance.now();
          c.setView(a.start + i * 1e-3, a.end, false);
          // The frame after all answers of this view came: tiles in the columns.
          await new Promise((res) => {
            function f() {
              const pending = [...h.chunks.values()].some((x) => x.pending);
              if (!pending && h.version > v0 && c.points > 0) res(); else requestAnimationFrame(f);
            }
            requestAnimationFrame(f);
          });
          await new Promise((res) => requestAnimationFrame(res));
          runs.push({ ms: performance.now() - t0, points: c.points, requests: h.requests, drawMs: c.drawMs });
        }
        // Zooming and panning on the loaded view: frames per second for 3 s.
        const f0 = c.frames, t1 = performance.now();
        let k = 0;
        await new Promise((res) => {
          function f() {
            k++;
            const span = (a.end - a.start) * (0.5 + 0.4 * Math.sin(k / 20));
            c.setView(a.end - span - (k % 30) * span / 300, a.end - (k % 30) * span / 300, false);
            if (performance.now() - t1 < 3000) requestAnimationFrame(f); else res();
          }
          requestAnimationFrame(f);
        });
        const fps = (c.frames - f0) * 1000 / (performance.now() - t1);
        return { runs, fps, drawMs: c.drawMs };
      }, args);
      out({ step: 'bench', ...r, errors });
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { out({ step: 'error', error: String(e && e.stack || e) }); process.exit(1); });

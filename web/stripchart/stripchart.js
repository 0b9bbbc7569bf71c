/* SpeedData stripchart: live scrolling charts on <canvas class="stripchart" data-signals=...>.
 * Plain JavaScript, no build step, loads as a classic <script src> (also from file:// pages).
 * Attributes (as in v0.5): data-signals, data-window (s, default 30), data-height (px, 300),
 * data-ymin/data-ymax (else auto-scale), data-colors, data-theme (auto|dark|light);
 * and data-server (WebSocket URL; default: where this script came from, else ws://localhost:8081).
 * Click a chart to pause/resume (data keeps buffering); hover for a read-out.
 * Protocol: docs/stripchart.md. */
(function (global) {
  'use strict';

  var PALETTES = {
    // Yellow, Cyan, Magenta, Green, Orange, Light Red
    dark: ['#FFFF00', '#00FFFF', '#FF00FF', '#00FF00', '#FFA500', '#FF7F7F'],
    // Blue, Red, Green, Orange, Purple, Teal
    light: ['#0000FF', '#FF0000', '#008000', '#FFA500', '#800080', '#008080']
  };
  var THEMES = {
    dark: { bg: '#000000', grid: '#262626', axis: '#6b6b6b', text: '#c8c8c8', dim: '#8a8a8a',
            loss: '#ff3b3b', cursor: 'rgba(255,255,255,0.55)', badge: 'rgba(40,40,40,0.85)' },
    light: { bg: '#ffffff', grid: '#e6e6e6', axis: '#9a9a9a', text: '#222222', dim: '#666666',
             loss: '#d40000', cursor: 'rgba(0,0,0,0.5)', badge: 'rgba(245,245,245,0.92)' }
  };
  var FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  var MAX_POINTS = 4000000;  // per signal, whatever the window

  var scriptSrc = (document.currentScript && document.currentScript.src) || '';

  function defaultServer() {
    if (global.SPEEDDATA_STRIPCHART_SERVER) return global.SPEEDDATA_STRIPCHART_SERVER;
    try {
      var u = new URL(scriptSrc);
      if (u.protocol === 'http:' || u.protocol === 'https:')
        return (u.protocol === 'https:' ? 'wss://' : 'ws://') + u.host + '/ws';
    } catch (e) { /* no script URL: use the default */ }
    return 'ws://localhost:8081/ws';
  }

  function normaliseServer(s) {
    s = String(s || '').trim();
    if (!s) return defaultServer();
    if (/^https?:\/\//.test(s)) s = s.replace(/^http/, 'ws');
    if (!/^wss?:\/\//.test(s)) s = 'ws://' + s;
    if (!/^wss?:\/\/[^/]+\//.test(s)) s += '/ws';
    return s;
  }

  // ---- one signal's samples: growable arrays of (time ms, value) -------------------------
  function Series(name) {
    this.name = name;
    this.cap = 1024;
    this.t = new Float64Array(this.cap);
    this.v = new Float64Array(this.cap);
    this.head = 0;
    this.tail = 0;
    this.lastArrival = 0;      // performance.now() of the last samples
    this.interval = 0;         // smoothed time between arrivals (ms)
    this.offset = null;        // newest sample time - Date.now() at arrival (ms)
  }
  Series.prototype.length = function () { return this.tail - this.head; };
  Series.prototype.push = function (t, v, keepFrom) {
    var n = t.length;
    if (!n) return;
    if (this.tail + n > this.cap) {
      // Forget what no chart needs, then compact, then grow (bounded by MAX_POINTS).
      var h = this.lowerBound(keepFrom);
      if (h > this.head) this.head = h;
      var len = this.tail - this.head;
      var need = len + n;
      if (need > this.cap || this.head === 0) {
        var cap = this.cap;
        while (cap < need * 1.5 && cap < MAX_POINTS) cap *= 2;
        cap = Math.min(cap, MAX_POINTS);
        if (need > cap) { this.head += need - cap; len = this.tail - this.head; }
        var nt = new Float64Array(cap), nv = new Float64Array(cap);
        nt.set(this.t.subarray(this.head, this.tail));
        nv.set(this.v.subarray(this.head, this.tail));
        this.t = nt; this.v = nv; this.cap = cap;
      } else {
        this.t.copyWithin(0, this.head, this.tail);
        this.v.copyWithin(0, this.head, this.tail);
      }
      this.tail = len; this.head = 0;
    }
    if (n > this.cap) { t = t.subarray(n - this.cap); v = v.subarray(n - this.cap); n = this.cap; }
    this.t.set(t, this.tail);
    this.v.set(v, this.tail);
    this.tail += n;
    var now = performance.now();
    if (this.lastArrival) {
      var dt = now - this.lastArrival;
      this.interval = this.interval ? this.interval * 0.8 + dt * 0.2 : dt;
    }
    this.lastArrival = now;
    var off = t[n - 1] - Date.now();
    // Keep the largest recent offset: a late frame must not pull the chart back in time.
    if (this.offset === null || off > this.offset || off < this.offset - 250) this.offset = off;
  };
  // First index with time >= x.
  Series.prototype.lowerBound = function (x) {
    var lo = this.head, hi = this.tail;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (this.t[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  };

  // ---- one WebSocket connection, shared by every chart using the same server --------------
  var connections = {};

  function Connection(url) {
    this.url = url;
    this.ws = null;
    this.state = 'connecting';      // connecting | open | closed
    this.series = {};               // name -> Series
    this.byId = [];                 // signal id -> name
    this.signals = null;            // last "signals" message
    this.status = null;             // last "status" message
    this.loss = {};                 // channel -> [{id, time_ms, missing, kind}]
    this.charts = [];
    this.listeners = { status: [], signals: [], state: [] };
    this.retry = 500;
    this.framesDropped = 0;
    this.connect();
  }
  Connection.prototype.on = function (what, fn) {
    this.listeners[what].push(fn);
    if (what === 'signals' && this.signals) fn(this.signals);
    if (what === 'status' && this.status) fn(this.status);
    if (what === 'state') fn(this.state);
  };
  Connection.prototype.emit = function (what, arg) {
    var l = this.listeners[what];
    for (var i = 0; i < l.length; i++) { try { l[i](arg); } catch (e) { console.error(e); } }
  };
  Connection.prototype.setState = function (s) { this.state = s; this.emit('state', s); };
  Connection.prototype.connect = function () {
    var self = this;
    var ws;
    try { ws = new WebSocket(this.url); } catch (e) { this.setState('closed'); this.reconnect(); return; }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = function () { self.retry = 500; self.setState('open'); self.subscribe(); };
    ws.onclose = function () { if (self.ws === ws) { self.ws = null; self.setState('closed'); self.reconnect(); } };
    ws.onerror = function () { /* onclose follows */ };
    ws.onmessage = function (ev) {
      if (typeof ev.data === 'string') self.onText(ev.data); else self.onFrame(ev.data);
    };
  };
  Connection.prototype.reconnect = function () {
    var self = this;
    var wait = this.retry;
    this.retry = Math.min(this.retry * 2, 5000);
    setTimeout(function () { self.connect(); }, wait);
  };
  // Subscribes to the union of every chart's signals (plus "*" when a page asks for all).
  Connection.prototype.subscribe = function () {
    if (!this.ws || this.ws.readyState !== 1) return;
    var want = {};
    for (var i = 0; i < this.charts.length; i++)
      for (var j = 0; j < this.charts[i].signals.length; j++) want[this.charts[i].signals[j]] = 1;
    this.ws.send(JSON.stringify({ type: 'subscribe', signals: Object.keys(want) }));
  };
  Connection.prototype.addChart = function (c) { this.charts.push(c); this.subscribe(); };
  Connection.prototype.removeChart = function (c) {
    this.charts = this.charts.filter(function (x) { return x !== c; });
    this.subscribe();
  };
  Connection.prototype.getSeries = function (name) {
    return this.series[name] || (this.series[name] = new Series(name));
  };
  // Oldest time any chart still shows for this signal (paused charts keep theirs).
  Connection.prototype.keepFrom = function (name) {
    var keep = Infinity;
    for (var i = 0; i < this.charts.length; i++) {
      var c = this.charts[i];
      if (c.signals.indexOf(name) < 0) continue;
      keep = Math.min(keep, c.viewRight() - c.windowMs * 1.5);
    }
    return keep === Infinity ? -Infinity : keep;
  };
  Connection.prototype.onText = function (text) {
    var m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (m.type === 'signals') {
      this.signals = m;
      this.byId = [];
      for (var i = 0; i < m.signals.length; i++) this.byId[m.signals[i].id] = m.signals[i].name;
      this.emit('signals', m);
    } else if (m.type === 'status') {
      this.status = m;
      for (var ch in m.channels) {
        var ev = m.channels[ch].loss_events || [];
        var have = this.loss[ch] || (this.loss[ch] = []);
        var seen = {};
        for (var k = 0; k < have.length; k++) seen[have[k].id] = 1;
        for (var e = 0; e < ev.length; e++)
          if (!seen[ev[e].id]) have.push({ id: ev[e].id, time_ms: ev[e].time_ms, missing: ev[e].missing, kind: 'lost' });
        if (have.length > 200) have.splice(0, have.length - 200);
      }
      this.emit('status', m);
    } else if (m.type === 'error') {
      console.warn('stripchart server:', m.error);
    }
  };
  Connection.prototype.onFrame = function (buf) {
    var dv = new DataView(buf);
    if (buf.byteLength < 16 || dv.getUint32(0, true) !== 0x31464453) return;  // "SDF1"
    var nseg = dv.getUint32(8, true), dropped = dv.getUint32(12, true);
    var off = 16, first = null;
    for (var s = 0; s < nseg; s++) {
      var id = dv.getUint32(off, true), n = dv.getUint32(off + 4, true);
      off += 8;
      var t = new Float64Array(buf, off, n); off += 8 * n;
      var v = new Float64Array(buf, off, n); off += 8 * n;
      var name = this.byId[id];
      if (!name || !n) continue;
      if (first === null || t[0] < first) first = t[0];
      this.getSeries(name).push(t, v, this.keepFrom(name));
    }
    if (dropped) {
      // This browser fell behind and the server skipped frames: mark it on every chart.
      this.framesDropped += dropped;
      var mark = { id: 'd' + Math.random(), time_ms: first !== null ? first : Date.now(), missing: dropped, kind: 'skipped' };
      (this.loss['*'] || (this.loss['*'] = [])).push(mark);
    }
  };

  function connection(url) {
    url = normaliseServer(url);
    return connections[url] || (connections[url] = new Connection(url));
  }

  // A CSS colour as the 32-bit RGBA word of an ImageData pixel (little-endian: ABGR).
  var colorWords = {};
  function colorWord(css) {
    if (colorWords[css] !== undefined) return colorWords[css];
    var c = document.createElement('canvas'); c.width = c.height = 1;
    var g = c.getContext('2d');
    g.fillStyle = css; g.fillRect(0, 0, 1, 1);
    var d = g.getImageData(0, 0, 1, 1).data;
    return (colorWords[css] = ((255 << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0);
  }

  // ---- axis helpers ----------------------------------------------------------------------
  function niceStep(span, target) {
    var raw = span / Math.max(1, target);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  }
  var TIME_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000,
                    120000, 300000, 600000, 900000, 1800000, 3600000];
  function pad2(n) { return n < 10 ? '0' + n : '' + n; }
  function clock(ms, step) {
    var d = new Date(ms);
    var s = pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
    if (step < 1000) s += '.' + String(d.getMilliseconds() + 1000).slice(1, step < 100 ? 4 : 2);
    return s;
  }
  function fmtValue(v, step) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e15 && !step) return String(v);
    if (a < 1e-9) return step ? (0).toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1))) : '0';
    if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(2);
    var dec = step ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1)) : 4;
    if (!step) dec = a >= 100 ? 2 : a >= 1 ? 4 : 5;
    return v.toFixed(dec);
  }

  // ---- a chart ---------------------------------------------------------------------------
  function Chart(canvas, opts) {
    opts = opts || {};
    var d = canvas.dataset;
    this.canvas = canvas;
    this.signals = String(opts.signals || d.signals || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    this.windowMs = 1000 * (parseFloat(opts.window || d.window) > 0 ? parseFloat(opts.window || d.window) : 30);
    this.height = parseInt(opts.height || d.height, 10) > 0 ? parseInt(opts.height || d.height, 10) : 300;
    var ymin = parseFloat(opts.ymin !== undefined ? opts.ymin : d.ymin);
    var ymax = parseFloat(opts.ymax !== undefined ? opts.ymax : d.ymax);
    this.ymin = isFinite(ymin) ? ymin : null;
    this.ymax = isFinite(ymax) ? ymax : null;
    this.colors = String(opts.colors || d.colors || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    this.themeSetting = String(opts.theme || d.theme || 'auto').toLowerCase();
    // Palette position of the first signal (the dashboard spreads its one-signal charts).
    this.colorIndex = opts.colorIndex | 0;
    this.paused = false;
    this.pausedAt = 0;
    this.hoverX = null;
    this.conn = connection(opts.server || d.server);
    this.frames = 0;
    this.drawMs = 0;
    this.fps = 0;
    this._fpsCount = 0;
    this._fpsStart = performance.now();
    this._cols = 0;
    this.series = this.signals.map(this.conn.getSeries, this.conn);
    var self = this;
    if (!canvas.style.width) canvas.style.width = '100%';
    canvas.style.height = this.height + 'px';
    canvas.style.display = 'block';
    canvas.style.cursor = 'crosshair';
    canvas.setAttribute('tabindex', canvas.getAttribute('tabindex') || '0');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'Live chart of ' + this.signals.join(', '));
    canvas.addEventListener('mousemove', function (e) {
      var r = canvas.getBoundingClientRect(); self.hoverX = e.clientX - r.left;
    });
    canvas.addEventListener('mouseleave', function () { self.hoverX = null; });
    canvas.addEventListener('click', function () { self.togglePause(); });
    canvas.addEventListener('keydown', function (e) {
      if (e.key === ' ' || e.key === 'p') { self.togglePause(); e.preventDefault(); }
    });
    this.mql = global.matchMedia ? global.matchMedia('(prefers-color-scheme: dark)') : null;
    canvas._stripchart = this;
    this.conn.addChart(this);
    charts.push(this);
    startLoop();
  }
  Chart.prototype.theme = function () {
    var t = this.themeSetting;
    if (t !== 'dark' && t !== 'light') t = this.mql && this.mql.matches ? 'dark' : 'light';
    return t;
  };
  Chart.prototype.palette = function () {
    var p = PALETTES[this.theme()];
    var out = [];
    for (var i = 0; i < this.signals.length; i++) out.push(this.colors[i] || p[(i + this.colorIndex) % p.length]);
    return out;
  };
  Chart.prototype.togglePause = function () {
    this.paused = !this.paused;
    if (this.paused) this.pausedAt = this.liveRight();
  };
  Chart.prototype.pause = function () { if (!this.paused) this.togglePause(); };
  Chart.prototype.resume = function () { if (this.paused) this.togglePause(); };
  // Right edge when live: newest data time extrapolated with the wall clock.
  Chart.prototype.liveRight = function () {
    var off = null;
    for (var i = 0; i < this.series.length; i++) {
      var o = this.series[i].offset;
      if (o !== null && (off === null || o > off)) off = o;
    }
    return Date.now() + (off === null ? 0 : off);
  };
  Chart.prototype.viewRight = function () { return this.paused ? this.pausedAt : this.liveRight(); };
  Chart.prototype.isStale = function () {
    var now = performance.now(), newest = 0, limit = 3000;
    for (var i = 0; i < this.series.length; i++) {
      var s = this.series[i];
      if (s.lastArrival > newest) newest = s.lastArrival;
      if (s.interval) limit = Math.max(limit, 4 * s.interval);
    }
    return newest === 0 ? null : (now - newest > limit ? now - newest : 0);
  };
  Chart.prototype.destroy = function () {
    this.conn.removeChart(this);
    charts.splice(charts.indexOf(this), 1);
    delete this.canvas._stripchart;
  };

  Chart.prototype.draw = function () {
    var t0 = performance.now();
    var c = this.canvas, dpr = global.devicePixelRatio || 1;
    var cssW = c.clientWidth || 600, cssH = this.height;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
      c.width = Math.round(cssW * dpr); c.height = Math.round(cssH * dpr);
    }
    var g = c.getContext('2d');
    var th = THEMES[this.theme()];
    var colors = this.palette();
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = th.bg;
    g.fillRect(0, 0, cssW, cssH);
    g.font = FONT;
    g.textBaseline = 'middle';

    var L = 64, R = 12, T = 26, B = 24;
    var pw = Math.max(10, cssW - L - R), ph = Math.max(10, cssH - T - B);
    var right = this.viewRight(), left = right - this.windowMs;

    // Envelope per pixel column: min, max, first, last of every series.
    var cols = Math.max(1, Math.round(pw * dpr));
    if (this._cols !== cols * this.series.length) {
      this._cols = cols * this.series.length;
      this.cMin = new Float64Array(this._cols); this.cMax = new Float64Array(this._cols);
      this.cFirst = new Float64Array(this._cols); this.cLast = new Float64Array(this._cols);
      this.cN = new Int32Array(this._cols);
    }
    var cMin = this.cMin, cMax = this.cMax, cFirst = this.cFirst, cLast = this.cLast, cN = this.cN;
    cN.fill(0);
    var lo = Infinity, hi = -Infinity, points = 0;
    var scale = cols / this.windowMs;
    for (var s = 0; s < this.series.length; s++) {
      var se = this.series[s], base = s * cols;
      var i = se.lowerBound(left), end = se.tail, tt = se.t, vv = se.v;
      for (; i < end; i++) {
        var x = tt[i];
        if (x > right) break;
        var v = vv[i];
        if (v !== v) continue;  // NaN: nothing to draw
        var col = ((x - left) * scale) | 0;
        if (col >= cols) col = cols - 1;
        var k = base + col;
        if (cN[k] === 0) { cMin[k] = cMax[k] = cFirst[k] = v; }
        else { if (v < cMin[k]) cMin[k] = v; if (v > cMax[k]) cMax[k] = v; }
        cLast[k] = v;
        cN[k]++;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        points++;
      }
    }
    var ymin = this.ymin, ymax = this.ymax;
    if (ymin === null || ymax === null) {
      if (lo === Infinity) { lo = -1; hi = 1; }
      if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
      var padY = (hi - lo) * 0.06;
      if (ymin === null) ymin = lo - padY;
      if (ymax === null) ymax = hi + padY;
      if (ymin >= ymax) { var m = ymin; ymin = m - 1; ymax = m + 1; }
    }
    var ys = ph / (ymax - ymin);
    function Y(v) { return T + (ymax - v) * ys; }

    // Grid, ticks and labels.
    g.strokeStyle = th.grid; g.lineWidth = 1; g.fillStyle = th.dim;
    var vstep = niceStep(ymax - ymin, Math.max(2, Math.floor(ph / 45)));
    g.textAlign = 'right';
    g.beginPath();
    for (var yv = Math.ceil(ymin / vstep) * vstep; yv <= ymax + vstep * 1e-9; yv += vstep) {
      var yy = Math.round(Y(yv)) + 0.5;
      g.moveTo(L, yy); g.lineTo(L + pw, yy);
      g.fillText(fmtValue(Math.abs(yv) < vstep * 1e-9 ? 0 : yv, vstep), L - 6, yy);
    }
    var tstep = TIME_STEPS[TIME_STEPS.length - 1];
    for (var q = 0; q < TIME_STEPS.length; q++) if (this.windowMs / TIME_STEPS[q] <= Math.max(2, pw / 90)) { tstep = TIME_STEPS[q]; break; }
    var tz = new Date().getTimezoneOffset() * 60000;
    g.textAlign = 'center';
    for (var tv = Math.ceil((left - tz) / tstep) * tstep + tz; tv <= right; tv += tstep) {
      var xx = Math.round(L + (tv - left) / this.windowMs * pw) + 0.5;
      g.moveTo(xx, T); g.lineTo(xx, T + ph);
      // Labels near the ends are shifted inside the canvas rather than cut off.
      var tl = clock(tv, tstep), half = g.measureText(tl).width / 2;
      g.fillText(tl, Math.min(Math.max(xx, half + 1), cssW - half - 1), T + ph + 12);
    }
    g.stroke();
    g.strokeStyle = th.axis;
    g.strokeRect(L + 0.5, T + 0.5, pw - 1, ph - 1);

    // Loss markers: the channels of this chart's signals, and frames this browser missed.
    g.save();
    g.beginPath(); g.rect(L, T, pw, ph); g.clip();
    var marks = [], chans = {};
    for (var si = 0; si < this.signals.length; si++) chans[this.signals[si].split('.')[0]] = 1;
    chans['*'] = 1;
    for (var chn in chans) {
      var lst = this.conn.loss[chn] || [];
      for (var li = 0; li < lst.length; li++) if (lst[li].time_ms >= left && lst[li].time_ms <= right) marks.push(lst[li]);
    }
    g.strokeStyle = th.loss; g.fillStyle = th.loss; g.setLineDash([3, 3]);
    for (var mi = 0; mi < marks.length; mi++) {
      var mx = Math.round(L + (marks[mi].time_ms - left) / this.windowMs * pw) + 0.5;
      g.beginPath(); g.moveTo(mx, T); g.lineTo(mx, T + ph); g.stroke();
      var near = mx + 60 > L + pw;  // near the right edge: label on the left of the line
      g.textAlign = near ? 'right' : 'left';
      g.fillText((marks[mi].kind === 'skipped' ? '⏭ ' : '✕ ') + marks[mi].missing + ' lost', near ? mx - 3 : mx + 3, T + 8);
    }
    g.setLineDash([]);

    // Signals. Dense series (several points per pixel column) are painted as per-column
    // min..max spans straight into a bitmap layer (one blit): rasterising thousands of
    // anti-aliased path segments is what makes software (GPU-less) canvases slow. Sparse
    // series are drawn as anti-aliased lines through each column's first and last value.
    var rows = Math.max(1, Math.round(ph * dpr)), dense = [], sparse = [], sparsePts = 0;
    for (s = 0; s < this.series.length; s++) {
      var used = 0, pts = 0;
      for (var c0 = s * cols, c1 = c0 + cols; c0 < c1; c0++) if (cN[c0]) { used++; pts += cN[c0]; }
      if (pts > used * 2) dense.push(s); else { sparse.push(s); sparsePts += pts; }
    }
    if (dense.length) {
      if (!this._layer || this._layer.width !== cols || this._layer.height !== rows) {
        this._layer = document.createElement('canvas');
        this._layer.width = cols; this._layer.height = rows;
        this._lctx = this._layer.getContext('2d');
        this._img = this._lctx.createImageData(cols, rows);
        this._pix = new Uint32Array(this._img.data.buffer);
      }
      var pix = this._pix;
      pix.fill(0);
      var yd = ys * dpr;
      for (var di = 0; di < dense.length; di++) {
        s = dense[di]; base = s * cols;
        var rgba = colorWord(colors[s]), prev = -1;
        for (var col2 = 0; col2 < cols; col2++) {
          var k2 = base + col2;
          if (!cN[k2]) { prev = -1; continue; }
          var top = (ymax - cMax[k2]) * yd, bot = (ymax - cMin[k2]) * yd;
          if (prev >= 0) { if (prev < top) top = prev; if (prev > bot) bot = prev; }
          prev = (ymax - cLast[k2]) * yd;
          var r0 = Math.max(0, Math.floor(top)), r1 = Math.min(rows - 1, Math.ceil(bot));
          for (var rr = r0; rr <= r1; rr++) pix[rr * cols + col2] = rgba;
        }
      }
      this._lctx.putImageData(this._img, 0, 0);
      g.imageSmoothingEnabled = false;
      g.drawImage(this._layer, L, T, cols / dpr, rows / dpr);
    }
    // Thicker lines look better but cost raster time: only while the segments are few.
    g.lineWidth = sparsePts < 4000 ? 1.5 : 1; g.lineJoin = 'bevel';
    for (var si2 = 0; si2 < sparse.length; si2++) {
      s = sparse[si2]; base = s * cols;
      g.strokeStyle = colors[s];
      g.beginPath();
      var started = false;
      for (var cc = 0; cc < cols; cc++) {
        var kk = base + cc;
        if (!cN[kk]) continue;
        var px = L + (cc + 0.5) / dpr;
        if (!started) { g.moveTo(px, Y(cFirst[kk])); started = true; } else g.lineTo(px, Y(cFirst[kk]));
        if (cN[kk] > 1) { g.lineTo(px, Y(cMin[kk])); g.lineTo(px, Y(cMax[kk])); g.lineTo(px, Y(cLast[kk])); }
      }
      g.stroke();
    }

    // Cursor read-out.
    var readout = null;
    if (this.hoverX !== null && this.hoverX >= L && this.hoverX <= L + pw) {
      var ht = left + (this.hoverX - L) / pw * this.windowMs;
      g.strokeStyle = th.cursor; g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(this.hoverX) + 0.5, T); g.lineTo(Math.round(this.hoverX) + 0.5, T + ph); g.stroke();
      readout = { t: ht, values: [] };
      for (s = 0; s < this.series.length; s++) {
        se = this.series[s];
        var j = se.lowerBound(ht);
        if (j > se.head && (j >= se.tail || Math.abs(se.t[j - 1] - ht) < Math.abs(se.t[j] - ht))) j--;
        var ok = j >= se.head && j < se.tail && Math.abs(se.t[j] - ht) < Math.max(this.windowMs / 50, 2 * (se.interval || 0) + 100);
        readout.values.push(ok ? se.v[j] : null);
        if (ok) { g.fillStyle = colors[s]; g.beginPath(); g.arc(L + (se.t[j] - left) / this.windowMs * pw, Y(se.v[j]), 3, 0, 6.3); g.fill(); }
      }
      var label = new Date(ht).toISOString().replace('T', ' ').replace('Z', ' UTC');
      g.font = FONT; g.textAlign = 'left';
      var lw = g.measureText(label).width + 10;
      var lx = Math.min(this.hoverX + 8, L + pw - lw);
      g.fillStyle = th.badge; g.fillRect(lx, T + ph - 20, lw, 16);
      g.fillStyle = th.text; g.fillText(label, lx + 5, T + ph - 12);
    }
    g.restore();

    // Legend: name and latest (or hovered) value per signal.
    g.textAlign = 'left';
    var lxp = L;
    for (s = 0; s < this.series.length; s++) {
      se = this.series[s];
      var li2 = se.lowerBound(right + 1e-6) - 1;  // newest shown (paused: at the frozen edge)
      var val = readout ? readout.values[s] : (li2 >= se.head ? se.v[li2] : null);
      var text = this.signals[s] + (val === null ? '' : ' ' + fmtValue(val));
      g.fillStyle = colors[s];
      g.fillRect(lxp, 9, 10, 3);
      g.fillStyle = th.text;
      g.fillText(text, lxp + 14, 11);
      lxp += g.measureText(text).width + 28;
    }

    // Connection / staleness / pause indicator, top right.
    var st = this.conn.state, stale = this.isStale();
    var dot, msg;
    if (st !== 'open') { dot = '#e53935'; msg = st === 'connecting' ? 'connecting…' : 'disconnected – retrying'; }
    else if (stale === null) { dot = '#9e9e9e'; msg = 'waiting for data'; }
    else if (stale) { dot = '#ffb300'; msg = 'stale ' + Math.round(stale / 1000) + ' s'; }
    else { dot = '#43a047'; msg = 'live'; }
    if (this.paused) msg = '❚❚ paused (click to resume) · ' + msg;
    g.textAlign = 'right';
    g.fillStyle = st !== 'open' ? dot : this.paused ? th.text : th.dim;
    g.fillText(msg, cssW - R - 14, 11);
    g.fillStyle = dot; g.beginPath(); g.arc(cssW - R - 5, 11, 4, 0, 6.3); g.fill();
    this.status = this.paused ? 'paused' : (st !== 'open' ? st : (stale === null ? 'waiting' : stale ? 'stale' : 'live'));

    this.readout = readout;  // {t, values} under the cursor, or null
    this.points = points;
    this.yRange = [ymin, ymax];
    this.frames++;
    this._fpsCount++;
    var now = performance.now();
    this.drawMs = now - t0;
    if (now - this._fpsStart >= 1000) { this.fps = this._fpsCount * 1000 / (now - this._fpsStart); this._fpsCount = 0; this._fpsStart = now; }
  };

  // ---- one animation loop for every chart ---------------------------------------------
  var charts = [];
  var looping = false;
  function startLoop() {
    if (looping) return;
    looping = true;
    function tick() {
      for (var i = 0; i < charts.length; i++) {
        var c = charts[i];
        if (!c.canvas.isConnected) continue;
        try { c.draw(); } catch (e) { console.error(e); }
      }
      global.requestAnimationFrame(tick);
    }
    global.requestAnimationFrame(tick);
  }

  function attach(canvas, opts) { return canvas._stripchart || new Chart(canvas, opts); }
  function scan(root) {
    var list = (root || document).querySelectorAll('canvas.stripchart');
    var out = [];
    for (var i = 0; i < list.length; i++) out.push(attach(list[i]));
    return out;
  }

  global.SpeedDataStripchart = {
    version: '0.6',
    palettes: PALETTES,
    attach: attach,
    scan: scan,
    connection: connection,
    charts: charts,
    Chart: Chart
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { scan(); });
  else scan();
})(window);

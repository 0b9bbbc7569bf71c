/* SpeedData stripchart: live charts with history on <canvas class="stripchart" data-signals=...>.
 * Plain JavaScript, no build step, loads as a classic <script src> (also from file:// pages).
 * Attributes (as in v0.5): data-signals, data-window (s, default 30), data-height (px, 300),
 * data-ymin/data-ymax (else auto-scale), data-colors, data-theme (auto|dark|light);
 * data-server (WebSocket URL; default: where this script came from, else ws://localhost:8081);
 * data-axis (charts with the same name share the time axis and cursor; "own": this chart alone;
 * default: every chart of the page with the same data-window), data-history ("off": live only),
 * data-pivot (the pivot's URL for tags and downloads; default: the stripchart's host, pivot port).
 * Wheel/pinch zooms, drag pans back into the cache's history, click pauses, the "live" button
 * returns; shift-drag selects a range to tag or download. Docs: docs/stripchart.md. */
(function (global) {
  'use strict';

  // The earlier (v0.6) stripchart's palettes, exactly (docs/stripchart.md).
  var PALETTES = {
    // Yellow, Cyan, Magenta, Green, Orange, Light Red
    dark: ['#FFFF00', '#00FFFF', '#FF00FF', '#00FF00', '#FFA500', '#FF6B6B'],
    // Blue, Red, Green, Orange, Purple, Teal
    light: ['#0000FF', '#FF0000', '#00AA00', '#FF8000', '#8000FF', '#008080']
  };
  var THEMES = {
    dark: { bg: '#000000', grid: '#262626', axis: '#6b6b6b', text: '#c8c8c8', dim: '#8a8a8a',
            loss: '#ff3b3b', cursor: 'rgba(255,255,255,0.55)', badge: 'rgba(40,40,40,0.85)',
            tag: 'rgba(120,150,255,0.16)', tagEdge: 'rgba(140,170,255,0.7)', sel: 'rgba(255,255,255,0.14)',
            button: 'rgba(60,60,60,0.9)' },
    light: { bg: '#ffffff', grid: '#e6e6e6', axis: '#9a9a9a', text: '#222222', dim: '#666666',
             loss: '#d40000', cursor: 'rgba(0,0,0,0.5)', badge: 'rgba(245,245,245,0.92)',
             tag: 'rgba(40,80,220,0.10)', tagEdge: 'rgba(40,80,220,0.6)', sel: 'rgba(0,0,0,0.10)',
             button: 'rgba(230,230,230,0.95)' }
  };
  var FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  var MAX_POINTS = 4000000;      // per signal in the live buffer, whatever the window
  var TILES = 2048;              // tiles per history request (one aligned chunk)
  var MIN_SPAN = 20;             // ms: the narrowest view
  var MAX_SPAN = 400 * 86400000; // ms: the widest view
  var REFRESH_MS = 1000;         // a chunk the cache is still filling is asked for again after this
  var MAX_CHUNKS = 600;          // history chunks kept per connection (least recently used go)

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

  // The stack's bearer token, when it guards reads (docs/security.md): window.SPEEDDATA_TOKEN,
  // else the one the console or a page stored for this browser session. Browsers cannot send
  // headers on a WebSocket, so it goes in the query string there; fetches send the header.
  function token() {
    if (global.SPEEDDATA_TOKEN) return String(global.SPEEDDATA_TOKEN);
    try { return global.sessionStorage.getItem('speeddata.token') || global.localStorage.getItem('speeddata.token') || ''; }
    catch (e) { return ''; }
  }

  function withToken(url) {
    var t = token();
    if (!t) return url;
    return url + (url.indexOf('?') < 0 ? '?' : '&') + 'access_token=' + encodeURIComponent(t);
  }

  function authHeaders(extra) {
    var h = extra || {};
    var t = token();
    if (t) h.Authorization = 'Bearer ' + t;
    return h;
  }

  function normaliseServer(s) {
    s = String(s || '').trim();
    if (!s) return defaultServer();
    if (/^https?:\/\//.test(s)) s = s.replace(/^http/, 'ws');
    if (!/^wss?:\/\//.test(s)) s = 'ws://' + s;
    if (!/^wss?:\/\/[^/]+\//.test(s)) s += '/ws';
    return s;
  }

  // ws://host:port/ws -> http://host:port
  function httpBase(wsUrl) {
    var m = /^(wss?):\/\/([^/]+)/.exec(wsUrl);
    return m ? (m[1] === 'wss' ? 'https://' : 'http://') + m[2] : '';
  }

  // ISO 8601 with the sub-millisecond digits a time in ms carries (µs).
  function isoMs(ms) {
    var whole = Math.floor(ms), us = Math.round((ms - whole) * 1000);
    if (us === 1000) { whole += 1; us = 0; }
    var s = new Date(whole).toISOString();
    return us ? s.replace('Z', String(us + 1000).slice(1) + 'Z') : s;
  }

  // ---- one signal's live samples: growable arrays of (time ms, value) --------------------
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
  Series.prototype.first = function () { return this.tail > this.head ? this.t[this.head] : Infinity; };
  Series.prototype.last = function () { return this.tail > this.head ? this.t[this.tail - 1] : -Infinity; };
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

  // ---- history tiles from GET /api/v1/series, cached per connection ------------------------
  // The time axis is cut into chunks of TILES tiles of 2^e ms (e chosen so a tile is at most
  // one pixel column); a chunk is one request per channel and is kept, so panning and live
  // scrolling reuse what was fetched. A chunk the cache is still filling (it ends after the
  // cache's newest sample) is fetched again after REFRESH_MS while it is on screen.
  function History(conn) {
    this.conn = conn;
    this.chunks = new Map();     // key "channel|e|k" -> chunk
    this.coverage = {};          // channel -> {first, last} ms
    this.inflight = 0;
    this.queue = [];             // keys waiting for a request slot
    this.available = true;       // false when the server has no history route (retried later)
    this.retryAt = 0;
    this.requests = 0;
    this.lastMs = 0;             // duration of the last request (request to parsed answer)
    this.version = 0;            // +1 per answer (charts redraw)
  }
  History.level = function (colMs) {
    var e = Math.floor(Math.log2(Math.max(colMs, 1 / 64)));
    return Math.max(-6, Math.min(34, e));
  };
  History.dtNs = function (e) {
    return e >= 0 ? BigInt(Math.pow(2, e)) * 1000000n : 1000000n / BigInt(Math.pow(2, -e));
  };
  // Chunk k of level e, for the chart's signals of one channel; starts a request when it is
  // missing or stale. Returns the chunk (maybe still without data).
  History.prototype.chunk = function (channel, fields, e, k, now) {
    var key = channel + '|' + e + '|' + k;
    var c = this.chunks.get(key);
    if (c) { this.chunks.delete(key); this.chunks.set(key, c); }  // most recently used last
    else {
      var dt = Math.pow(2, e);
      c = { key: key, channel: channel, e: e, k: k, dt: dt, start: k * TILES * dt, end: (k + 1) * TILES * dt,
            fields: {}, complete: -Infinity, fetched: -Infinity, pending: false, failedAt: -Infinity };
      this.chunks.set(key, c);
      if (this.chunks.size > MAX_CHUNKS) this.chunks.delete(this.chunks.keys().next().value);
    }
    // Every chart's fields of this channel go in one request (and one refresh).
    var missing = false;
    c.wanted = c.wanted || {};
    for (var i = 0; i < fields.length; i++) {
      c.wanted[fields[i]] = 1;
      if (!c.fields[fields[i]]) missing = true;
    }
    var stale = c.complete < c.end && now - c.fetched > Math.max(REFRESH_MS, 4 * this.lastMs);
    if (!c.pending && (missing || stale) && now - c.failedAt > 5000 && (this.available || now > this.retryAt)) {
      c.pending = true;
      c.want = Object.keys(c.wanted);
      this.queue.push(c);
      this.pump();
    }
    return c;
  };
  History.prototype.pump = function () {
    var self = this;
    while (this.inflight < 3 && this.queue.length) {
      var c = this.queue.pop();  // newest first: what is on screen now
      this.fetch(c);
    }
    // Requests waiting longer than a few frames are for views already left.
    if (this.queue.length > 24) {
      var old = this.queue.splice(0, this.queue.length - 24);
      old.forEach(function (x) { x.pending = false; });
    }
    void self;
  };
  History.prototype.fetch = function (c) {
    var self = this;
    var dtNs = History.dtNs(c.e), startNs = BigInt(c.k) * BigInt(TILES) * dtNs;
    var names = c.want.map(function (f) { return c.channel + '.' + f; });
    var url = httpBase(this.conn.url) + '/api/v1/series?signals=' + encodeURIComponent(names.join(',')) +
              '&start=' + startNs.toString() + '&end=' + (startNs + BigInt(TILES) * dtNs).toString() + '&points=' + TILES;
    var t0 = performance.now();
    this.inflight++;
    this.requests++;
    global.fetch(url, { headers: authHeaders(), cache: 'no-store' }).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, body: j }; },
                           function () { return { status: r.status, body: null }; });
    }).then(function (res) {
      var now = performance.now();
      if (res.status !== 200 || !res.body || !res.body.series) {
        var msg = res.body && res.body.error ? String(res.body.error) : '';
        c.failedAt = now;
        c.error = msg || ('HTTP ' + res.status);
        // No route at all (an older server): live only, asked again in 30 s.
        if (res.status === 404 && !/^signals:/.test(msg)) { self.available = false; self.retryAt = now + 30000; }
        return;
      }
      self.available = true;
      var b = res.body, complete = Infinity;
      for (var i = 0; i < b.series.length; i++) {
        var s = b.series[i], field = s.field || String(s.signal).split('.').slice(1).join('.');
        var n = s.count.length, f = {
          count: new Float64Array(n), min: new Float64Array(n), max: new Float64Array(n),
          first: new Float64Array(n), last: new Float64Array(n), ft: new Float64Array(n), lt: new Float64Array(n)
        };
        for (var j = 0; j < n; j++) {
          var cnt = s.count[j] || 0;
          if (cnt && (s.min[j] === null || s.max[j] === null)) cnt = 0;  // non-finite only
          f.count[j] = cnt;
          if (!cnt) continue;
          f.min[j] = s.min[j]; f.max[j] = s.max[j];
          f.first[j] = s.first[j] === null ? s.min[j] : s.first[j];
          f.last[j] = s.last[j] === null ? s.max[j] : s.last[j];
          f.ft[j] = s.first_t && s.first_t[j] !== null ? s.first_t[j] / 1e6 : c.start + (j + 0.25) * c.dt;
          f.lt[j] = s.last_t && s.last_t[j] !== null ? s.last_t[j] / 1e6 : c.start + (j + 0.75) * c.dt;
        }
        c.fields[field] = f;
        var cov = s.coverage;
        if (cov && cov.first_ns !== undefined && cov.first_ns !== null) {
          self.coverage[c.channel] = { first: cov.first_ns / 1e6, last: cov.last_ns / 1e6 };
          complete = Math.min(complete, cov.last_ns / 1e6);
        } else {
          complete = Math.min(complete, -Infinity);
        }
      }
      // Tiles ending at or before the cache's newest sample will not change any more.
      c.complete = complete;
      c.fetched = now;
      c.error = null;
      self.lastMs = self.lastMs ? 0.7 * self.lastMs + 0.3 * (now - t0) : now - t0;
      self.version++;
    }).catch(function (e) {
      c.failedAt = performance.now();
      c.error = String(e);
      self.available = false;
      self.retryAt = performance.now() + 10000;
    }).then(function () {
      c.pending = false;
      self.inflight--;
      self.pump();
    });
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
    this.tags = [];                 // the pivot's tags (last "tags" message)
    this.loss = {};                 // channel -> [{id, time_ms, missing, kind}]
    this.scales = {};               // signal -> largest magnitude seen (formatValue's scale)
    this.charts = [];
    this.listeners = { status: [], signals: [], state: [], tags: [] };
    this.retry = 500;
    this.framesDropped = 0;
    this.history = new History(this);
    this.config = null;             // GET /api/v1/config (where the pivot is)
    this.connect();
    this.loadConfig();
  }
  Connection.prototype.on = function (what, fn) {
    this.listeners[what].push(fn);
    if (what === 'signals' && this.signals) fn(this.signals);
    if (what === 'status' && this.status) fn(this.status);
    if (what === 'tags') fn(this.tags);
    if (what === 'state') fn(this.state);
  };
  Connection.prototype.emit = function (what, arg) {
    var l = this.listeners[what];
    for (var i = 0; i < l.length; i++) { try { l[i](arg); } catch (e) { console.error(e); } }
  };
  Connection.prototype.setState = function (s) { this.state = s; this.emit('state', s); };
  Connection.prototype.loadConfig = function () {
    var self = this;
    if (!global.fetch) return;
    global.fetch(httpBase(this.url) + '/api/v1/config', { headers: authHeaders() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) self.config = j; }, function () { /* older server: defaults */ });
  };
  // The pivot's base URL (tags, exports): window.SPEEDDATA_PIVOT, else the stripchart's host
  // at the pivot's port from /api/v1/config (default 8000).
  Connection.prototype.pivotUrl = function () {
    if (global.SPEEDDATA_PIVOT) return String(global.SPEEDDATA_PIVOT).replace(/\/+$/, '');
    var c = this.config && this.config.pivot;
    if (c && c.url) return String(c.url).replace(/\/+$/, '');
    var port = c && c.port ? c.port : 8000;
    var m = /^(wss?):\/\/(\[[^\]]+\]|[^:/]+)/.exec(this.url);
    return (m && m[1] === 'wss' ? 'https://' : 'http://') + (m ? m[2] : 'localhost') + ':' + port;
  };
  Connection.prototype.connect = function () {
    var self = this;
    var ws;
    try { ws = new WebSocket(withToken(this.url)); } catch (e) { this.setState('closed'); this.reconnect(); return; }
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
  // A number of a record in Avro JSON (a number, or a union {"double": 1.5}), else null.
  function recordNumber(x) {
    if (x !== null && typeof x === 'object') { var k = Object.keys(x); x = k.length === 1 ? x[k[0]] : null; }
    return typeof x === 'number' ? x : null;
  }
  Connection.prototype.noteScale = function (name, a) {
    if (a > (this.scales[name] || 0) && isFinite(a)) this.scales[name] = a;
  };
  Connection.prototype.scale = function (name) { return this.scales[name] || 0; };
  // A signal's value in the newest record of its channel (the last "status" message): the
  // value the latest-values panel shows. {v, t} (t in ms; v null where the record has no
  // sample: a null union), or null when there is no such record.
  Connection.prototype.latest = function (signal) {
    var dot = signal.indexOf('.');
    var ch = this.status && this.status.channels && this.status.channels[signal.slice(0, dot)];
    if (dot < 1 || !ch || !ch.values || !(signal.slice(dot + 1) in ch.values)) return null;
    var x = ch.values[signal.slice(dot + 1)];
    var v = recordNumber(x);
    if (v === null && !isNull(x)) return null;
    return { v: v, t: ch.time_ns / 1e6 };
  };
  function isNull(x) {
    if (x !== null && typeof x === 'object') { var k = Object.keys(x); return k.length === 1 && x[k[0]] === null; }
    return x === null;
  }
  Connection.prototype.getSeries = function (name) {
    return this.series[name] || (this.series[name] = new Series(name));
  };
  // Oldest time any chart still shows for this signal. With history from the cache the live
  // buffer need not hold what a chart browsing far back shows (the tiles do).
  Connection.prototype.keepFrom = function (name) {
    var keep = Infinity;
    for (var i = 0; i < this.charts.length; i++) {
      var c = this.charts[i];
      if (c.signals.indexOf(name) < 0) continue;
      var span = c.axis.span, from = c.viewRight() - span * 1.5;
      if (c.useHistory && this.history.available) from = Math.max(from, c.liveRight() - 2 * span - 60000);
      keep = Math.min(keep, from);
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
        var vals = m.channels[ch].values || {};
        for (var fld in vals) {
          var nv = recordNumber(vals[fld]);
          if (nv !== null) this.noteScale(ch + '.' + fld, Math.abs(nv));
        }
        var ev = m.channels[ch].loss_events || [];
        var have = this.loss[ch] || (this.loss[ch] = []);
        var seen = {};
        for (var k = 0; k < have.length; k++) seen[have[k].id] = 1;
        for (var e = 0; e < ev.length; e++)
          if (!seen[ev[e].id]) have.push({ id: ev[e].id, time_ms: ev[e].time_ms, missing: ev[e].missing, kind: 'lost' });
        if (have.length > 200) have.splice(0, have.length - 200);
      }
      this.emit('status', m);
    } else if (m.type === 'tags') {
      this.setTags(m.tags || []);
    } else if (m.type === 'error') {
      console.warn('stripchart server:', m.error);
    }
  };
  Connection.prototype.setTags = function (list) {
    this.tags = list.map(function (t) {
      return { id: t.id, name: t.name, note: t.note || '', start: t.start_ns / 1e6, end: t.end_ns / 1e6,
               channels: t.channels || [], signals: t.signals || [] };
    });
    this.emit('tags', this.tags);
  };
  Connection.prototype.onFrame = function (buf) {
    var dv = new DataView(buf);
    if (buf.byteLength < 16 || dv.getUint32(0, true) !== 0x31464453) return;  // "SDF1"
    var seq = dv.getUint32(4, true), nseg = dv.getUint32(8, true), dropped = dv.getUint32(12, true);
    var off = 16, first = null;
    for (var s = 0; s < nseg; s++) {
      var id = dv.getUint32(off, true), n = dv.getUint32(off + 4, true);
      off += 8;
      var t = new Float64Array(buf, off, n); off += 8 * n;
      var v = new Float64Array(buf, off, n); off += 8 * n;
      var name = this.byId[id];
      if (!name || !n) continue;
      var se = this.getSeries(name);
      if (seq === 0) {
        // Backfill (the server's recent samples, sent on subscribe): after a reconnect the
        // part this browser already holds is skipped.
        var last = se.last(), from = 0;
        while (from < n && t[from] <= last) from++;
        if (from === n) continue;
        t = t.subarray(from); v = v.subarray(from);
      } else if (first === null || t[0] < first) first = t[0];
      se.push(t, v, this.keepFrom(name));
      var big = 0;
      for (var q = 0; q < v.length; q++) { var av = v[q] < 0 ? -v[q] : v[q]; if (av > big) big = av; }
      this.noteScale(name, big);
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

  // ---- a time axis shared by charts (view, cursor, selection) -----------------------------
  var axes = {};
  function Axis(name, span) {
    this.name = name;
    this.live = true;
    this.right = 0;          // right edge when not live (ms)
    this.span = span;        // ms shown
    this.cursor = null;      // time under the pointer on any chart of this axis (ms)
    this.cursorChart = null;
    this.selection = null;   // {start, end} ms while selecting or offered
    this.charts = [];
    this._liveFrame = -1;
    this._liveRight = 0;
    this.listeners = [];
  }
  Axis.prototype.liveRight = function () {
    if (this._liveFrame === frameNo) return this._liveRight;
    var off = null;
    for (var c = 0; c < this.charts.length; c++) {
      var ser = this.charts[c].series;
      for (var i = 0; i < ser.length; i++) {
        var o = ser[i].offset;
        if (o !== null && (off === null || o > off)) off = o;
      }
    }
    this._liveFrame = frameNo;
    this._liveRight = Date.now() + (off === null ? 0 : off);
    return this._liveRight;
  };
  Axis.prototype.viewRight = function () { return this.live ? this.liveRight() : this.right; };
  Axis.prototype.changed = function () {
    for (var i = 0; i < this.listeners.length; i++) { try { this.listeners[i](this); } catch (e) { console.error(e); } }
  };
  // Leaves live at the current edge (pause, pan, zoom in history).
  Axis.prototype.hold = function () {
    if (this.live) { this.right = this.liveRight(); this.live = false; }
  };
  Axis.prototype.goLive = function () { this.live = true; this.changed(); };
  Axis.prototype.setView = function (right, span, live) {
    this.span = Math.max(MIN_SPAN, Math.min(MAX_SPAN, span));
    if (live) { this.live = true; }
    else {
      var lr = this.liveRight();
      this.live = false;
      this.right = Math.min(right, lr + this.span * 0.5);
      // Not before the oldest cached sample of the charts' channels (as far as the cache goes).
      var first = this.oldest();
      if (first !== null && this.right - this.span * 0.1 < first) this.right = first + this.span * 0.1;
    }
    this.changed();
  };
  Axis.prototype.oldest = function () {
    var first = null;
    for (var c = 0; c < this.charts.length; c++) {
      var ch = this.charts[c], cov = ch.conn.history.coverage;
      for (var i = 0; i < ch.channels.length; i++) {
        var cv = cov[ch.channels[i]];
        var f = cv ? cv.first : ch.series.length ? Math.min.apply(null, ch.series.map(function (s) { return s.first(); })) : null;
        if (f !== null && isFinite(f) && (first === null || f < first)) first = f;
      }
    }
    return first;
  };
  function axis(name, span) {
    return axes[name] || (axes[name] = new Axis(name, span));
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
  var TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000,
                    120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000,
                    86400000, 172800000, 604800000, 2592000000];
  function pad2(n) { return n < 10 ? '0' + n : '' + n; }
  function clock(ms, step) {
    var d = new Date(ms);
    if (step >= 86400000) return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
    var s = pad2(d.getHours()) + ':' + pad2(d.getMinutes());
    if (step < 60000) s += ':' + pad2(d.getSeconds());
    if (step < 1000) s += '.' + String(d.getMilliseconds() + 1000).slice(1, step < 10 ? 4 : step < 100 ? 3 : 2);
    if (step < 1) s += String(Math.floor((ms - Math.floor(ms)) * 10));
    if (step >= 3600000 && d.getHours() === 0 && d.getMinutes() === 0) s = pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
    return s;
  }
  function fmtSpan(ms) {
    if (ms < 1000) return +ms.toPrecision(3) + ' ms';
    if (ms < 120000) return +(ms / 1000).toPrecision(3) + ' s';
    if (ms < 7200000) return +(ms / 60000).toPrecision(3) + ' min';
    if (ms < 172800000) return +(ms / 3600000).toPrecision(3) + ' h';
    return +(ms / 86400000).toPrecision(3) + ' d';
  }
  // <formatValue> word for word in web/stripchart/stripchart.js and web/console/format.js
  // (tests/e2e/test_console.py compares them): console, dashboard and legends agree.
  // A signal's value for people (latest values, legends, read-outs): integers as integers;
  // otherwise 6 significant digits without trailing zeros; a value below 1e-9 of the
  // signal's scale (the largest magnitude seen of it) is 0, so a sine at its zero crossing
  // reads 0, not 6.761164496e-14; -0 is 0; magnitudes from 1e6 or below 1e-4 in compact
  // exponent form (1.5e-7, 2.34568e+9).
  function formatValue(v, scale) {
    if (typeof v !== 'number') return v === null || v === undefined ? 'null' : String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e15) return String(v);  // String(-0) is "0"
    if (a === 0 || (scale > 0 && a < scale * 1e-9)) return '0';
    if (a >= 1e6 || a < 1e-4) return v.toExponential(5).replace(/\.?0+e/, 'e');
    var s = String(+v.toPrecision(6));
    return s === '-0' ? '0' : s;
  }
  // </formatValue>

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
  var L = 64, R = 12, T = 26, B = 24;   // plot margins (CSS px)

  function Chart(canvas, opts) {
    opts = opts || {};
    var d = canvas.dataset;
    function opt(name) { return opts[name] !== undefined ? opts[name] : d[name]; }
    this.canvas = canvas;
    this.signals = String(opt('signals') || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    var w = parseFloat(opt('window'));
    var windowMs = 1000 * (w > 0 ? w : 30);
    this.height = parseInt(opt('height'), 10) > 0 ? parseInt(opt('height'), 10) : 300;
    var ymin = parseFloat(opt('ymin'));
    var ymax = parseFloat(opt('ymax'));
    this.ymin = isFinite(ymin) ? ymin : null;
    this.ymax = isFinite(ymax) ? ymax : null;
    this.colors = String(opt('colors') || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    this.themeSetting = String(opt('theme') || 'auto').toLowerCase();
    this.useHistory = String(opt('history') || 'on').toLowerCase() !== 'off';
    this.pivot = opt('pivot') ? String(opt('pivot')).replace(/\/+$/, '') : '';
    // Palette position of the first signal (the dashboard spreads its one-signal charts).
    this.colorIndex = opts.colorIndex | 0;
    this.hoverX = null;
    this.conn = connection(opt('server'));
    this.frames = 0;
    this.drawMs = 0;
    this.fps = 0;
    this._fpsCount = 0;
    this._fpsStart = performance.now();
    this._cols = 0;
    this.pointers = {};
    this.gesture = null;
    this.selectMode = false;
    this.buttons = [];
    this.channels = [];
    this.series = [];
    this.setSignals(this.signals, true);
    // Charts of the same window share a time axis unless data-axis names another (or "own").
    var an = String(opt('axis') || '');
    if (an === 'own' || an === 'none') an = 'own:' + Math.random();
    this.axis = axis(an || 'window:' + windowMs, windowMs);
    this.axis.charts.push(this);
    this.initialSpan = windowMs;
    var self = this;
    if (!canvas.style.width) canvas.style.width = '100%';
    canvas.style.height = this.height + 'px';
    canvas.style.display = 'block';
    canvas.style.cursor = 'crosshair';
    canvas.style.touchAction = 'pan-y';
    canvas.setAttribute('tabindex', canvas.getAttribute('tabindex') || '0');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', 'Chart of ' + this.signals.join(', '));
    this._handlers = {
      pointerdown: function (e) { self.onPointerDown(e); },
      pointermove: function (e) { self.onPointerMove(e); },
      pointerup: function (e) { self.onPointerUp(e); },
      pointercancel: function (e) { self.onPointerUp(e, true); },
      pointerleave: function () { self.hoverX = null; if (self.axis.cursorChart === self) self.axis.cursor = null; },
      wheel: function (e) { self.onWheel(e); },
      dblclick: function (e) { self.fit(); e.preventDefault(); },
      keydown: function (e) { self.onKey(e); }
    };
    for (var ev in this._handlers) canvas.addEventListener(ev, this._handlers[ev], ev === 'wheel' ? { passive: false } : false);
    this.mql = global.matchMedia ? global.matchMedia('(prefers-color-scheme: dark)') : null;
    canvas._stripchart = this;
    this.conn.addChart(this);
    charts.push(this);
    startLoop();
  }
  // Seconds shown (the shared axis's span), as data-window says and the dashboard sets.
  Object.defineProperty(Chart.prototype, 'windowMs', {
    get: function () { return this.axis.span; },
    set: function (ms) { this.axis.setView(this.axis.viewRight(), ms, this.axis.live); }
  });
  Object.defineProperty(Chart.prototype, 'paused', { get: function () { return !this.axis.live; } });
  Chart.prototype.setSignals = function (list, initial) {
    this.signals = list.slice();
    this.series = this.signals.map(this.conn.getSeries, this.conn);
    var ch = {};
    this.fields = {};  // channel -> [field]
    for (var i = 0; i < this.signals.length; i++) {
      var dot = this.signals[i].indexOf('.');
      var c = this.signals[i].slice(0, dot), f = this.signals[i].slice(dot + 1);
      ch[c] = 1;
      (this.fields[c] || (this.fields[c] = [])).push(f);
    }
    this.channels = Object.keys(ch);
    this._cols = 0;
    if (!initial) {
      this.canvas.dataset.signals = this.signals.join(',');
      this.conn.subscribe();
    }
  };
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
    if (this.axis.live) { this.axis.hold(); this.axis.changed(); } else this.axis.goLive();
  };
  Chart.prototype.pause = function () { if (this.axis.live) this.togglePause(); };
  Chart.prototype.resume = function () { if (!this.axis.live) this.axis.goLive(); };
  Chart.prototype.goLive = function () { this.axis.goLive(); };
  // Right edge when live: newest data time extrapolated with the wall clock.
  Chart.prototype.liveRight = function () { return this.axis.liveRight(); };
  Chart.prototype.viewRight = function () { return this.axis.viewRight(); };
  Chart.prototype.view = function () {
    var r = this.axis.viewRight();
    return { live: this.axis.live, start: r - this.axis.span, end: r, span: this.axis.span };
  };
  // Shows [start, end] (ms), or the live edge with this span when live is true.
  Chart.prototype.setView = function (start, end, live) { this.axis.setView(end, end - start, live); };
  // Zooms out to everything the cache holds for this chart's channels.
  Chart.prototype.fit = function () {
    var first = this.axis.oldest(), lr = this.axis.liveRight();
    if (first === null) return;
    this.axis.setView(lr, (lr - first) * 1.04, true);
  };
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
    var a = this.axis.charts;
    a.splice(a.indexOf(this), 1);
    for (var ev in this._handlers) this.canvas.removeEventListener(ev, this._handlers[ev]);
    closeMenu(this);
    delete this.canvas._stripchart;
  };

  // ---- pointer, wheel and keys --------------------------------------------------------
  Chart.prototype.plotWidth = function () { return Math.max(10, (this.canvas.clientWidth || 600) - L - R); };
  Chart.prototype.timeAt = function (x) {
    var right = this.axis.viewRight();
    return right - this.axis.span + (x - L) / this.plotWidth() * this.axis.span;
  };
  Chart.prototype.localX = function (e) { return e.clientX - this.canvas.getBoundingClientRect().left; };
  Chart.prototype.hitButton = function (e) {
    var x = this.localX(e), y = e.clientY - this.canvas.getBoundingClientRect().top;
    for (var i = 0; i < this.buttons.length; i++) {
      var b = this.buttons[i];
      if (x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) return b;
    }
    return null;
  };
  Chart.prototype.onPointerDown = function (e) {
    if (e.button !== undefined && e.button !== 0) return;
    var b = this.hitButton(e);
    if (b) { b.action(); e.preventDefault(); return; }
    closeMenu(this);
    try { this.canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
    this.pointers[e.pointerId] = { x: this.localX(e) };
    var ids = Object.keys(this.pointers);
    if (ids.length === 2) {
      // Pinch: the span follows the distance between the two fingers.
      var a = this.pointers[ids[0]].x, c = this.pointers[ids[1]].x;
      this.axis.hold();
      this.gesture = { kind: 'pinch', d0: Math.max(10, Math.abs(a - c)), span0: this.axis.span, right0: this.axis.right,
                       mid: this.timeAt((a + c) / 2) };
      return;
    }
    var x = this.localX(e);
    this.gesture = { kind: e.shiftKey || this.selectMode ? 'select' : 'pan', x0: x, t0: this.timeAt(x), moved: false,
                     right0: this.axis.viewRight(), span0: this.axis.span, wasLive: this.axis.live };
  };
  Chart.prototype.onPointerMove = function (e) {
    var x = this.localX(e);
    this.hoverX = x;
    this.axis.cursor = this.timeAt(x);
    this.axis.cursorChart = this;
    if (this.pointers[e.pointerId]) this.pointers[e.pointerId].x = x;
    var g = this.gesture;
    if (!g) return;
    if (g.kind === 'pinch') {
      var ids = Object.keys(this.pointers);
      if (ids.length < 2) return;
      var a = this.pointers[ids[0]].x, c = this.pointers[ids[1]].x;
      var span = g.span0 * g.d0 / Math.max(10, Math.abs(a - c));
      var frac = ((a + c) / 2 - L) / this.plotWidth();
      this.axis.setView(g.mid + (1 - frac) * span, span, false);
      return;
    }
    if (Math.abs(x - g.x0) > 3) g.moved = true;
    if (!g.moved) return;
    if (g.kind === 'pan') {
      var dt = (x - g.x0) / this.plotWidth() * g.span0;
      var right = g.right0 - dt;
      // Dragged back to (or past) the live edge: follow it again.
      if (right >= this.axis.liveRight() && dt < 0 && g.wasLive) this.axis.setView(0, g.span0, true);
      else this.axis.setView(right, g.span0, false);
    } else {
      // Whole microseconds: the range is sent as ISO 8601 with µs, and must be exactly this.
      var t = Math.round(this.timeAt(x) * 1000) / 1000, t0 = Math.round(g.t0 * 1000) / 1000;
      this.axis.selection = { start: Math.min(t0, t), end: Math.max(t0, t), chart: this };
    }
  };
  Chart.prototype.onPointerUp = function (e, cancelled) {
    delete this.pointers[e.pointerId];
    var g = this.gesture;
    this.gesture = null;
    if (!g || cancelled) return;
    if (g.kind === 'pinch') return;
    if (!g.moved) {
      if (g.kind === 'pan') this.togglePause();
      return;
    }
    if (g.kind === 'select' && this.axis.selection) {
      this.selectMode = false;
      openMenu(this, this.axis.selection, e);
    }
  };
  Chart.prototype.zoom = function (factor, atX) {
    var a = this.axis, span = a.span * factor;
    if (a.live) { a.setView(0, span, true); return; }
    var x = atX === undefined ? L + this.plotWidth() : atX;
    var t = this.timeAt(x), frac = (x - L) / this.plotWidth();
    a.setView(t + (1 - frac) * Math.max(MIN_SPAN, Math.min(MAX_SPAN, span)), span, false);
  };
  Chart.prototype.pan = function (ms) {
    var a = this.axis;
    var right = a.viewRight() + ms;
    if (ms > 0 && right >= a.liveRight()) a.goLive(); else a.setView(right, a.span, false);
  };
  Chart.prototype.onWheel = function (e) {
    e.preventDefault();
    var dx = e.deltaX, dy = e.deltaY;
    if (e.deltaMode === 1) { dx *= 16; dy *= 16; }
    if (Math.abs(dx) > Math.abs(dy)) { this.pan(dx / this.plotWidth() * this.axis.span); return; }
    // Live: the right edge stays live and the span changes; in history: around the pointer.
    this.zoom(Math.exp(dy * (e.ctrlKey ? 0.01 : 0.0015)), this.localX(e));
  };
  Chart.prototype.onKey = function (e) {
    var k = e.key;
    if (k === ' ' || k === 'p') this.togglePause();
    else if (k === 'l' || k === 'End') this.goLive();
    else if (k === '+' || k === '=') this.zoom(0.5);
    else if (k === '-') this.zoom(2);
    else if (k === 'ArrowLeft') this.pan(-this.axis.span / 4);
    else if (k === 'ArrowRight') this.pan(this.axis.span / 4);
    else if (k === 'a') this.fit();
    else if (k === 's') this.selectMode = !this.selectMode;
    else if (k === 'Escape') { this.axis.selection = null; closeMenu(this); }
    else return;
    e.preventDefault();
  };

  // ---- the selection menu: tag it, download HDF5 / CSV --------------------------------
  var menu = null;
  function closeMenu(chart) {
    if (menu && (!chart || menu.chart === chart || menu.chart.axis === chart.axis)) {
      menu.el.remove();
      if (menu.chart.axis.selection === menu.sel) menu.chart.axis.selection = null;
      menu = null;
    }
  }
  function pageChannels(chart) {
    var set = {};
    charts.forEach(function (c) { if (c.conn === chart.conn) c.channels.forEach(function (ch) { set[ch] = 1; }); });
    return Object.keys(set).sort();
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function saveBlob(blob, name) {
    var a = el('a', { href: URL.createObjectURL(blob), download: name });
    a.style.display = 'none';
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 60000);
  }
  function exportUrl(chart, sel, format) {
    var chans = pageChannels(chart);
    return chart.pivotUrl() + '/api/v1/pivot/export?start=' + encodeURIComponent(isoMs(sel.start)) +
           '&end=' + encodeURIComponent(isoMs(sel.end)) + '&channels=' + encodeURIComponent(chans.join(',')) +
           (format === 'csv' ? '&format=csv' : '');
  }
  // Downloads the export as a file (fetch, so that an error is shown, not navigated to).
  function download(chart, sel, format, say) {
    var url = exportUrl(chart, sel, format);
    say('exporting…');
    return global.fetch(url, { headers: authHeaders() }).then(function (r) {
      if (!r.ok) return r.json().then(function (j) { throw new Error(j.error || 'HTTP ' + r.status); },
                                      function () { throw new Error('HTTP ' + r.status); });
      var type = r.headers.get('Content-Type') || '';
      var cd = r.headers.get('Content-Disposition') || '';
      var m = /filename="?([^";]+)"?/.exec(cd);
      var ext = format === 'csv' ? (/zip/.test(type) ? '.zip' : '.csv') : '.h5';
      var name = m ? m[1] : 'speeddata_' + pageChannels(chart).join('-') + '_' + isoMs(sel.start).replace(/[:]/g, '') + ext;
      return r.blob().then(function (b) { saveBlob(b, name); say('saved ' + name); return name; });
    }).catch(function (e) { say('export failed: ' + e.message, true); throw e; });
  }
  function createTag(chart, sel, name, note) {
    var body = { name: name, note: note, start: isoMs(sel.start), end: isoMs(sel.end), channels: pageChannels(chart) };
    return global.fetch(chart.pivotUrl() + '/api/v1/tags', {
      method: 'POST', headers: authHeaders({ 'Content-Type': 'application/json' }), body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
        return j;
      });
    }).then(function (tag) {
      // Shown here at once; every other page learns of it from the server's "tags" message.
      var conn = chart.conn;
      if (!conn.tags.some(function (t) { return t.id === tag.id; }))
        conn.setTags(conn.tags.map(function (t) {
          return { id: t.id, name: t.name, note: t.note, start_ns: t.start * 1e6, end_ns: t.end * 1e6, channels: t.channels, signals: t.signals };
        }).concat([tag]));
      return tag;
    });
  }
  Chart.prototype.pivotUrl = function () { return this.pivot || this.conn.pivotUrl(); };
  function openMenu(chart, sel, e) {
    closeMenu();
    var th = chart.theme() === 'dark';
    var box = el('div', { class: 'stripchart-menu', role: 'dialog' });
    box.style.cssText = 'position:absolute;z-index:1000;min-width:250px;padding:8px 10px;border-radius:6px;font:12px system-ui,sans-serif;' +
      'box-shadow:0 3px 12px rgba(0,0,0,.35);' + (th ? 'background:#222;color:#eee;border:1px solid #444' : 'background:#fff;color:#111;border:1px solid #bbb');
    var head = el('div', null, isoMs(sel.start).replace('T', ' ') + ' → ' + fmtSpan(sel.end - sel.start));
    head.style.cssText = 'margin-bottom:6px;font-family:ui-monospace,monospace';
    box.appendChild(head);
    var row = el('div');
    row.style.cssText = 'display:flex;gap:6px;flex-wrap:wrap';
    var bTag = el('button', { type: 'button', 'data-action': 'tag' }, 'Tag it…');
    var bH5 = el('button', { type: 'button', 'data-action': 'hdf5' }, 'Download HDF5');
    var bCsv = el('button', { type: 'button', 'data-action': 'csv' }, 'Download CSV');
    var bX = el('button', { type: 'button', 'data-action': 'close', title: 'close (Esc)' }, '×');
    [bTag, bH5, bCsv, bX].forEach(function (b) { row.appendChild(b); });
    box.appendChild(row);
    var form = el('form');
    form.style.cssText = 'display:none;margin-top:8px;gap:4px;flex-direction:column';
    var iName = el('input', { name: 'name', placeholder: 'name', required: 'required', maxlength: '200' });
    var iNote = el('input', { name: 'note', placeholder: 'note (optional)' });
    var bSave = el('button', { type: 'submit', 'data-action': 'save' }, 'Save tag');
    form.appendChild(iName); form.appendChild(iNote); form.appendChild(bSave);
    box.appendChild(form);
    var msg = el('div', { class: 'stripchart-menu-msg' });
    msg.style.cssText = 'margin-top:6px;min-height:14px;opacity:.85';
    box.appendChild(msg);
    var chans = el('div', null, 'channels: ' + pageChannels(chart).join(', '));
    chans.style.cssText = 'opacity:.6;font-size:11px';
    box.appendChild(chans);
    function say(t, bad) { msg.textContent = t; msg.style.color = bad ? '#e53935' : ''; menuState.message = t; menuState.error = !!bad; }
    var menuState = { message: '', error: false };
    bTag.onclick = function () { form.style.display = 'flex'; iName.focus(); };
    bH5.onclick = function () { download(chart, sel, 'hdf5', say).catch(function () {}); };
    bCsv.onclick = function () { download(chart, sel, 'csv', say).catch(function () {}); };
    bX.onclick = function () { closeMenu(); };
    form.onsubmit = function (ev) {
      ev.preventDefault();
      if (!iName.value.trim()) { say('a tag needs a name', true); return; }
      say('tagging…');
      createTag(chart, sel, iName.value.trim(), iNote.value).then(function (t) {
        say('tagged #' + t.id + ' ' + t.name);
        setTimeout(function () { if (menu && menu.sel === sel) closeMenu(); }, 1200);
      }, function (err) { say('tag failed: ' + err.message, true); });
    };
    box.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closeMenu(); });
    document.body.appendChild(box);
    var r = chart.canvas.getBoundingClientRect();
    var x = Math.min(Math.max(0, (e && e.clientX ? e.clientX : r.left + r.width / 2) - 20), global.innerWidth - 280);
    box.style.left = (x + global.scrollX) + 'px';
    box.style.top = (r.top + global.scrollY + T + 6) + 'px';
    menu = { el: box, chart: chart, sel: sel, state: menuState };
  }

  // ---- drawing ---------------------------------------------------------------------------
  Chart.prototype.ensureColumns = function (n) {
    if (this._cols === n) return;
    this._cols = n;
    this.cMin = new Float64Array(n); this.cMax = new Float64Array(n);
    this.cFirst = new Float64Array(n); this.cLast = new Float64Array(n);
    this.cFt = new Float64Array(n); this.cLt = new Float64Array(n);
    this.cN = new Float64Array(n);
  };

  // Fills the columns of series s from history tiles (before split) and live samples (from
  // split on), so each moment is drawn from exactly one source: no gap, no duplicate.
  Chart.prototype.fillColumns = function (s, base, cols, left, right, tiles) {
    var cMin = this.cMin, cMax = this.cMax, cFirst = this.cFirst, cLast = this.cLast, cFt = this.cFt, cLt = this.cLt, cN = this.cN;
    var scale = cols / (right - left), se = this.series[s], pts = 0;
    var split = -Infinity;
    if (tiles && tiles.length) {
      // The end of the last complete tile of this signal, unless live samples start later.
      var done = -Infinity;
      for (var q = 0; q < tiles.length; q++) {
        var ch = tiles[q];
        if (ch.fields[tiles.field]) done = Math.max(done, Math.min(ch.complete, ch.end));
      }
      var dt = tiles[0].dt;
      var hb = Math.floor(done / dt) * dt;
      var ls = se.first();
      split = ls <= hb ? hb : (isFinite(ls) ? Math.ceil(ls / dt) * dt : Infinity);
      for (q = 0; q < tiles.length; q++) {
        var c = tiles[q], f = c.fields[tiles.field];
        if (!f) continue;
        var i0 = Math.max(0, Math.floor((left - c.start) / c.dt)), i1 = Math.min(TILES, Math.ceil((Math.min(right, split) - c.start) / c.dt));
        for (var i = i0; i < i1; i++) {
          var cnt = f.count[i];
          if (!cnt) continue;
          var ts = c.start + i * c.dt;
          if (ts + c.dt > split) break;
          var col = ((ts + c.dt * 0.5 - left) * scale) | 0;
          if (col < 0 || col >= cols) continue;
          var k = base + col;
          if (cN[k] === 0) { cMin[k] = f.min[i]; cMax[k] = f.max[i]; cFirst[k] = f.first[i]; cFt[k] = f.ft[i]; }
          else { if (f.min[i] < cMin[k]) cMin[k] = f.min[i]; if (f.max[i] > cMax[k]) cMax[k] = f.max[i]; }
          cLast[k] = f.last[i]; cLt[k] = f.lt[i];
          cN[k] += cnt;
          pts += cnt;
        }
      }
    }
    var from = Math.max(left, split);
    var j = se.lowerBound(from), end = se.tail, tt = se.t, vv = se.v;
    for (; j < end; j++) {
      var x = tt[j];
      if (x > right) break;
      var v = vv[j];
      if (v !== v) continue;  // NaN: nothing to draw
      var col2 = ((x - left) * scale) | 0;
      if (col2 >= cols) col2 = cols - 1;
      var k2 = base + col2;
      if (cN[k2] === 0) { cMin[k2] = cMax[k2] = cFirst[k2] = v; cFt[k2] = x; }
      else { if (v < cMin[k2]) cMin[k2] = v; if (v > cMax[k2]) cMax[k2] = v; }
      cLast[k2] = v; cLt[k2] = x;
      cN[k2]++;
      pts++;
    }
    return { points: pts, split: split };
  };

  // The history chunks covering [left, right] for one channel at the level of colMs.
  Chart.prototype.tilesFor = function (channel, left, right, colMs, now) {
    var h = this.conn.history;
    if (!this.useHistory || !global.fetch || typeof BigInt === 'undefined') return null;
    if (!h.available && now < h.retryAt) return null;
    var e = History.level(colMs), dt = Math.pow(2, e), span = TILES * dt;
    var k0 = Math.floor(left / span), k1 = Math.floor(right / span);
    var out = [];
    // Past the newest sample of the cache nothing is asked for beyond the chunk holding it.
    for (var k = k1; k >= k0; k--) out.unshift(h.chunk(channel, this.fields[channel], e, k, now));
    return out;
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

    var pw = Math.max(10, cssW - L - R), ph = Math.max(10, cssH - T - B);
    var ax = this.axis, span = ax.span;
    var right = ax.viewRight(), left = right - span;
    function X(t) { return L + (t - left) / span * pw; }

    // Envelope per pixel column: min, max, first, last (and their times) of every series.
    var cols = Math.max(1, Math.round(pw * dpr)), ns = this.series.length;
    this.ensureColumns(cols * ns);
    this.cN.fill(0);
    var cMin = this.cMin, cMax = this.cMax, cFirst = this.cFirst, cLast = this.cLast, cFt = this.cFt, cLt = this.cLt, cN = this.cN;
    var points = 0, splits = [];
    var colMs = span / cols;
    var byChannel = {};
    for (var ci = 0; ci < this.channels.length; ci++)
      byChannel[this.channels[ci]] = this.tilesFor(this.channels[ci], left, right, colMs, t0);
    for (var s = 0; s < ns; s++) {
      var name = this.signals[s], dot = name.indexOf('.');
      var tiles = byChannel[name.slice(0, dot)];
      if (tiles) tiles.field = name.slice(dot + 1);
      var r = this.fillColumns(s, s * cols, cols, left, right, tiles);
      points += r.points;
      splits.push(r.split);
    }
    var lo = Infinity, hi = -Infinity;
    for (var q = 0; q < cols * ns; q++) if (cN[q]) { if (cMin[q] < lo) lo = cMin[q]; if (cMax[q] > hi) hi = cMax[q]; }
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
    for (var qs = 0; qs < TIME_STEPS.length; qs++) if (span / TIME_STEPS[qs] <= Math.max(2, pw / 90)) { tstep = TIME_STEPS[qs]; break; }
    var tz = new Date(right).getTimezoneOffset() * 60000;
    g.textAlign = 'center';
    for (var tv = Math.ceil((left - tz) / tstep) * tstep + tz; tv <= right; tv += tstep) {
      var xx = Math.round(X(tv)) + 0.5;
      g.moveTo(xx, T); g.lineTo(xx, T + ph);
      // Labels near the ends are shifted inside the canvas rather than cut off.
      var tl = clock(tv, tstep), half = g.measureText(tl).width / 2;
      g.fillText(tl, Math.min(Math.max(xx, half + 1), cssW - half - 1), T + ph + 12);
    }
    g.stroke();
    g.strokeStyle = th.axis;
    g.strokeRect(L + 0.5, T + 0.5, pw - 1, ph - 1);

    g.save();
    g.beginPath(); g.rect(L, T, pw, ph); g.clip();

    // Tags of this chart's channels: shaded spans with their names.
    var tagsShown = [];
    var tags = this.conn.tags;
    for (var ti = 0; ti < tags.length; ti++) {
      var tg = tags[ti];
      if (tg.end < left || tg.start > right) continue;
      var mine = !tg.channels.length;
      for (var tc = 0; tc < tg.channels.length && !mine; tc++) mine = this.channels.indexOf(tg.channels[tc]) >= 0;
      if (!mine) continue;
      var x0 = Math.max(L, X(tg.start)), x1 = Math.min(L + pw, X(tg.end));
      g.fillStyle = th.tag; g.fillRect(x0, T, Math.max(1, x1 - x0), ph);
      g.strokeStyle = th.tagEdge; g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(X(tg.start)) + 0.5, T); g.lineTo(Math.round(X(tg.start)) + 0.5, T + ph);
      g.moveTo(Math.round(X(tg.end)) + 0.5, T); g.lineTo(Math.round(X(tg.end)) + 0.5, T + ph); g.stroke();
      g.fillStyle = th.tagEdge; g.textAlign = 'left';
      g.fillText('🏷 ' + tg.name, Math.max(L + 2, X(tg.start) + 3), T + ph - 8 - 13 * (tagsShown.length % 3));
      tagsShown.push(tg.id);
    }
    this.tagsShown = tagsShown;

    // Loss markers: the channels of this chart's signals, and frames this browser missed.
    var marks = [], chans = {};
    for (var si = 0; si < this.channels.length; si++) chans[this.channels[si]] = 1;
    chans['*'] = 1;
    for (var chn in chans) {
      var lst = this.conn.loss[chn] || [];
      for (var li = 0; li < lst.length; li++) if (lst[li].time_ms >= left && lst[li].time_ms <= right) marks.push(lst[li]);
    }
    g.strokeStyle = th.loss; g.fillStyle = th.loss; g.setLineDash([3, 3]);
    for (var mi = 0; mi < marks.length; mi++) {
      var mx = Math.round(X(marks[mi].time_ms)) + 0.5;
      g.beginPath(); g.moveTo(mx, T); g.lineTo(mx, T + ph); g.stroke();
      var near = mx + 60 > L + pw;  // near the right edge: label on the left of the line
      g.textAlign = near ? 'right' : 'left';
      g.fillText((marks[mi].kind === 'skipped' ? '⏭ ' : '✕ ') + marks[mi].missing + ' lost', near ? mx - 3 : mx + 3, T + 8);
    }
    g.setLineDash([]);

    // The range being selected (or offered in the menu).
    var sel = ax.selection;
    if (sel && sel.end > left && sel.start < right) {
      g.fillStyle = th.sel;
      g.fillRect(X(sel.start), T, Math.max(1, X(sel.end) - X(sel.start)), ph);
    }

    // Signals. A series with at least two samples per pixel column is drawn as its min..max
    // envelope, one span per column joined to the previous column's last value, painted
    // straight into a bitmap layer (one blit): never a zig-zag line through the extremes,
    // and cheap on GPU-less canvases. Sparser series are lines through the samples at their
    // own times (first and last of each column, with its extremes when it holds more).
    var rows = Math.max(1, Math.round(ph * dpr)), dense = [], sparse = [], sparsePts = 0;
    this.modes = [];
    for (s = 0; s < ns; s++) {
      var used = 0, pts = 0;
      for (var c0 = s * cols, c1 = c0 + cols; c0 < c1; c0++) if (cN[c0]) { used++; pts += cN[c0]; }
      // Two or more samples per used column on average: a line would zig-zag. A few columns
      // that hold two samples (timing jitter at the live edge) do not turn a line into bars.
      if (pts >= 2 * used) { dense.push(s); this.modes.push('envelope'); }
      else { sparse.push(s); sparsePts += pts; this.modes.push('line'); }
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
        s = dense[di]; var base = s * cols;
        var rgba = colorWord(colors[s]), prev = -1, gap = 0;
        // Columns with no sample between two that have one (fewer samples than columns in
        // places) are bridged, as a line would be, unless the gap is long.
        for (var col2 = 0; col2 < cols; col2++) {
          var k2 = base + col2;
          if (!cN[k2]) { if (++gap > 8) prev = -1; continue; }
          var top = (ymax - cMax[k2]) * yd, bot = (ymax - cMin[k2]) * yd;
          if (prev >= 0) { if (prev < top) top = prev; if (prev > bot) bot = prev; }
          gap = 0;
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
      var started = false, lastT = -Infinity, maxGap = Math.max(colMs * 40, 4 * (this.series[s].interval || 0));
      for (var cc = 0; cc < cols; cc++) {
        var kk = base + cc;
        if (!cN[kk]) continue;
        var px = X(cFt[kk]);
        // A long stretch without samples (the source stopped) is not bridged.
        if (!started || cFt[kk] - lastT > maxGap * 8) { g.moveTo(px, Y(cFirst[kk])); started = true; } else g.lineTo(px, Y(cFirst[kk]));
        if (cN[kk] > 2) { var pc = L + (cc + 0.5) / dpr; g.lineTo(pc, Y(cMin[kk])); g.lineTo(pc, Y(cMax[kk])); }
        if (cN[kk] > 1) g.lineTo(X(cLt[kk]), Y(cLast[kk]));
        lastT = cLt[kk];
      }
      g.stroke();
    }

    // Cursor (shared by the charts of this axis) and read-out.
    var readout = null;
    var ct = ax.cursor;
    if (ct !== null && ct >= left && ct <= right && (ax.cursorChart === this || ax.charts.length > 1)) {
      var hx = X(ct);
      g.strokeStyle = th.cursor; g.lineWidth = 1;
      g.beginPath(); g.moveTo(Math.round(hx) + 0.5, T); g.lineTo(Math.round(hx) + 0.5, T + ph); g.stroke();
      readout = { t: ct, values: [] };
      var hcol = Math.min(cols - 1, Math.max(0, Math.floor((ct - left) / span * cols)));
      for (s = 0; s < ns; s++) {
        var se = this.series[s], val = null, vt = null;
        if (ct >= splits[s]) {
          var j = se.lowerBound(ct);
          if (j > se.head && (j >= se.tail || Math.abs(se.t[j - 1] - ct) < Math.abs(se.t[j] - ct))) j--;
          if (j >= se.head && j < se.tail && Math.abs(se.t[j] - ct) < Math.max(span / 50, 2 * (se.interval || 0) + 100)) { val = se.v[j]; vt = se.t[j]; }
        }
        if (val === null) {
          // From the columns (history): the nearest column with a sample.
          for (var dc = 0; dc < 6 && val === null; dc++) {
            var ka = s * cols + hcol - dc, kb = s * cols + hcol + dc;
            if (hcol - dc >= 0 && cN[ka]) { val = cLast[ka]; vt = cLt[ka]; }
            else if (hcol + dc < cols && cN[kb]) { val = cFirst[kb]; vt = cFt[kb]; }
          }
        }
        readout.values.push(val);
        if (val !== null) { g.fillStyle = colors[s]; g.beginPath(); g.arc(X(vt), Y(val), 3, 0, 6.3); g.fill(); }
      }
      if (ax.cursorChart === this) {
        var label = isoMs(ct).replace('T', ' ').replace('Z', ' UTC');
        g.font = FONT; g.textAlign = 'left';
        var lw = g.measureText(label).width + 10;
        var lx = Math.min(hx + 8, L + pw - lw);
        g.fillStyle = th.badge; g.fillRect(lx, T + ph - 20, lw, 16);
        g.fillStyle = th.text; g.fillText(label, lx + 5, T + ph - 12);
      }
    }
    g.restore();

    // Legend: name and value per signal. Hovering: the value under the cursor. Live: the
    // value of the channel's newest record, the one the latest-values panel (dashboard,
    // console) shows, in the same format, so the two agree. It changes with the status
    // messages (4 a second), so it may trail the line's tip by up to a quarter second
    // (or lead it by a frame): the number a user compares with the panel's is the same one.
    // Paused or in history: the newest value shown, at the frozen edge.
    g.textAlign = 'left';
    var lxp = L;
    var legend = [];
    for (s = 0; s < ns; s++) {
      se = this.series[s];
      var lv = readout ? readout.values[s] : null, lsrc = readout ? 'cursor' : null;
      if (!readout && ax.live && !(this._fedSeries && this._fedSeries[this.signals[s]])) {
        var lr = this.conn.latest(this.signals[s]);
        if (lr && lr.t >= left) { lv = lr.v; lsrc = 'latest'; }
      }
      var ltext = lsrc === 'latest' && lv === null ? 'null' : '';  // as the panel: no sample
      if (!readout && lv === null && !lsrc) {
        var li2 = se.lowerBound(right + 1e-6) - 1;  // newest shown (paused: at the frozen edge)
        if (li2 >= se.head && se.t[li2] >= left) { lv = se.v[li2]; lsrc = 'edge'; }
      }
      if (!readout && lv === null && !lsrc)  // in history: the newest value drawn
        for (var lc = s * cols + cols - 1; lc >= s * cols; lc--) if (cN[lc]) { lv = cLast[lc]; lsrc = 'edge'; break; }
      if (lv !== null && lv !== undefined) ltext = formatValue(lv, this.conn.scale(this.signals[s]));
      legend.push({ signal: this.signals[s], value: lv === undefined ? null : lv, text: ltext, source: lsrc });
      var text = this.signals[s] + (ltext ? ' ' + ltext : '');
      g.fillStyle = colors[s];
      g.fillRect(lxp, 9, 10, 3);
      g.fillStyle = th.text;
      g.fillText(text, lxp + 14, 11);
      lxp += g.measureText(text).width + 28;
    }

    // Connection / staleness / view indicator and buttons, top right.
    var st = this.conn.state, stale = this.isStale();
    var dot, msg;
    if (st !== 'open') { dot = '#e53935'; msg = st === 'connecting' ? 'connecting…' : 'disconnected – retrying'; }
    else if (stale === null) { dot = '#9e9e9e'; msg = 'waiting for data'; }
    else if (stale) { dot = '#ffb300'; msg = 'stale ' + Math.round(stale / 1000) + ' s'; }
    else { dot = '#43a047'; msg = 'live'; }
    var live = ax.live;
    if (!live) msg = '❚❚ ' + (right < ax.liveRight() - span ? 'history' : 'paused') + ' · ' + fmtSpan(span) + ' · ' + msg;
    else if (span !== this.initialSpan) msg = fmtSpan(span) + ' · ' + msg;
    g.textAlign = 'right';
    g.fillStyle = st !== 'open' ? dot : !live ? th.text : th.dim;
    var mw = g.measureText(msg).width;
    g.fillText(msg, cssW - R - 14, 11);
    g.fillStyle = dot; g.beginPath(); g.arc(cssW - R - 5, 11, 4, 0, 6.3); g.fill();
    this.buttons = [];
    var self = this, bx = cssW - R - 14 - mw - 8;
    function button(label, active, action, key) {
      var w = g.measureText(label).width + 12;
      bx -= w;
      g.fillStyle = active ? '#43a047' : th.button;
      g.fillRect(bx, 3, w, 16);
      g.fillStyle = active ? '#ffffff' : th.text;
      g.textAlign = 'left';
      g.fillText(label, bx + 6, 11);
      self.buttons.push({ x: bx, y: 3, w: w, h: 16, action: action, key: key });
      bx -= 6;
    }
    if (!live) button('▶ live', true, function () { self.goLive(); }, 'live');
    button(this.selectMode ? '⬚ selecting' : '⬚ select', this.selectMode, function () { self.selectMode = !self.selectMode; }, 'select');
    this.status = !live ? 'paused' : (st !== 'open' ? st : (stale === null ? 'waiting' : stale ? 'stale' : 'live'));

    this.readout = readout;  // {t, values} under the cursor, or null
    this.legend = legend;    // [{signal, value, text, source: latest|edge|cursor|null}] as drawn
    this.points = points;
    this.yRange = [ymin, ymax];
    this.plot = { left: L, top: T, width: pw, height: ph, dpr: dpr, start: left, end: right };
    this.splits = splits;
    this.frames++;
    this._fpsCount++;
    var now = performance.now();
    this.drawMs = now - t0;
    if (now - this._fpsStart >= 1000) { this.fps = this._fpsCount * 1000 / (now - this._fpsStart); this._fpsCount = 0; this._fpsStart = now; }
  };

  // ---- one animation loop for every chart ---------------------------------------------
  var charts = [];
  var looping = false;
  var frameNo = 0;
  function startLoop() {
    if (looping) return;
    looping = true;
    function tick() {
      frameNo++;
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
    version: '0.7',
    palettes: PALETTES,
    attach: attach,
    scan: scan,
    connection: connection,
    axis: axis,
    axes: axes,
    charts: charts,
    Chart: Chart,
    isoMs: isoMs,
    formatValue: formatValue,
    menu: function () { return menu; },
    closeMenu: closeMenu,
    tiles: TILES
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', function () { scan(); });
  else scan();
})(window);

/* ---- v0.6 compatibility: the earlier stripchart.js's globals, as a thin layer over the above ----
 * (docs/stripchart.md, "Earlier pages"). Kept apart from the chart code on purpose.
 *   new Stripchart(canvas)          the chart of a canvas (attached once; `instanceof` works)
 *   stripcharts                     every chart of the page (SpeedDataStripchart.charts)
 *   chart.addDataPoint(sig, value)  a value stamped with the time it is given, as the earlier
 *                                   script did; from then on the chart draws the values given
 *                                   this way for that signal instead of the server's stream
 *   addDataPoint(sig, value)        the same for every chart showing that signal
 * Values may be numbers, numeric strings, booleans or an Avro union ({"double": 1.5}); null
 * and other values are skipped. */
(function (global) {
  'use strict';
  var SD = global.SpeedDataStripchart;
  if (!SD || !SD.Chart) return;
  var Chart = SD.Chart;
  var fedCharts = 0;

  function Stripchart(canvas, opts) { return SD.attach(canvas, opts); }
  Stripchart.prototype = Chart.prototype;

  function numberOf(value) {
    if (value !== null && typeof value === 'object') {
      var keys = Object.keys(value);
      if (keys.length !== 1) return null;
      value = value[keys[0]];
    }
    if (value === null || value === undefined || value === '') return null;
    var v = typeof value === 'boolean' ? (value ? 1 : 0) : Number(value);
    return isFinite(v) ? v : null;
  }

  Chart.prototype.addDataPoint = function (signal, value) {
    var i = this.signals.indexOf(signal);
    var v = numberOf(value);
    if (i < 0 || v === null) return;
    var fed = this._fedSeries || (this._fedSeries = {});
    if (!fed[signal]) {
      // A series of this chart's own (the name cannot be a signal's), drawn in place of the
      // server's for this signal.
      if (!this._fedId) this._fedId = ++fedCharts;
      fed[signal] = this.conn.getSeries('\u0000v0.6\u0000' + this._fedId + '\u0000' + signal);
      this.series[i] = fed[signal];
    }
    fed[signal].push(Float64Array.of(Date.now()), Float64Array.of(v), this.viewRight() - this.windowMs * 1.5);
  };

  if (global.Stripchart === undefined) global.Stripchart = Stripchart;
  if (global.stripcharts === undefined) global.stripcharts = SD.charts;
  if (global.addDataPoint === undefined) {
    global.addDataPoint = function (signal, value) {
      for (var k = 0; k < SD.charts.length; k++) SD.charts[k].addDataPoint(signal, value);
    };
  }
})(window);

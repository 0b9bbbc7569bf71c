/* The default dashboard: one section per channel with its latest values (every field, time
 * as ISO 8601) and a chart per numeric signal, generated from the schemas the server knows. */
(function () {
  'use strict';
  var SD = window.SpeedDataStripchart;
  var conn = SD.connection();
  var root = document.getElementById('channels');
  var built = {};          // channel -> {values: element, fields: [...]}
  var theme = localStorage.getItem('sd-theme') || 'auto';
  var windowS = localStorage.getItem('sd-window') || '30';
  var themeSel = document.getElementById('theme'), winSel = document.getElementById('window');
  themeSel.value = theme;
  winSel.value = windowS;

  function applyTheme() {
    var dark = theme === 'dark' || (theme === 'auto' && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    SD.charts.forEach(function (c) { c.themeSetting = theme; });
  }
  themeSel.onchange = function () { theme = themeSel.value; localStorage.setItem('sd-theme', theme); applyTheme(); };
  winSel.onchange = function () {
    windowS = winSel.value; localStorage.setItem('sd-window', windowS);
    SD.charts.forEach(function (c) { c.windowMs = windowS * 1000; });
  };
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  applyTheme();

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function buildChannel(name, info) {
    var sec = el('section', 'channel');
    sec.id = 'channel-' + name;
    var h = el('h2', null, name);
    var meta = el('span', 'meta', 'fingerprint ' + info.fingerprint);
    h.appendChild(meta);
    sec.appendChild(h);
    var latest = el('div', 'latest');
    var dl = el('dl');
    var rows = {};
    var tdt = el('dt', null, 'Time'), tdd = el('dd', 'time', '–');
    dl.appendChild(tdt); dl.appendChild(tdd);
    rows.__time = tdd;
    info.fields.forEach(function (f) {
      if (f.time) return;
      var dt = el('dt', null, f.name), dd = el('dd', f.numeric ? 'num' : 'text', '–');
      dt.title = (f.doc || '') + ' (' + f.type + ')';
      dl.appendChild(dt); dl.appendChild(dd);
      rows[f.name] = dd;
    });
    var stat = el('div', 'chstat');
    latest.appendChild(el('h3', null, 'Latest values'));
    latest.appendChild(dl);
    latest.appendChild(stat);
    sec.appendChild(latest);
    var grid = el('div', 'charts');
    var n = 0;
    info.fields.forEach(function (f) {
      if (!f.numeric) return;
      var colorIndex = n++;
      var box = el('div', 'chart');
      var c = el('canvas', 'stripchart');
      c.dataset.signals = name + '.' + f.name;
      c.dataset.window = windowS;
      c.dataset.height = '190';
      c.dataset.theme = theme;
      box.appendChild(c);
      grid.appendChild(box);
      SD.attach(c, { server: conn.url, colorIndex: colorIndex });
    });
    sec.appendChild(grid);
    root.appendChild(sec);
    built[name] = { rows: rows, stat: stat };
  }

  conn.on('signals', function (m) {
    var names = Object.keys(m.channels).sort();
    if (names.length) { var e = root.querySelector('.empty'); if (e) e.remove(); }
    names.forEach(function (n) { if (!built[n]) buildChannel(n, m.channels[n]); });
    if (!names.length) root.querySelector('.empty').textContent = 'No channels yet: configure them in relay.yaml or register them with the orchestrator.';
  });

  function show(v) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(10));
    if (typeof v === 'object') {
      var k = Object.keys(v);
      if (k.length === 1 && typeof v[k[0]] !== 'object') return show(v[k[0]]);  // Avro union
      return JSON.stringify(v);
    }
    return String(v);
  }

  conn.on('status', function (m) {
    for (var name in m.channels) {
      var b = built[name], ch = m.channels[name];
      if (!b) continue;
      if (ch.time) b.rows.__time.textContent = ch.time;
      var vals = ch.values || {};
      for (var f in b.rows) if (f !== '__time' && f in vals) b.rows[f].textContent = show(vals[f]);
      b.stat.textContent = ch.records + ' records · ' + ch.lost + ' datagrams lost';
      b.stat.className = 'chstat' + (ch.lost ? ' warn' : '');
    }
    var k = m.counters;
    document.getElementById('counters').textContent =
      k.datagrams + ' datagrams · ' + k.lost_datagrams + ' lost · ' + k.malformed + ' malformed · ' +
      k.unknown_fingerprint + ' unknown schema';
  });

  conn.on('state', function (s) {
    var c = document.getElementById('conn');
    c.className = 'conn ' + s;
    document.getElementById('conn-text').textContent =
      s === 'open' ? 'connected' : s === 'connecting' ? 'connecting…' : 'disconnected – retrying';
  });
})();

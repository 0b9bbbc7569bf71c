/* The dashboard: the latest values of every channel, and a layout of charts. By default one
 * chart per numeric signal, generated from the schemas the server knows; a user can put
 * several signals on one chart (pick from a list, or drag a signal name onto a chart), add,
 * remove and reorder charts, save the layout as JSON (kept in config/dashboards/ it opens as
 * /?layout=NAME), and share the address: it carries the layout, the signals and the view.
 * URL parameters and the file format: docs/stripchart.md, "Dashboard". */
(function () {
  'use strict';
  var SD = window.SpeedDataStripchart;
  var conn = SD.connection();
  var $ = function (id) { return document.getElementById(id); };
  var panels = $('channels'), grid = $('charts');
  var built = {};          // channel -> {rows, stat, section}
  var known = {};          // numeric signal name -> true (from the server's list)
  var channelsInfo = {};
  var params = new URLSearchParams(location.search);
  var theme = localStorage.getItem('sd-theme') || 'auto';
  var themeSel = $('theme'), winSel = $('window');
  themeSel.value = theme;

  // The layout shown: {title, window, linked, charts: [{signals, height?, ymin?, ymax?, colorIndex?}]}.
  // source: 'default' (generated, follows new channels), 'file' (a saved layout) or 'url'.
  var state = { layout: null, source: 'default', name: params.get('layout') || '', edited: false };
  var chartObjs = [];      // the SD charts of the layout, in order

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function banner(text, bad) {
    var b = $('banner');
    b.textContent = text || '';
    b.className = 'banner' + (bad ? ' bad' : '') + (text ? '' : ' hidden');
  }

  function applyTheme() {
    var dark = theme === 'dark' || (theme === 'auto' && window.matchMedia('(prefers-color-scheme: dark)').matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
    SD.charts.forEach(function (c) { c.themeSetting = theme; });
  }
  themeSel.onchange = function () { theme = themeSel.value; localStorage.setItem('sd-theme', theme); applyTheme(); };
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  applyTheme();

  // ---- layouts ----------------------------------------------------------------------------
  function parseSignals(v) {
    if (Array.isArray(v)) return v.map(String).map(function (s) { return s.trim(); }).filter(Boolean);
    return String(v || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
  }
  // A layout object from a file or the server, checked; throws with a message naming the key.
  function checkLayout(j) {
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('a layout is a JSON object');
    if (!Array.isArray(j.charts)) throw new Error('charts: expected a list of charts');
    var out = { title: typeof j.title === 'string' ? j.title : '', window: +j.window > 0 ? +j.window : 30,
                linked: j.linked !== false, charts: [] };
    j.charts.forEach(function (c, i) {
      if (!c || typeof c !== 'object') throw new Error('charts[' + i + ']: expected an object with "signals"');
      var sig = parseSignals(c.signals);
      sig.forEach(function (s) { if (!/^[^.]+\..+$/.test(s)) throw new Error('charts[' + i + '].signals: "' + s + '" is not channel.field'); });
      var o = { signals: sig };
      if (+c.height > 0) o.height = +c.height;
      if (isFinite(parseFloat(c.ymin))) o.ymin = parseFloat(c.ymin);
      if (isFinite(parseFloat(c.ymax))) o.ymax = parseFloat(c.ymax);
      if (typeof c.title === 'string') o.title = c.title;
      out.charts.push(o);
    });
    return out;
  }
  function layoutFile() {
    var l = state.layout;
    return { title: l.title || state.name || 'dashboard', window: currentWindow(), linked: l.linked,
             charts: l.charts.map(function (c) {
               var o = { signals: c.signals.slice() };
               ['height', 'ymin', 'ymax', 'title'].forEach(function (k) { if (c[k] !== undefined) o[k] = c[k]; });
               return o;
             }) };
  }
  // "?charts=a.x,a.y;b.z": the charts of the address (';' between charts, ',' between signals).
  function chartsParam(l) { return l.charts.map(function (c) { return c.signals.join(','); }).join(';'); }

  function defaultLayout() {
    var charts = [];
    Object.keys(channelsInfo).sort().forEach(function (name) {
      var n = 0;
      channelsInfo[name].fields.forEach(function (f) {
        if (f.numeric) charts.push({ signals: [name + '.' + f.name], colorIndex: n++, height: 190 });
      });
    });
    return { title: '', window: +(localStorage.getItem('sd-window') || 30), linked: true, charts: charts };
  }

  // ---- the view (shared time axis) ----------------------------------------------------------
  function currentWindow() {
    var a = chartObjs.length ? chartObjs[0].axis : null;
    return a ? Math.round(a.span) / 1000 : (state.layout ? state.layout.window : 30);
  }
  function setWindow(s) {
    var seen = [];
    chartObjs.forEach(function (c) {
      if (seen.indexOf(c.axis) >= 0) return;
      seen.push(c.axis);
      c.axis.setView(c.axis.viewRight(), s * 1000, c.axis.live);
    });
  }
  winSel.onchange = function () {
    localStorage.setItem('sd-window', winSel.value);
    setWindow(+winSel.value);
  };

  // ---- rendering the charts ------------------------------------------------------------------
  var addMenus = [];
  function fillAdd(add, spec) {
    add.textContent = '';
    add.appendChild(el('option', null, '+ signal'));
    Object.keys(known).sort().forEach(function (s) {
      if (spec.signals.indexOf(s) < 0) { var o = el('option', null, s); o.value = s; add.appendChild(o); }
    });
  }
  function render() {
    chartObjs.forEach(function (c) { c.destroy(); });
    chartObjs = [];
    addMenus = [];
    grid.textContent = '';
    var l = state.layout;
    if (!l) return;
    var ax = l.linked ? 'dashboard' : 'own';
    l.charts.forEach(function (spec, i) {
      var box = el('div', 'chart');
      box.dataset.index = i;
      var bar = el('div', 'chartbar');
      var handle = el('span', 'handle', '⋮⋮');
      handle.title = 'drag to reorder';
      handle.draggable = true;
      handle.addEventListener('dragstart', function (e) {
        e.dataTransfer.setData('application/x-speeddata-chart', String(i));
        e.dataTransfer.effectAllowed = 'move';
      });
      bar.appendChild(handle);
      spec.signals.forEach(function (s) {
        var chip = el('span', 'chip', s);
        var x = el('button', 'x', '×');
        x.title = 'remove ' + s + ' from this chart';
        x.onclick = function () { edit(function () { spec.signals.splice(spec.signals.indexOf(s), 1); if (!spec.signals.length) l.charts.splice(l.charts.indexOf(spec), 1); }); };
        chip.appendChild(x);
        bar.appendChild(chip);
      });
      var add = el('select', 'add');
      add.title = 'add a signal to this chart';
      fillAdd(add, spec);
      addMenus.push({ select: add, spec: spec });
      add.onchange = function () { if (add.value && known[add.value]) edit(function () { spec.signals.push(add.value); delete spec.colorIndex; }); };
      bar.appendChild(add);
      var tools = el('span', 'tools');
      [['↑', 'move up', -1], ['↓', 'move down', 1]].forEach(function (b) {
        var btn = el('button', 'move', b[0]);
        btn.title = b[1];
        btn.disabled = (b[2] < 0 && i === 0) || (b[2] > 0 && i === l.charts.length - 1);
        btn.onclick = function () { edit(function () { move(i, i + b[2]); }); };
        tools.appendChild(btn);
      });
      var rm = el('button', 'remove', '✕');
      rm.title = 'remove this chart';
      rm.onclick = function () { edit(function () { l.charts.splice(i, 1); }); };
      tools.appendChild(rm);
      bar.appendChild(tools);
      box.appendChild(bar);
      var c = el('canvas', 'stripchart');
      c.dataset.signals = spec.signals.join(',');
      c.dataset.window = String(l.window);
      c.dataset.height = String(spec.height || 190);
      c.dataset.theme = theme;
      c.dataset.axis = ax;
      if (spec.ymin !== undefined) c.dataset.ymin = spec.ymin;
      if (spec.ymax !== undefined) c.dataset.ymax = spec.ymax;
      box.appendChild(c);
      // Drop a signal (from the latest values) onto the chart, or another chart to reorder.
      box.addEventListener('dragover', function (e) { e.preventDefault(); box.classList.add('drop'); });
      box.addEventListener('dragleave', function () { box.classList.remove('drop'); });
      box.addEventListener('drop', function (e) {
        e.preventDefault();
        box.classList.remove('drop');
        var sig = e.dataTransfer.getData('application/x-speeddata-signal') || e.dataTransfer.getData('text/plain');
        var from = e.dataTransfer.getData('application/x-speeddata-chart');
        if (from !== '') edit(function () { move(+from, i); });
        else if (sig && known[sig] && spec.signals.indexOf(sig) < 0) edit(function () { spec.signals.push(sig); delete spec.colorIndex; });
      });
      grid.appendChild(box);
      chartObjs.push(SD.attach(c, { server: conn.url, colorIndex: spec.colorIndex || 0 }));
    });
    if (!l.charts.length) grid.appendChild(el('p', 'empty', 'No charts: add one, or drag a signal here.'));
    $('title').textContent = l.title || 'SpeedData Live';
    document.title = (l.title ? l.title + ' – ' : '') + 'SpeedData Live';
    $('linked').checked = l.linked;
  }
  function move(from, to) {
    var l = state.layout.charts;
    if (to < 0 || to >= l.length || from === to) return;
    var c = l.splice(from, 1)[0];
    l.splice(to, 0, c);
  }
  function edit(fn) {
    var view = chartObjs.length ? chartObjs[0].view() : null;
    fn();
    if (state.source === 'default') state.source = 'url';
    state.edited = true;
    render();
    if (view && !view.live && state.layout.linked && chartObjs.length) chartObjs[0].setView(view.start, view.end, false);
    syncUrl(true);
  }

  $('add-chart').onclick = function () {
    edit(function () { state.layout.charts.push({ signals: [], height: 190 }); });
  };
  grid.addEventListener('dragover', function (e) { e.preventDefault(); });
  grid.addEventListener('drop', function (e) {
    // Dropped on the grid, not on a chart: a new chart with that signal.
    if (e.defaultPrevented) return;
    var sig = e.dataTransfer.getData('application/x-speeddata-signal');
    if (sig && known[sig]) { e.preventDefault(); edit(function () { state.layout.charts.push({ signals: [sig], height: 190 }); }); }
  });
  $('linked').onchange = function () { edit(function () { state.layout.linked = $('linked').checked; }); };
  $('save-layout').onclick = function () {
    var f = layoutFile();
    var name = (state.name || (f.title || 'dashboard').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'dashboard') + '.json';
    var a = el('a');
    a.href = URL.createObjectURL(new Blob([JSON.stringify(f, null, 2) + '\n'], { type: 'application/json' }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 60000);
    banner('Saved ' + name + ': put it in config/dashboards/ and open it as /?layout=' + name.replace(/\.json$/, ''));
  };
  $('open-file').onchange = function () {
    var f = this.files[0];
    if (!f) return;
    f.text().then(function (t) {
      var l = checkLayout(JSON.parse(t));
      state.layout = l; state.source = 'url'; state.name = ''; state.edited = true;
      render(); syncUrl(true);
      banner('Opened ' + f.name);
    }).catch(function (e) { banner(f.name + ': ' + e.message, true); });
    this.value = '';
  };
  var openSel = $('open-layout');
  function listLayouts() {
    fetch(new URL('/api/v1/dashboards', conn.url.replace(/^ws/, 'http')).href, { headers: SDHeaders() })
      .then(function (r) { return r.ok ? r.json() : { dashboards: [] }; })
      .then(function (j) {
        while (openSel.options.length > 1) openSel.remove(1);
        (j.dashboards || []).forEach(function (d) {
          var o = el('option', null, d.title && d.title !== d.name ? d.name + ' – ' + d.title : d.name);
          o.value = d.name;
          openSel.appendChild(o);
        });
        var def = el('option', null, '(all signals)'); def.value = ':default'; openSel.appendChild(def);
      }, function () {});
  }
  openSel.onfocus = listLayouts;
  openSel.onchange = function () {
    var v = openSel.value;
    openSel.selectedIndex = 0;
    if (v === ':default') location.href = location.pathname;
    else if (v) location.href = location.pathname + '?layout=' + encodeURIComponent(v);
  };
  $('copy-link').onclick = function () {
    syncUrl(true);
    var done = function () { banner('Link copied: ' + location.href); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(location.href).then(done, function () { banner(location.href); });
    else banner(location.href);
  };
  function SDHeaders() {
    var t = window.SPEEDDATA_TOKEN || sessionStorage.getItem('speeddata.token') || localStorage.getItem('speeddata.token');
    return t ? { Authorization: 'Bearer ' + t } : {};
  }

  // ---- the address carries the layout and the view -------------------------------------------
  var lastUrl = '';
  function syncUrl(now) {
    if (!state.layout) return;
    var p = new URLSearchParams();
    if (state.name) p.set('layout', state.name);
    if (state.source !== 'default' && (state.edited || !state.name)) p.set('charts', chartsParam(state.layout));
    if (!state.layout.linked && state.source !== 'default') p.set('linked', '0');
    var c = chartObjs[0];
    if (c) {
      var v = c.view();
      p.set('window', String(+(v.span / 1000).toFixed(3)));
      if (!v.live) { p.set('start', SD.isoMs(v.start)); p.set('end', SD.isoMs(v.end)); }
    }
    var q = p.toString().replace(/%2C/g, ',').replace(/%3B/g, ';').replace(/%3A/g, ':');
    var url = location.pathname + (q ? '?' + q : '');
    if (url !== lastUrl || now) { lastUrl = url; history.replaceState(null, '', url); }
  }
  setInterval(function () { syncUrl(false); }, 400);

  // The view the address asks for: ?start=&end= (ISO 8601 or ms), else live with ?window=.
  function timeParam(v) {
    if (v === null || v === '') return NaN;
    if (/^\d+(\.\d+)?$/.test(v)) return +v;
    return Date.parse(v);
  }
  function applyView() {
    var start = timeParam(params.get('start')), end = timeParam(params.get('end')), w = parseFloat(params.get('window'));
    if (!chartObjs.length) return;
    if (isFinite(start) && isFinite(end) && end > start) chartObjs[0].setView(start, end, false);
    else if (w > 0) setWindow(w);
    if (!state.layout.linked) {
      chartObjs.forEach(function (c, i) { if (i && isFinite(start) && isFinite(end) && end > start) c.setView(start, end, false); });
    }
    winSel.value = String(currentWindow());
  }

  function start(layout, source) {
    state.layout = layout;
    state.source = source;
    if (params.get('charts')) {
      layout.charts = params.get('charts').split(';').map(function (c) { return { signals: parseSignals(c), height: 190 }; })
        .filter(function (c) { return c.signals.length; });
      state.source = 'url';
      state.edited = !!state.name;
    }
    if (params.get('linked') === '0') layout.linked = false;
    render();
    applyView();
  }

  // ---- channels and latest values ------------------------------------------------------------
  function buildChannel(name, info) {
    var sec = el('section', 'channel');
    sec.id = 'channel-' + name;
    var h = el('h2', null, name);
    h.appendChild(el('span', 'meta', 'fingerprint ' + info.fingerprint));
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
      dt.title = (f.doc || '') + ' (' + f.type + ')' + (f.numeric ? ' – drag onto a chart' : '');
      if (f.numeric) {
        dt.draggable = true;
        dt.className = 'signal';
        dt.dataset.signal = name + '.' + f.name;
        dt.addEventListener('dragstart', function (e) {
          e.dataTransfer.setData('application/x-speeddata-signal', name + '.' + f.name);
          e.dataTransfer.setData('text/plain', name + '.' + f.name);
          e.dataTransfer.effectAllowed = 'copy';
        });
      }
      dl.appendChild(dt); dl.appendChild(dd);
      rows[f.name] = dd;
    });
    var stat = el('div', 'chstat');
    latest.appendChild(dl);
    latest.appendChild(stat);
    sec.appendChild(latest);
    panels.appendChild(sec);
    built[name] = { rows: rows, stat: stat, section: sec, fingerprint: info.fingerprint };
  }

  var firstSignals = true;
  conn.on('signals', function (m) {
    var names = Object.keys(m.channels).sort();
    channelsInfo = m.channels;
    known = {};
    m.signals.forEach(function (s) { known[s.name] = true; });
    var e = panels.querySelector('.empty');
    if (names.length && e) e.remove();
    // A channel gone from the server's list (de-registered) leaves the page.
    var gone = Object.keys(built).filter(function (n) { return !m.channels[n] || m.channels[n].fingerprint !== built[n].fingerprint; });
    gone.forEach(function (n) { built[n].section.remove(); delete built[n]; });
    names.forEach(function (n) { if (!built[n]) buildChannel(n, m.channels[n]); });
    if (!names.length && !panels.querySelector('.empty'))
      panels.appendChild(el('p', 'empty', 'No channels yet: configure them in relay.yaml or register them with the orchestrator.'));
    if (firstSignals) {
      firstSignals = false;
      if (state.name) {
        fetch(new URL('/api/v1/dashboards/' + encodeURIComponent(state.name), conn.url.replace(/^ws/, 'http')).href, { headers: SDHeaders() })
          .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status); return j; }); })
          .then(function (j) { start(checkLayout(j), 'file'); },
                function (err) { banner('layout ' + state.name + ': ' + err.message, true); state.name = ''; start(defaultLayout(), 'default'); });
      } else {
        start(defaultLayout(), params.get('charts') ? 'url' : 'default');
      }
      return;
    }
    if (!state.layout) return;
    if (state.source === 'default') {
      // The generated layout follows the server: new signals get charts, gone ones lose theirs.
      var have = {};
      state.layout.charts.forEach(function (c) { c.signals.forEach(function (s) { have[s] = 1; }); });
      var next = defaultLayout();
      var changed = next.charts.length !== state.layout.charts.length || next.charts.some(function (c) { return !have[c.signals[0]]; });
      if (changed) { next.window = currentWindow(); next.linked = state.layout.linked; state.layout = next; render(); }
    } else if (gone.length) {
      // A saved or shared layout keeps its charts, without the signals of channels gone.
      var before = JSON.stringify(state.layout.charts);
      state.layout.charts.forEach(function (c) { c.signals = c.signals.filter(function (s) { return gone.indexOf(s.split('.')[0]) < 0; }); });
      state.layout.charts = state.layout.charts.filter(function (c) { return c.signals.length; });
      if (JSON.stringify(state.layout.charts) !== before) render();
    } else {
      addMenus.forEach(function (a) { fillAdd(a.select, a.spec); });
    }
  });

  // A field's value as the charts' legends show it: numbers through the one formatter
  // (SD.formatValue, with the signal's scale from the connection), so the panel and a
  // legend showing the same record read the same.
  function show(v, signal) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number') return SD.formatValue(v, conn.scale(signal));
    if (typeof v === 'object') {
      var k = Object.keys(v);
      if (k.length === 1 && typeof v[k[0]] !== 'object') return show(v[k[0]], signal);  // Avro union
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
      for (var f in b.rows) if (f !== '__time' && f in vals) b.rows[f].textContent = show(vals[f], name + '.' + f);
      b.stat.textContent = ch.records + ' records · ' + ch.lost + ' datagrams lost';
      b.stat.className = 'chstat' + (ch.lost ? ' warn' : '');
    }
    var k = m.counters;
    $('counters').textContent =
      k.datagrams + ' datagrams · ' + k.lost_datagrams + ' lost · ' + k.malformed + ' malformed · ' +
      k.unknown_fingerprint + ' unknown schema';
  });

  conn.on('state', function (s) {
    var c = $('conn');
    c.className = 'conn ' + s;
    $('conn-text').textContent =
      s === 'open' ? 'connected' : s === 'connecting' ? 'connecting…' : 'disconnected – retrying';
  });

  window.SpeedDataDashboard = {
    state: state, charts: function () { return chartObjs; }, layoutFile: layoutFile, checkLayout: checkLayout,
    edit: edit, syncUrl: syncUrl
  };
})();

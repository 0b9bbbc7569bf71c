/* SpeedData: the page script of the earlier (v0.6) stripchart pages, for this server
 * (docs/stripchart.md, "Earlier pages"). Load it after stripchart.js, as the earlier
 * index.html does:
 *   <span class="data" id="sine_wave">   shows the latest value of that field of any channel
 *   <canvas class="stripchart" data-signals="example.sine_wave">   a chart (stripchart.js)
 * It receives every record as one flat JSON object, its time as ISO 8601 text, from the
 * server's root WebSocket (ws://<host>/, the path the earlier server.js served), and
 *  - writes each field's value into the element of class "data" whose id is the field's name;
 *  - gives each value to the charts of `stripcharts` that are fed by hand (addDataPoint) for
 *    the signal's field, as the earlier script did. Charts of this server's stripchart.js
 *    receive their data themselves, with the source's time stamps, and are left alone.
 * Server: window.SPEEDDATA_LEGACY_SERVER, else the host this script came from, else
 * ws://localhost:8081/. Only some channels: <script src="frontend.js" data-channel="example">.
 * It reconnects by itself (0.5 s to 5 s). */
(function (global) {
  'use strict';
  var script = document.currentScript;

  // The stack's bearer token, when it guards reads (docs/security.md), as stripchart.js finds it.
  function token() {
    if (global.SPEEDDATA_TOKEN) return String(global.SPEEDDATA_TOKEN);
    try { return global.sessionStorage.getItem('speeddata.token') || global.localStorage.getItem('speeddata.token') || ''; }
    catch (e) { return ''; }
  }

  function serverUrl() {
    var url = global.SPEEDDATA_LEGACY_SERVER || '';
    if (!url) {
      try {
        var u = new URL(script && script.src);
        if (u.protocol === 'http:' || u.protocol === 'https:') url = (u.protocol === 'https:' ? 'wss://' : 'ws://') + u.host + '/';
      } catch (e) { /* not loaded over http: the default */ }
    }
    if (!url) url = 'ws://localhost:8081/';
    var query = [];
    var channel = script && script.dataset && script.dataset.channel;
    if (channel) query.push('channel=' + encodeURIComponent(channel));
    var t = token();
    if (t) query.push('access_token=' + encodeURIComponent(t));
    return query.length ? url + (url.indexOf('?') < 0 ? '?' : '&') + query.join('&') : url;
  }

  // What an element shows for a value: an Avro union ({"double": 1.5}) as its value, other
  // objects as JSON, everything else as text (as the earlier script's textContent did).
  function text(value) {
    if (value !== null && typeof value === 'object') {
      var keys = Object.keys(value);
      if (keys.length === 1 && (value[keys[0]] === null || typeof value[keys[0]] !== 'object')) return String(value[keys[0]]);
      return JSON.stringify(value);
    }
    return String(value);
  }

  function onRecord(data) {
    var elements = document.querySelectorAll('.data');
    for (var i = 0; i < elements.length; i++) {
      var key = elements[i].getAttribute('id');
      if (key && data[key] !== undefined) elements[i].textContent = text(data[key]);
    }
    var charts = global.stripcharts;
    if (!charts || !charts.forEach) return;
    charts.forEach(function (chart) {
      if (!chart || !chart.signals || typeof chart.addDataPoint !== 'function') return;
      // This server's charts take their own stream (conn) unless a page feeds them by hand.
      if (chart.conn && !chart._fedSeries) return;
      chart.signals.forEach(function (sig) {
        var parts = sig.split('.');
        var field = parts.length > 1 ? parts[1] : sig;
        if (data[field] !== undefined) chart.addDataPoint(sig, data[field]);
      });
    });
  }

  var retry = 500;
  function connect() {
    var ws;
    try { ws = new WebSocket(serverUrl()); } catch (e) { return later(); }
    ws.onopen = function () { retry = 500; };
    ws.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data && typeof data === 'object') onRecord(data);
    };
    ws.onclose = later;
  }
  function later() {
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  }

  global.SpeedDataFrontend = { onRecord: onRecord, server: serverUrl };
  connect();
})(window);

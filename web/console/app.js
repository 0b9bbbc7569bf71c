// SpeedData console: channel table (auto-refresh; in a fleet with each channel's host, and a
// host filter), register form (optionally for another fleet host), de-register with
// confirmation, schema viewer, latest values from the stripchart, dark/light theme, the
// bearer token for this browser session.
import {
  ApiError, deregisterChannel, fleetHosts, getSchema, getToken, health, listChannels, registerChannel, setToken,
  whenUnauthorized,
} from './api.js';
import { formatValue, noteScale, scaleOf } from './format.js';
import { LiveValues } from './live.js';

const $ = (sel) => document.querySelector(sel);
const REFRESH_MS = 2000;
let selected = null;      // channel whose values/schema are shown
let latest = {};          // stripchart status per channel

// ---------------------------------------------------------------- theme
const root = document.documentElement;
root.dataset.theme = localStorage.getItem('speeddata.theme') || 'auto';
$('#theme').addEventListener('click', () => {
  const dark = root.dataset.theme === 'dark' ||
    (root.dataset.theme === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  root.dataset.theme = dark ? 'light' : 'dark';
  localStorage.setItem('speeddata.theme', root.dataset.theme);
});

// ---------------------------------------------------------------- token
// Kept in sessionStorage (api.js): it is sent as `Authorization: Bearer` on every API call and
// in the stripchart WebSocket's query. A 401 answer asks for it here.
const tokenForm = $('#token-form');
let live = null;
function tokenState(text, needed) {
  $('#token-state').textContent = text;
  tokenForm.classList.toggle('needed', !!needed);
  $('#token-forget').hidden = !getToken();
}
tokenState(getToken() ? 'token kept for this session' : '');
whenUnauthorized((e) => {
  const first = !tokenForm.classList.contains('needed');  // focus once, not on every refresh
  tokenState(getToken() ? `token refused (401: ${e.message}): enter the right one`
    : `the orchestrator asks for a token (401): enter it here`, true);
  if (first) $('#token').focus();
});
tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken($('#token').value);
  $('#token').value = '';
  tokenState(getToken() ? 'token kept for this session' : '');
  refresh();
  if (selected) select(selected);
  if (live) live.restart();
});
$('#token-forget').addEventListener('click', () => {
  setToken('');
  tokenState('token forgotten');
  refresh();
  if (live) live.restart();
});

// ---------------------------------------------------------------- formatting
const fmtNum = (v, digits = 0) => (v === undefined || v === null) ? '–'
  : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits });
function fmtBytes(b) {
  if (!b) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(i ? 1 : 0)} ${u[i]}`;
}
const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// ---------------------------------------------------------------- fleet
// In a fleet (docs/fleet.md) every host's API lists the whole fleet's channels, each with the
// `host` that runs its relay, `local` (this host runs it) and `reachable` (that host reported
// in the last ~5 s). On a single host a host column, filter and register field would only
// repeat this host's name on every row: they are hidden there.
let thisHost = '';        // this orchestrator's host name (from /health)
let fleet = null;         // GET /api/v1/fleet while this host is in a fleet, else null
let lastChannels = [];    // the last list, rendered again when the filter changes
let hostFilter = new URLSearchParams(location.search).get('host') || '';  // '' = all hosts

// An orchestrator from before the fleet sends no host: its channels are this host's.
const hostOf = (ch) => ch.host || thisHost;
const isLocal = (ch) => ch.local !== false;
const isReachable = (ch) => ch.reachable !== false;
const hostLabel = (h) => (h === thisHost ? `${h} (this host)` : h);

// Every host known, with whether it is reachable: this one, the fleet's (also those running no
// channel yet, so one can register for them) and any a channel names.
function knownHosts(channels) {
  const hosts = new Map();
  if (thisHost) hosts.set(thisHost, true);
  for (const h of (fleet && fleet.hosts) || []) hosts.set(h.host, h.reachable !== false);
  for (const ch of channels) if (!hosts.has(hostOf(ch))) hosts.set(hostOf(ch), isReachable(ch));
  return hosts;
}
const inFleet = (channels, hosts) => !!fleet || hosts.size > 1 || channels.some((ch) => !isLocal(ch));

// The filter's options (and the register form's host list) are rebuilt only when the hosts
// change: rebuilding them on every refresh would close the list under the user's pointer. A
// host filtered on stays an option after it has gone, so the filter is never dropped silently.
function syncHostChoices(hosts) {
  const names = [...hosts.keys()].sort();
  const options = names.concat(hostFilter && !hosts.has(hostFilter) ? [hostFilter] : []);
  const labels = options.map((h) => hostLabel(h) + (hosts.get(h) === false ? ' — unreachable' : ''));
  const sel = $('#host-filter');
  const key = JSON.stringify(labels);
  if (sel.dataset.key !== key) {
    sel.dataset.key = key;
    sel.replaceChildren(new Option('all hosts', ''), ...options.map((h, i) => new Option(labels[i], h)));
    $('#known-hosts').replaceChildren(...names.map((h) => new Option(h === thisHost ? 'this host' : '', h)));
  }
  sel.value = hostFilter;
}
$('#host-filter').addEventListener('change', (ev) => {
  hostFilter = ev.target.value;
  // In the address too: a reload, or a link passed on, shows the same host.
  const url = new URL(location.href);
  if (hostFilter) url.searchParams.set('host', hostFilter); else url.searchParams.delete('host');
  history.replaceState(null, '', url);
  renderTable(lastChannels);
});

async function refreshFleet(h) {
  if (h && !h.fleet) fleet = null;
  else if (h) {
    try { fleet = await fleetHosts(); } catch { /* keep the last answer; the table says what it can */ }
  }
  const pill = $('#fleet-state');
  pill.hidden = !fleet;
  if (!fleet) return;
  const hosts = fleet.hosts || [];
  const gone = hosts.filter((x) => x.reachable === false).map((x) => x.host);
  // Not connected: say why (a refused password or certificate needs the user, an outage not).
  pill.textContent = fleet.connected === false
    ? `fleet: NATS not connected${fleet.nats_error ? ` (${fleet.nats_error})` : ''}`
    : `fleet: ${hosts.length} hosts${gone.length ? `, ${gone.length} unreachable` : ''}`;
  pill.classList.toggle('warn', fleet.connected === false || gone.length > 0);
  pill.title = hosts.map((x) => `${hostLabel(x.host)}: ${x.reachable === false ? 'unreachable' : 'reachable'}, `
    + `${x.channels} channels`).join('\n');
}

// ---------------------------------------------------------------- channel table
async function refresh() {
  // Health first: it names this host, which the table marks.
  let h = null;
  try {
    h = await health();
    thisHost = h.host || thisHost;
    // In a fleet these counts are this host's only: say whose.
    $('#health').textContent = `${h.status} · ${h.fleet ? `${h.host}: ` : ''}${h.relays_running}/${h.channels} relays`;
  } catch { $('#health').textContent = 'orchestrator unreachable'; }
  await refreshFleet(h);
  try {
    const channels = await listChannels();
    renderTable(channels);
    $('#table-error').hidden = true;
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('#table-error').hidden = false;
    $('#table-error').textContent = `cannot list channels: ${e.message}`;
  }
}

function renderTable(channels) {
  lastChannels = channels;
  const hosts = knownHosts(channels);
  const many = inFleet(channels, hosts);
  $('#channels').classList.toggle('one-host', !many);
  $('#host-filter-label').hidden = !many && !hostFilter;  // a filter from the address stays visible
  $('#host-field').hidden = !many;
  $('#register input[name=host]').placeholder = thisHost ? `this host (${thisHost})` : 'this host';
  syncHostChoices(hosts);
  const rows = channels.filter((ch) => !hostFilter || hostOf(ch) === hostFilter);
  $('#shown').textContent = hostFilter ? `${rows.length} of ${channels.length} channels shown` : '';
  const body = $('#channels tbody');
  body.replaceChildren(...rows.map(channelRow));
  if (!rows.length && hostFilter) {
    const td = cell(`no channels on ${hostFilter}`, 'muted empty');
    td.colSpan = $('#channels thead tr').children.length;
    const tr = document.createElement('tr');
    tr.append(td);
    body.append(tr);
  }
}

function channelRow(ch) {
  const f = ch.figures || {};
  const host = hostOf(ch);
  const gone = !isReachable(ch);
  const tr = document.createElement('tr');
  tr.dataset.channel = ch.name;
  tr.dataset.status = ch.status;
  tr.dataset.host = host;
  tr.dataset.local = String(isLocal(ch));
  tr.dataset.reachable = String(!gone);
  tr.classList.toggle('selected', ch.name === selected);
  tr.classList.toggle('unreachable', gone);
  // A gone host's figures are the last it sent: still shown (they say where it stopped), but
  // greyed, so nobody reads them as current.
  const fig = (text, cls = 'num') => {
    const td = cell(text, cls);
    if (gone) { td.classList.add('stale'); td.title = `last figures from ${host}, not current`; }
    return td;
  };
  const pid = fig(ch.pid ?? '–');
  if (!gone && !isLocal(ch) && ch.pid) pid.title = `process on ${host}`;
  tr.append(
    cell(ch.name),
    cell(isLocal(ch) ? hostLabel(host) : host, `host ${isLocal(ch) ? 'host-local' : 'host-remote'}`),
    statusCell(ch),
    cell(ch.port, 'num'),
    cell(ch.source === 'api' ? 'registered' : 'relay.yaml'),
    fig(fmtNum(f.rates && f.rates.records, 1)),
    fig(fmtNum(f.records)),
    fig(fmtNum(f.malformed)),
    fig(fmtNum(f.kernel_drops)),
    fig(ch.figures ? fmtBytes(f.bytes_on_disk) : '–'),  // no figures yet is not "0 B"
    fig(fmtTime(f.oldest_time), ''),
    fig(fmtNum(ch.restarts)),
    pid,
  );
  const actions = document.createElement('td');
  const show = document.createElement('button');
  show.type = 'button'; show.textContent = 'schema'; show.className = 'show-schema';
  show.addEventListener('click', () => select(ch.name));
  actions.append(show);
  // Any registered channel, whatever its host: the API removes it fleet-wide.
  if (ch.source === 'api') {
    const del = document.createElement('button');
    del.type = 'button'; del.textContent = 'de-register'; del.className = 'deregister danger';
    del.addEventListener('click', () => confirmDeregister(ch));
    actions.append(' ', del);
  }
  tr.append(actions);
  return tr;
}

// "active" alone hid a channel that never gets data: say whether it is receiving. A channel
// whose host stopped reporting says so, and since when: its last status would be a guess.
function statusCell(ch) {
  if (!isReachable(ch)) {
    const age = ch.reported_age_s;
    const td = cell(age ? `unreachable, no report for ${fmtNum(age)} s` : 'unreachable',
                    'status status-unreachable activity-unreachable');
    td.title = `${hostOf(ch)} has not reported to the fleet: its relay may still run, this host cannot tell`;
    return td;
  }
  return cell(ch.status === 'active' ? `active, ${ch.activity || 'receiving'}` : ch.status,
              `status status-${ch.status} activity-${ch.activity || ch.status}`);
}

async function select(name) {
  selected = name;
  $('#schema-channel').textContent = name;
  $('#values-channel').textContent = name;
  document.querySelectorAll('#channels tr').forEach((tr) => tr.classList.toggle('selected', tr.dataset.channel === name));
  renderValues();
  try {
    const schema = await getSchema(name);
    $('#schema-view').textContent = JSON.stringify(schema, null, 2);
    $('#schema-view').classList.remove('muted');
  } catch (e) {
    $('#schema-view').textContent = `cannot load the schema: ${e.message}`;
  }
}

// ---------------------------------------------------------------- de-register
// Another host's channel: the API removes it from the fleet's registry and that host stops
// its relay (an unreachable one when it reports again).
function confirmDeregister(ch) {
  const { name } = ch;
  const host = hostOf(ch);
  const dlg = $('#confirm');
  const stops = isLocal(ch) ? 'Its relay stops' : isReachable(ch) ? `Its relay on ${host} stops`
    : `${host} is unreachable: it stops the relay when it is back`;
  $('#confirm-text').textContent = `De-register channel “${name}”${isLocal(ch) ? '' : ` of host ${host}`}? `
    + `${stops}; cached files stay until retention removes them.`;
  dlg.returnValue = '';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') return;
    try {
      await deregisterChannel(name);
      say(`de-registered ${name}${isLocal(ch) ? '' : ` (host ${host} stops its relay)`}`, 'ok');
      if (selected === name) selected = null;
    } catch (e) {
      say(`de-register failed: ${e instanceof ApiError ? `${e.status}: ` : ''}${e.message}`, 'error');
    }
    refresh();
  };
  dlg.showModal();
}

// ---------------------------------------------------------------- register form
const form = $('#register');
for (const r of form.querySelectorAll('input[name=schema_mode]')) r.addEventListener('change', syncMode);
function syncMode() {
  const path = form.querySelector('input[name=schema_mode]:checked').value === 'path';
  form.schema.hidden = path; form.schema_file.hidden = path; form.schema_path.hidden = !path;
}
form.schema_file.addEventListener('change', async () => {
  const file = form.schema_file.files[0];
  if (file) form.schema.value = await file.text();
});

// Every click on Register answers visibly: "registering…", then the result. The form is
// not validated by the browser (novalidate): an empty or bad field goes to the API, whose
// JSON message is shown as is, so a click never does nothing. Each answer flashes, so the
// same answer twice is still seen.
function say(text, kind) {
  const out = $('#register-result');
  out.textContent = text;
  out.className = `small result ${kind}`;
  if (kind !== 'pending') out.dataset.answers = Number(out.dataset.answers || 0) + 1;
  out.classList.remove('flash');
  void out.offsetWidth;  // restart the animation
  out.classList.add('flash');
}
const clock = () => new Date().toLocaleTimeString();
// For another host: which one, and a word when the fleet has never seen it (a typo, or a host
// not started yet: the registration stands and that host starts the relay when it joins).
function registeredWhere(ch) {
  if (!ch.host || ch.local !== false) return '';
  const seen = knownHosts(lastChannels).has(ch.host);
  return ` of host ${ch.host}${seen ? '' : ` (not seen in the fleet yet: it starts the relay when it joins)`}`;
}
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const btn = $('#register-btn');
  const req = { name: form.name.value.trim() };
  // Empty: this host (the API's default); only a named host is sent.
  const host = form.host.value.trim();
  if (host) req.host = host;
  if (form.port.value) req.port = Number(form.port.value);
  if (form.querySelector('input[name=schema_mode]:checked').value === 'path') {
    if (form.schema_path.value.trim()) req.schema_path = form.schema_path.value.trim();
  } else if (form.schema.value.trim()) {
    try { req.schema = JSON.parse(form.schema.value); } catch (e) {
      say(`schema: not valid JSON (${e.message})`, 'error'); return;
    }
  }
  req.config = { decimation: { factor: Number(form.factor.value || 1), algorithm: form.algorithm.value } };
  say(`registering ${req.name || '(no name)'}…`, 'pending');
  btn.disabled = true;
  try {
    const ch = await registerChannel(req);
    // A clean form for the next channel: the old schema must not be registered again by mistake.
    form.reset();
    syncMode();
    say(`✓ registered ${ch.name} on UDP port ${ch.port}${registeredWhere(ch)} (${clock()})`, 'ok');
    refresh();
  } catch (e) {
    say(e instanceof ApiError ? `${e.status}: ${e.message}` : e.message, 'error');
  } finally {
    btn.disabled = false;
  }
});

// ---------------------------------------------------------------- latest values
// A record's field as the stripchart's dashboard shows it (format.js: the same formatter).
function showValue(v, signal) {
  if (typeof v === 'number') return formatValue(v, scaleOf(signal));
  if (v !== null && typeof v === 'object') {
    const k = Object.keys(v);
    if (k.length === 1 && (v[k[0]] === null || typeof v[k[0]] !== 'object')) return showValue(v[k[0]], signal);  // Avro union
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}
function noteScales(channels) {
  for (const [name, st] of Object.entries(channels || {})) {
    for (const [k, v] of Object.entries(st.values || {})) {
      const n = v !== null && typeof v === 'object' && Object.keys(v).length === 1 ? Object.values(v)[0] : v;
      if (typeof n === 'number') noteScale(`${name}.${k}`, n);
    }
  }
}
function renderValues() {
  const body = $('#values tbody');
  body.replaceChildren();
  const st = selected && latest[selected];
  if (!st || !st.values) return;
  const tr0 = document.createElement('tr');
  tr0.append(cell('time', 'muted'), cell(st.time || '–'));
  body.append(tr0);
  for (const [k, v] of Object.entries(st.values)) {
    if (k === st.time_field) continue;  // shown above as ISO 8601
    const tr = document.createElement('tr');
    tr.append(cell(k, 'muted'), cell(showValue(v, `${selected}.${k}`), 'num'));
    body.append(tr);
  }
}

const stripHost = location.hostname || 'localhost';
const stripUrl = `ws://${stripHost}:8081/ws`;
$('#stripchart-link').href = `http://${stripHost}:8081/`;
live = new LiveValues(stripUrl, (state) => {
  $('#ws-state').textContent = state === 'connected' ? `live from ${stripUrl}`
    : 'stripchart not running (start `speeddata stripchart` for latest values)';
}, (channels) => { latest = channels; noteScales(channels); renderValues(); });

// ---------------------------------------------------------------- start
refresh();
setInterval(() => { if ($('#auto').checked) refresh(); }, REFRESH_MS);

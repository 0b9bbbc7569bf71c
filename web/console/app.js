// SpeedData console: channel table (auto-refresh), register form, de-register with
// confirmation, schema viewer, latest values from the stripchart, dark/light theme, the
// bearer token for this browser session.
import {
  ApiError, deregisterChannel, getSchema, getToken, health, listChannels, registerChannel, setToken, whenUnauthorized,
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

// ---------------------------------------------------------------- channel table
async function refresh() {
  try {
    const channels = await listChannels();
    renderTable(channels);
    $('#table-error').hidden = true;
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('#table-error').hidden = false;
    $('#table-error').textContent = `cannot list channels: ${e.message}`;
  }
  try {
    const h = await health();
    $('#health').textContent = `${h.status} · ${h.relays_running}/${h.channels} relays`;
  } catch { $('#health').textContent = 'orchestrator unreachable'; }
}

function renderTable(channels) {
  const body = $('#channels tbody');
  body.replaceChildren();
  for (const ch of channels) {
    const f = ch.figures || {};
    const tr = document.createElement('tr');
    tr.dataset.channel = ch.name;
    tr.dataset.status = ch.status;
    if (ch.name === selected) tr.className = 'selected';
    tr.append(
      cell(ch.name),
      // "active" alone hid a channel that never gets data: say whether it is receiving.
      cell(ch.status === 'active' ? `active, ${ch.activity || 'receiving'}` : ch.status,
           `status status-${ch.status} activity-${ch.activity || ch.status}`),
      cell(ch.port, 'num'),
      cell(ch.source === 'api' ? 'registered' : 'relay.yaml'),
      cell(fmtNum(f.rates && f.rates.records, 1), 'num'),
      cell(fmtNum(f.records), 'num'),
      cell(fmtNum(f.malformed), 'num'),
      cell(fmtNum(f.kernel_drops), 'num'),
      cell(fmtBytes(f.bytes_on_disk), 'num'),
      cell(fmtTime(f.oldest_time)),
      cell(fmtNum(ch.restarts), 'num'),
      cell(ch.pid ?? '–', 'num'),
    );
    const actions = document.createElement('td');
    const show = document.createElement('button');
    show.type = 'button'; show.textContent = 'schema'; show.className = 'show-schema';
    show.addEventListener('click', () => select(ch.name));
    actions.append(show);
    if (ch.source === 'api') {
      const del = document.createElement('button');
      del.type = 'button'; del.textContent = 'de-register'; del.className = 'deregister danger';
      del.addEventListener('click', () => confirmDeregister(ch.name));
      actions.append(' ', del);
    }
    tr.append(actions);
    body.append(tr);
  }
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
function confirmDeregister(name) {
  const dlg = $('#confirm');
  $('#confirm-text').textContent =
    `De-register channel “${name}”? Its relay stops; cached files stay until retention removes them.`;
  dlg.returnValue = '';
  dlg.onclose = async () => {
    if (dlg.returnValue !== 'ok') return;
    try {
      await deregisterChannel(name);
      say(`de-registered ${name}`, 'ok');
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
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const btn = $('#register-btn');
  const req = { name: form.name.value.trim() };
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
    say(`✓ registered ${ch.name} on UDP port ${ch.port} (${clock()})`, 'ok');
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

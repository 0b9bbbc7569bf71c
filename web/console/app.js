// SpeedData console: channel table (auto-refresh), register form, de-register with
// confirmation, schema viewer, latest values from the stripchart, dark/light theme.
import { ApiError, deregisterChannel, getSchema, health, listChannels, registerChannel } from './api.js';
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
      cell(ch.status, `status status-${ch.status}`),
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
      $('#register-result').textContent = `de-registered ${name}`;
      if (selected === name) selected = null;
    } catch (e) {
      $('#register-result').textContent = `de-register failed: ${e.message}`;
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

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('#register-result');
  const req = { name: form.name.value.trim() };
  if (form.port.value) req.port = Number(form.port.value);
  if (form.querySelector('input[name=schema_mode]:checked').value === 'path') {
    req.schema_path = form.schema_path.value.trim();
  } else {
    try { req.schema = JSON.parse(form.schema.value); } catch (e) {
      out.textContent = `schema: not valid JSON (${e.message})`; out.className = 'small error'; return;
    }
  }
  req.config = { decimation: { factor: Number(form.factor.value || 1), algorithm: form.algorithm.value } };
  try {
    const ch = await registerChannel(req);
    out.textContent = `registered ${ch.name} on UDP port ${ch.port}`;
    out.className = 'small';
    form.name.value = ''; form.port.value = '';
    refresh();
  } catch (e) {
    out.textContent = e instanceof ApiError ? `${e.status}: ${e.message}` : e.message;
    out.className = 'small error';
  }
});

// ---------------------------------------------------------------- latest values
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
    tr.append(cell(k, 'muted'), cell(typeof v === 'number' ? fmtNum(v, 6) : JSON.stringify(v), 'num'));
    body.append(tr);
  }
}

const stripHost = location.hostname || 'localhost';
const stripUrl = `ws://${stripHost}:8081/ws`;
$('#stripchart-link').href = `http://${stripHost}:8081/`;
new LiveValues(stripUrl, (state) => {
  $('#ws-state').textContent = state === 'connected' ? `live from ${stripUrl}`
    : 'stripchart not running (start `speeddata stripchart` for latest values)';
}, (channels) => { latest = channels; renderValues(); });

// ---------------------------------------------------------------- start
refresh();
setInterval(() => { if ($('#auto').checked) refresh(); }, REFRESH_MS);

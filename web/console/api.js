// The orchestrator's REST API (docs/orchestrator.md). Errors throw ApiError with the
// server's JSON message, so the page can show it as is.
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The bearer token (docs/security.md): kept for this browser session under the key the
// stripchart pages read too; a token stored the earlier way (localStorage) still works.
const KEY = 'speeddata.token';
export function getToken() {
  try { return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || ''; } catch { return ''; }
}
export function setToken(t) {
  t = String(t || '').trim();
  if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);  // "forget" forgets it everywhere
}

// Called with the ApiError of every 401 answer (the page asks for the token).
let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) headers['Authorization'] = `Bearer ${token}`;
  const res = await fetch(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep text */ }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const listChannels = () => api('GET', '/channels').then((r) => r.channels);
export const getSchema = (name) => api('GET', `/channels/${encodeURIComponent(name)}/schema`);
export const registerChannel = (req) => api('POST', '/channels', req);
export const deregisterChannel = (name) => api('DELETE', `/channels/${encodeURIComponent(name)}`);
export const health = () => api('GET', '/health');
export const fleetHosts = () => api('GET', '/fleet');

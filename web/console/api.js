// The orchestrator's REST API (docs/orchestrator.md). Errors throw ApiError with the
// server's JSON message, so the page can show it as is.
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const token = () => localStorage.getItem('speeddata.token') || '';

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token()) headers['Authorization'] = `Bearer ${token()}`;
  const res = await fetch(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep text */ }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

export const listChannels = () => api('GET', '/channels').then((r) => r.channels);
export const getSchema = (name) => api('GET', `/channels/${encodeURIComponent(name)}/schema`);
export const registerChannel = (req) => api('POST', '/channels', req);
export const deregisterChannel = (name) => api('DELETE', `/channels/${encodeURIComponent(name)}`);
export const health = () => api('GET', '/health');

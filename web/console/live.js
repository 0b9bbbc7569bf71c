// Latest values from the stripchart server's WebSocket (protocol 1, docs/stripchart.md):
// its 'status' messages carry each channel's newest values. Reconnects with back-off;
// reports "stripchart not running" when it cannot connect. The token (api.js) goes in the
// query string: browsers cannot set headers on a WebSocket (docs/security.md).
import { getToken } from './api.js';

export class LiveValues {
  constructor(url, onState, onStatus) {
    this.url = url; this.onState = onState; this.onStatus = onStatus; this.delay = 1000;
    this.connect();
  }

  connect() {
    let ws;
    const t = getToken();
    const url = t ? `${this.url}${this.url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(t)}` : this.url;
    try { ws = new WebSocket(url); } catch { this.retry(); return; }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; this.delay = 1000; this.onState('connected', this.url); };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;  // binary data frames are for charts
      let msg; try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === 'status' && msg.channels) this.onStatus(msg.channels);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;  // replaced by restart()
      this.onState(opened ? 'disconnected' : 'unavailable', this.url); this.retry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // Connects again now (the token changed).
  restart() {
    const old = this.ws;
    this.ws = null;
    clearTimeout(this.timer);
    if (old) old.close();
    this.delay = 1000;
    this.connect();
  }

  retry() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }
}

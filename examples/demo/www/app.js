// The demo page: one panel per transport, all through herald.js (window.herald).
// Every payload the page publishes carries `t`, the publish time in ms; the
// panel that shows it measures latency as now - t (same browser clock).
const herald = window.herald;
const $ = (sel, el = document) => el.querySelector(sel);
const MAX_ITEMS = 200;
const pageOpened = Date.now();

document.querySelectorAll('.origin').forEach((e) => { e.textContent = location.origin; });

// ---- the side-by-side table -------------------------------------------------
const stats = {};
for (const row of document.querySelectorAll('#compare tbody tr')) stats[row.dataset.transport] = { row, n: 0, lat: [] };

function record(transport, latencyMs) {
  const s = stats[transport];
  s.n++;
  $('.n', s.row).textContent = String(s.n);
  if (latencyMs === null || !(latencyMs >= 0)) return;
  s.lat.push(latencyMs);
  if (s.lat.length > 100) s.lat.shift();
  const sorted = [...s.lat].sort((a, b) => a - b);
  $('.last', s.row).textContent = fmtMs(latencyMs);
  $('.median', s.row).textContent = fmtMs(sorted[Math.floor(sorted.length / 2)]);
}
const fmtMs = (ms) => (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms';

// Bytes per event as the server counted them: the browser sees neither
// framing nor HTTP heads, so ask /metrics.
async function refreshMetrics() {
  try {
    const text = await (await fetch('/metrics', { cache: 'no-store' })).text();
    const m = {};
    for (const line of text.split('\n')) {
      const r = /^(herald_[a-z_]+)\{transport="([a-z]+)"\} (\d+)$/.exec(line);
      if (r) (m[r[1]] ??= {})[r[2]] = Number(r[3]);
    }
    for (const [t, s] of Object.entries(stats)) {
      const bytes = m.herald_bytes_out_total?.[t], deliveries = m.herald_deliveries_total?.[t];
      // A server that counts a transport's bytes elsewhere (e.g. as plain
      // HTTP) reports 0 here: say so rather than show "0 B".
      $('.bytes', s.row).textContent = !deliveries ? '–'
        : bytes ? `${Math.round(bytes / deliveries)} B  (${bytes} B / ${deliveries})` : 'not counted by this server';
      $('.conns', s.row).textContent = String(m.herald_connections?.[t] ?? '–');
    }
  } catch { /* the server pill says it */ }
}
setInterval(refreshMetrics, 2000);
refreshMetrics();

async function refreshHealth() {
  const pill = $('#server-status');
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    pill.textContent = r.ok ? `server up · ${location.host}` : `server answered ${r.status}`;
    pill.className = r.ok ? 'pill ok' : 'pill bad';
  } catch {
    pill.textContent = 'server unreachable';
    pill.className = 'pill bad';
  }
}
setInterval(refreshHealth, 5000);
refreshHealth();

// ---- panels -----------------------------------------------------------------
function parse(data) {
  try { const v = JSON.parse(data); return v && typeof v === 'object' ? v : { text: String(data) }; } catch { return { text: data }; }
}

/// Appends one event to a panel's list, oldest first.
function show(panel, ev, parts, latencyMs) {
  const list = $('.events', panel);
  const li = document.createElement('li');
  li.dataset.id = ev.id;
  const id = document.createElement('span');
  id.className = 'id';
  id.textContent = `#${ev.id}`;
  li.append(id);
  for (const [cls, text] of parts) {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    li.append(s);
  }
  if (latencyMs !== null && latencyMs >= 0) {
    const l = document.createElement('span');
    l.className = 'lat';
    l.textContent = fmtMs(latencyMs);
    li.append(l);
  }
  list.append(li);
  while (list.children.length > MAX_ITEMS) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function showReset(panel, info) {
  const li = document.createElement('li');
  li.className = 'reset';
  li.textContent = `history reset: continuing after #${info.next} (events before it may be missing)`;
  $('.events', panel).append(li);
}

function setState(panel, s) {
  const el = $('.state', panel);
  const labels = {
    connecting: `connecting (${s.transport})`,
    open: `live · ${s.transport}`,
    waiting: `reconnecting in ${(s.delay / 1000).toFixed(1)} s`,
    error: `refused: ${s.reason}`,
    closed: 'closed',
  };
  el.textContent = labels[s.state] ?? s.state;
  el.className = `state ${s.state}`;
}

function unavailable(panel, why) {
  panel.classList.add('unavailable');
  $('.state', panel).textContent = 'not available';
  $('.state', panel).className = 'state error';
  $('.unavailable-note', panel).textContent = `Not available on this server: ${why}`;
  for (const el of panel.querySelectorAll('input, button, select')) el.disabled = true;
}

/// Probes an endpoint: the HTTP status, or 0 when the request failed.
async function probe(path, init = {}) {
  try { return (await fetch(path, { cache: 'no-store', ...init })).status; } catch { return 0; }
}

/// Subscribes a panel to a topic on one transport, unless the server does not serve it.
async function wire(panel, { topic, transport, probePath, probeInit, render, options = {} }) {
  const status = await probe(probePath, probeInit);
  if (status === 404 || status === 0) {
    unavailable(panel, `${probeInit?.method ?? 'GET'} ${probePath.split('?')[0]} answered ${status || 'nothing'}`);
    return null;
  }
  const statKey = panel.dataset.transport;
  return herald.subscribe('', topic, {
    transports: [transport],
    ...options,
    onevent(ev) {
      const v = parse(ev.data);
      // Events published before the page opened come from history: their
      // age is not a latency.
      const latency = typeof v.t === 'number' && v.t >= pageOpened ? Date.now() - v.t : null;
      record(statKey, latency);
      render(ev, v, latency);
    },
    onreset(info) { showReset(panel, info); },
    onstatus(s) { setState(panel, s); },
  });
}

function post(topic, value) {
  return herald.publish('', topic, JSON.stringify({ ...value, t: Date.now() }));
}

// Chat: WebSocket both ways; a message goes up the same connection it comes down.
{
  const panel = $('#panel-chat');
  const form = $('form', panel);
  form.name.value = localStorage.getItem('herald-demo-name') || `guest-${Math.floor(100 + Math.random() * 900)}`;
  const sub = await wire(panel, {
    topic: 'chat', transport: 'websocket', probePath: '/ws/topic/chat',
    render: (ev, v, lat) => show(panel, ev, [['who', v.from ?? '?'], ['text', v.text ?? '']], lat),
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = form.text.value.trim();
    if (!sub || !text) return;
    localStorage.setItem('herald-demo-name', form.name.value);
    sub.publish(JSON.stringify({ from: form.name.value, text, t: Date.now() }));
    form.text.value = '';
  });
}

// Notifications: SSE down, a plain POST up.
{
  const panel = $('#panel-notifications');
  const form = $('form', panel);
  const icons = { like: '♥', comment: '✎', mention: '@' };
  await wire(panel, {
    topic: 'notifications', transport: 'sse', probePath: '/sse/notifications', probeInit: { method: 'HEAD' },
    render: (ev, v, lat) => show(panel, ev, [['icon', icons[v.kind] ?? '•'], ['text', v.text ?? '']], lat),
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    post('notifications', { kind: form.kind.value, text: form.text.value }).catch((err) => alert(err.message));
  });
}

// Incoming webhooks: the log is SSE on topic `webhooks`; the form signs a
// delivery with the Standard Webhooks scheme (HMAC-SHA256 of "id.timestamp.body")
// using WebCrypto, exactly as a provider would.
{
  const panel = $('#panel-webhooks');
  const form = $('#hook-form');
  const note = $('.hook-note', panel);
  await wire(panel, {
    topic: 'webhooks', transport: 'sse', probePath: '/sse/webhooks', probeInit: { method: 'HEAD' },
    render: (ev, v, lat) => {
      const d = v.data ?? {};
      const text = d.order ? `order ${d.order} · ${(d.amount / 100).toFixed(2)} ${d.currency ?? ''}` : JSON.stringify(d);
      show(panel, ev, [['who', v.type ?? 'webhook'], ['text', text]], lat);
    },
  });
  const hooks = await probe('/hooks/in', { method: 'POST', body: '' });
  if (hooks === 404) {
    note.textContent = 'POST /hooks/in is off: start herald-demo with --webhook-secret whsec_… to receive webhooks.';
    for (const el of form.elements) el.disabled = true;
  }
  let order = 1041;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      order++;
      const body = JSON.stringify({ type: 'payment.succeeded', data: { order: `A-${order}`, amount: 4999, currency: 'EUR' }, t: Date.now() });
      const r = await sendSignedWebhook(form.secret.value.trim(), body);
      note.textContent = `POST /hooks/in → ${r.status}`;
    } catch (err) {
      note.textContent = `could not sign: ${err.message}`;
    }
  });
}

async function sendSignedWebhook(secret, body) {
  const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const id = `msg_${crypto.randomUUID()}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${ts}.${body}`));
  const sig = btoa(String.fromCharCode(...new Uint8Array(mac)));
  return fetch('/hooks/in', {
    method: 'POST', body,
    headers: { 'Content-Type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` },
  });
}

// Metrics dashboard: short polling with ETag; the sensor publishes readings.
{
  const panel = $('#panel-metrics');
  const spark = [];
  let p200 = 0, p304 = 0;
  await wire(panel, {
    topic: 'metrics', transport: 'poll', probePath: '/poll/metrics?after=0&limit=1',
    options: {
      pollIntervalMs: 1500,
      onpoll(r) {
        if (r.status === 304) p304++; else p200++;
        $('.p200', panel).textContent = String(p200);
        $('.p304', panel).textContent = String(p304);
      },
    },
    render: (ev, v, lat) => {
      if (typeof v.cpu === 'number') {
        $('#g-cpu').textContent = `${v.cpu.toFixed(0)} %`;
        $('#g-mem').textContent = `${(v.mem ?? 0).toFixed(0)} MiB`;
        $('#g-rps').textContent = `${(v.rps ?? 0).toFixed(0)}`;
        spark.push(v.cpu);
        if (spark.length > 60) spark.shift();
        const step = 300 / 59;
        $('#spark polyline').setAttribute('points', spark.map((c, i) => `${(i * step).toFixed(1)},${(58 - c * 0.56).toFixed(1)}`).join(' '));
      }
      show(panel, ev, [['text', typeof v.cpu === 'number' ? `cpu ${v.cpu.toFixed(0)} % · mem ${(v.mem ?? 0).toFixed(0)} MiB` : (v.text ?? '')]], lat);
    },
  });
  let timer = null, cpu = 35, mem = 512;
  const reading = () => {
    cpu = Math.min(100, Math.max(0, cpu + (Math.random() - 0.5) * 20));
    mem = Math.max(64, mem + (Math.random() - 0.5) * 40);
    return post('metrics', { cpu, mem, rps: 800 + Math.random() * 400 });
  };
  const toggle = $('#sensor-toggle');
  toggle.addEventListener('click', () => {
    if (timer) { clearInterval(timer); timer = null; toggle.textContent = 'Start sensor'; return; }
    timer = setInterval(reading, 1000);
    reading();
    toggle.textContent = 'Stop sensor';
  });
  $('form', panel).addEventListener('submit', (e) => { e.preventDefault(); reading(); });
}

// Feed: long polling, the fallback that works through anything that passes HTTP.
{
  const panel = $('#panel-feed');
  const form = $('form', panel);
  await wire(panel, {
    topic: 'feed', transport: 'longpoll', probePath: '/longpoll/feed?after=0&timeout_ms=1',
    render: (ev, v, lat) => show(panel, ev, [['text', v.text ?? '']], lat),
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    post('feed', { text: form.text.value }).catch((err) => alert(err.message));
  });
}

document.body.dataset.ready = 'true';

// Headless Chromium against herald-demo with --auth-secret and --ws-origin:
// EventSource with ?access_token= and the WebSocket constructor with the
// token in the query (browsers cannot set headers on either) both receive
// events; without a token both are refused; a page on another origin
// (http://localhost:PORT instead of http://127.0.0.1:PORT) cannot open the
// WebSocket (Origin allowlist: 403) nor read the SSE stream (no CORS grant).
//   node tests/browser/auth.test.mjs path/to/herald-demo
import crypto from 'node:crypto';
import net from 'node:net';

import { launchBrowser, publish, run, screenshot, startDemo, withTimeout } from './lib.mjs';

const SECRET = crypto.randomBytes(32).toString('base64');
const b64 = (s) => Buffer.from(s).toString('base64url');
function token(perms, ttl = 300) {
  const signing = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.` +
    b64(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + ttl, herald: perms }));
  return `${signing}.${crypto.createHmac('sha256', SECRET).update(signing).digest('base64url')}`;
}

/// A port the OS says is free now (the demo needs it up front for --ws-origin).
async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// Runs in the page: opens an EventSource and a WebSocket on `base`, publishes
// nothing itself, and reports within `ms` what each saw.
function pageProbe({ base, tok, topic, ms }) {
  const q = tok ? `?access_token=${encodeURIComponent(tok)}` : '';
  const sse = new Promise((resolve) => {
    const es = new EventSource(`${base}/sse/${topic}${q}`);
    const seen = { open: false, data: [], error: false };
    es.onopen = () => { seen.open = true; window.__ready = (window.__ready ?? 0) + 1; };
    es.onmessage = (e) => { seen.data.push(e.data); if (seen.data.length === 1) { es.close(); resolve(seen); } };
    // A 401 is not retried: EventSource fails for good (readyState CLOSED).
    es.onerror = () => { seen.error = true; if (es.readyState === EventSource.CLOSED) resolve(seen); };
    setTimeout(() => { es.close(); resolve(seen); }, ms);
  });
  const ws = new Promise((resolve) => {
    const s = new WebSocket(`${base.replace('http', 'ws')}/ws/topic/${topic}${q}`);
    const seen = { open: false, data: [], error: false, code: 0 };
    s.onopen = () => { seen.open = true; window.__ready = (window.__ready ?? 0) + 1; };
    s.onmessage = (e) => { seen.data.push(e.data); if (seen.data.length === 1) { s.close(); resolve(seen); } };
    s.onerror = () => { seen.error = true; };
    s.onclose = (e) => { seen.code = e.code; resolve(seen); };
    setTimeout(() => resolve(seen), ms);
  });
  return Promise.all([sse, ws]).then(([s, w]) => {
    const pre = document.createElement('pre');
    pre.textContent = `${base} token=${!!tok}\nSSE ${JSON.stringify(s)}\nWebSocket ${JSON.stringify(w)}`;
    document.body.appendChild(pre);
    return { sse: s, ws: w };
  });
}

/// Publishes on `topic` until the probe has had its answer (bounded): the
/// streams open at their own pace, and an event before that would be missed.
async function publishWhile(url, topic, probe) {
  let done = false;
  probe.finally(() => { done = true; });
  const end = Date.now() + 15000;
  const tok = token({ publish: [topic] });
  while (!done && Date.now() < end) {
    await publish(url, topic, 'hello browser', { headers: { Authorization: `Bearer ${tok}` } });
    await Promise.race([probe, new Promise((r) => setTimeout(r, 100))]);  // the publish interval
  }
  return probe;
}

await run('auth in Chromium', async (t) => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const demo = t.defer(await startDemo(process.argv[2], ['--port', String(port), '--auth-secret', SECRET,
    '--ws-origin', origin]));
  const browser = t.defer(await launchBrowser());
  const tok = token({ subscribe: ['room.*'] });

  // Same origin, with the token: both transports receive the event.
  const page = await browser.newPage();
  await withTimeout(page.goto(`${origin}/healthz`), 15000, 'open /healthz');
  const ok = await withTimeout(publishWhile(demo.url, 'room.1',
    page.evaluate(pageProbe, { base: origin, tok, topic: 'room.1', ms: 10000 })), 20000, 'probe with a token');
  t.check('EventSource with ?access_token= receives', ok.sse.open && ok.sse.data[0] === 'hello browser', JSON.stringify(ok.sse));
  t.check('WebSocket with ?access_token= receives', ok.ws.open && ok.ws.data[0] === 'hello browser', JSON.stringify(ok.ws));

  // Same origin, no token: both refused.
  const none = await withTimeout(page.evaluate(pageProbe, { base: origin, tok: '', topic: 'room.1', ms: 5000 }),
    10000, 'probe without a token');
  t.check('EventSource without a token fails (401)', !none.sse.open && none.sse.error, JSON.stringify(none.sse));
  t.check('WebSocket without a token fails (401)', !none.ws.open && none.ws.code === 1006, JSON.stringify(none.ws));
  await screenshot(page, 'auth-same-origin');

  // Another origin (localhost vs 127.0.0.1), valid token: refused.
  const foreign = await browser.newPage();
  await withTimeout(foreign.goto(`http://localhost:${port}/healthz`), 15000, 'open localhost /healthz');
  const before = await (await fetch(`${demo.url}/metrics`)).text();
  const refusedBefore = Number(/herald_bad_requests_total (\d+)/.exec(before)?.[1] ?? 0);
  const cross = await withTimeout(publishWhile(demo.url, 'room.2',
    foreign.evaluate(pageProbe, { base: origin, tok, topic: 'room.2', ms: 5000 })), 20000, 'probe from another origin');
  t.check('WebSocket from a foreign origin is refused', !cross.ws.open && cross.ws.code === 1006, JSON.stringify(cross.ws));
  t.check('SSE from a foreign origin is unreadable (no CORS grant)', cross.sse.data.length === 0 && cross.sse.error,
    JSON.stringify(cross.sse));
  const after = await (await fetch(`${demo.url}/metrics`)).text();
  const refusedAfter = Number(/herald_bad_requests_total (\d+)/.exec(after)?.[1] ?? 0);
  t.check('the server refused the handshake itself (403, counted)', refusedAfter > refusedBefore,
    `${refusedBefore} -> ${refusedAfter}`);
  await screenshot(foreign, 'auth-foreign-origin');
});
